"""Where does an epoch's time go? Variants of the compiled epoch, timed side by side.

Each variant changes one thing about nnjax's unlogged epoch ([784, 30, 10], sigmoid, quadratic,
SGD η = 3, mini-batch 10, the 50,000 training images); rounds interleave the variants so a busy
spell hits them alike. Reports the median wall and CPU seconds per epoch and the ratio to nnjax's
own epoch. The findings are recorded in docs/performance.md.

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/bench_step_variants.py [--repeats 5]
    XLA_FLAGS=... python scripts/bench_step_variants.py      # the same under XLA CPU options
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nnjax import load_mnist, network
from nnjax.train import make_step, make_train_epoch, minibatches

ETA, BATCH = 3.0, 10


def scan_epoch(*, uint8: bool = False, unroll: int = 1, check: str = "none"):
    """A plain scan of ``make_step``: the floor the library's epoch is measured against."""
    tx = optax.sgd(ETA)
    step = make_step(optimizer=tx)

    @jax.jit
    def epoch(params, opt_state, images, labels, key):
        batches = minibatches(images.shape[0], BATCH, key=key)

        def body(carry, idx):
            params, opt_state, ok = carry
            x = images[idx]
            x = x.astype(jnp.float32) / 255.0 if uint8 else x
            y = jax.nn.one_hot(labels[idx], 10, dtype=jnp.float32)
            r = step(params, opt_state, x, y)
            if check == "loss":
                ok = ok & jnp.isfinite(r.loss)
            return (r.params, r.opt_state, ok), r.loss

        (params, opt_state, ok), losses = jax.lax.scan(body, (params, opt_state, jnp.bool_(True)),
                                                       batches, unroll=unroll)
        return params, opt_state, losses.mean(), ok

    return epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    train = load_mnist(source="idx")[0]
    images = jax.device_put(train.images)
    images_u8 = jax.device_put(np.round(train.images * 255).astype(np.uint8))
    labels = jax.device_put(train.labels)
    params = network.init_params([784, 30, 10], key=jax.random.key(0))
    tx = optax.sgd(ETA)
    state = tx.init(params)
    nnjax_epoch = make_train_epoch(optimizer=tx, mini_batch_size=BATCH)
    no_freeze = make_train_epoch(optimizer=tx, mini_batch_size=BATCH, stop_on_nonfinite=False)
    variants = {
        "nnjax epoch (finiteness watch + freeze)": lambda k: nnjax_epoch(params, state, images, labels, k),
        "nnjax epoch, stop_on_nonfinite=False": lambda k: no_freeze(params, state, images, labels, k),
        "plain scan of make_step": (lambda f: lambda k: f(params, state, images, labels, k))(scan_epoch()),
        "plain scan, isfinite(loss) only": (lambda f: lambda k: f(params, state, images, labels, k))(
            scan_epoch(check="loss")),
        "plain scan, uint8 images": (lambda f: lambda k: f(params, state, images_u8, labels, k))(
            scan_epoch(uint8=True)),
        "plain scan, unroll=2": (lambda f: lambda k: f(params, state, images, labels, k))(
            scan_epoch(unroll=2)),
    }
    for fn in variants.values():
        jax.block_until_ready(fn(jax.random.key(0)))  # compile
    wall = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    for r in range(args.repeats):
        for name, fn in variants.items():
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(jax.random.key(r + 1)))
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    base = statistics.median(wall["nnjax epoch (finiteness watch + freeze)"])
    print(f"{jax.default_backend()}, {len(train)} images, median of {args.repeats} epochs")
    print(f"{'variant':45s} {'wall s':>7s} {'cpu s':>7s} {'÷ nnjax':>8s}")
    for name in variants:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:45s} {w:7.3f} {c:7.3f} {w / base:8.2f}")


if __name__ == "__main__":
    main()
