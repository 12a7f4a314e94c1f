"""Benchmark: the epoch time of N configurations trained together (one vmapped program) against
N sequential runs and against one run, measured in one invocation (on two shared cores every
absolute figure moves ±20 % with what else runs; the ratios are what to compare).

[784, 30, 10], sigmoid, quadratic cost, SGD, mini-batch 10, the 50,000 training images; N learning
rates. Times are medians over --repeats epochs after a compile/warm-up epoch, device finished.

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/bench_sweep.py [--runs 8] [--repeats 3]
"""

import argparse
import statistics
import time

import jax
import numpy as np

from nnjax import TrainConfig, load_mnist
from nnjax.sweep import grid, init_group, make_sweep_epoch
from nnjax.train import make_train_epoch, sgd


def timed(fn, repeats):
    fn()  # compile and warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=50_000)
    args = parser.parse_args()

    training = load_mnist(source="idx")[0][: args.train_size]
    images, labels = jax.device_put(training.images), jax.device_put(training.labels)
    rates = list(np.geomspace(0.1, 10.0, args.runs).round(3))
    configs = grid(TrainConfig(), learning_rate=rates)
    key = jax.random.key(1)

    # one run: the single-run compiled epoch that fit uses (no logger), one compile per rate
    single = []
    for config in configs:
        epoch = make_train_epoch(optimizer=sgd(config.learning_rate), mini_batch_size=10)
        params, _, _, _ = init_group([config], len(training))
        p0 = jax.tree_util.tree_map(lambda a: a[0], params)
        s0 = sgd(config.learning_rate).init(p0)
        single.append(timed(lambda: epoch(p0, s0, images, labels, key, 0), args.repeats))
    one, sequential = statistics.median(single), sum(single)

    params, state, keys, n_l2 = init_group(configs, len(training))
    active = jax.numpy.ones(len(configs), bool)
    results = {}
    for name, log_every in (("vmapped, logging every 100 steps", 100), ("vmapped, no logging", None)):
        fn = make_sweep_epoch(configs[0], with_l2=False, log_every=log_every)
        results[name] = timed(lambda: fn(params, state, keys, n_l2, active, images, labels, 0),
                              args.repeats)

    print(f"{args.runs} learning rates, {len(training)} images, mini-batch 10, "
          f"{jax.device_count()} {jax.default_backend()} device(s); median of {args.repeats} epochs")
    print(f"one run:                     {one:6.2f} s/epoch")
    print(f"{args.runs} sequential runs:           {sequential:6.2f} s/epoch (sum)")
    for name, t in results.items():
        print(f"{args.runs} {name + ':':34s}{t:6.2f} s/epoch = {t / sequential:.2f} × sequential, "
              f"{t / one:.2f} × one run")


if __name__ == "__main__":
    main()
