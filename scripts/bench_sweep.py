"""Benchmark: the epoch time of N configurations trained together (one vmapped program) against
N sequential runs and against one run, measured in one invocation (on two shared cores every
absolute figure moves ±20 % with what else runs; the ratios are what to compare).

[784, 30, 10], sigmoid, quadratic cost, SGD, mini-batch 10, the 50,000 training images; N learning
rates. Times are medians over --repeats epochs after a compile/warm-up epoch, device finished.

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/bench_sweep.py [--runs 8] [--repeats 3]
"""

import argparse
from functools import partial
import statistics
import time

import jax
import numpy as np

from nnjax import TrainConfig, load_mnist
from nnjax.sweep import grid, init_group, make_sweep_epoch
from nnjax.train import make_train_epoch, sgd


def timed(fns: dict, repeats: int) -> dict:
    """Median seconds per call of each function, after one warm-up (compile) call each; rounds
    interleave the functions so that a busy spell hits them alike."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=50_000)
    parser.add_argument("--skip-sequential", action="store_true",
                        help="time one single run only (for large --runs, e.g. 256 on a GPU)")
    args = parser.parse_args()

    training = load_mnist(source="idx")[0][: args.train_size]
    images, labels = jax.device_put(training.images), jax.device_put(training.labels)
    rates = list(np.geomspace(0.1, 10.0, args.runs).round(3))
    configs = grid(TrainConfig(), learning_rate=rates)
    key = jax.random.key(1)

    # one run: the single-run compiled epoch that fit uses (no logger), one compile per rate
    fns = {}
    for i, config in enumerate(configs[:1] if args.skip_sequential else configs):
        epoch = make_train_epoch(optimizer=sgd(config.learning_rate), mini_batch_size=10)
        params, _, _, _ = init_group([config], len(training))
        p0 = jax.tree_util.tree_map(lambda a: a[0], params)
        fns[f"single {i}"] = partial(epoch, p0, sgd(config.learning_rate).init(p0), images, labels, key, 0)
    params, state, keys, n_l2 = init_group(configs, len(training))
    active = jax.numpy.ones(len(configs), bool)
    variants = {"vmapped, logging every 100 steps": dict(log_every=100),
                "vmapped, no logging": dict(log_every=None),
                "vmapped, shared mini-batches, logging": dict(log_every=100, shared_batches=True)}
    for name, options in variants.items():
        fn = make_sweep_epoch(configs[0], with_l2=False, **options)
        fns[name] = partial(fn, params, state, keys, n_l2, active, images, labels, 0)
    results = timed(fns, args.repeats)
    single = [results.pop(name) for name in list(results) if name.startswith("single ")]
    one = statistics.median(single)
    sequential = one * len(configs) if args.skip_sequential else sum(single)

    print(f"{args.runs} learning rates, {len(training)} images, mini-batch 10, "
          f"{jax.device_count()} {jax.default_backend()} device(s); median of {args.repeats} epochs")
    print(f"one run:{'':35s}{one:6.2f} s/epoch")
    estimated = " (estimated: runs × one run)" if args.skip_sequential else " (sum)"
    print(f"{args.runs} sequential runs:{'':25s}{sequential:6.2f} s/epoch{estimated}")
    for name, t in results.items():
        throughput = args.runs * len(training) / t
        print(f"{args.runs} {name + ':':40s}{t:6.2f} s/epoch = {t / sequential:.2f} × sequential, "
              f"{t / one:.2f} × one run, {throughput:,.0f} examples/s")


if __name__ == "__main__":
    main()
