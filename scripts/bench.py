"""Benchmark: nnjax against the book's NumPy algorithm, in one invocation.

[784, 30, 10], sigmoid, quadratic cost, mini-batch 10, η = 3.0 on the real MNIST training set.
Variants:
  A  the book's algorithm in NumPy, per-example backprop (float64, as network.py)
  B  the same with whole mini-batches as matrices (float32)
  nnjax unlogged; nnjax with the learning-mode log (default interval 100, and each epoch's weight
  snapshot); the same plus the per-epoch diagnostics (probe statistics and histograms on 1,000
  images) — both as ``fit`` builds them (``nnjax.runner.epoch_logging``: measured inside the
  compiled epoch, written by its host callback, timed as part of the epoch); 8 configurations
  (learning rates) vmapped in one program, as ``nnjax sweep`` trains them.
Per variant: median and range of the measured epochs after a warm-up epoch (training only, device
finished), compile time, evaluation time for the test images, peak-memory growth; then ratios to A
and B and logged/unlogged, also from interleaved pairs of epochs (both see the same machine load).
Last, the main job end to end (``scripts/example_with_logging.py --no-report`` in a fresh process:
import, data, compile, every epoch with logging and evaluation) with its wall time and peak memory.
Writes JSON and a Markdown table. Timings are only comparable within one invocation on one machine.

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/bench.py [--epochs 5] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import optax

from nnjax import TrainConfig, TrainingLogger, load_mnist, network
from nnjax.compilation_cache import MIN_COMPILE_SECONDS
from nnjax.diagnostics import RunDiagnostics
from nnjax.runner import epoch_logging
from nnjax.sweep import grid, init_group, make_sweep_epoch
from nnjax.train import make_evaluate, make_train_epoch

SIZES = [784, 30, 10]
LOG_EVERY = TrainConfig().log_interval  # the learning-mode default
ETA, BATCH = 3.0, 10
REPO = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- baselines: the book's equations in NumPy ---------------------------------------------------
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_per_example_epoch(weights, biases, images, labels, rng):
    """Baseline A: network.py's SGD — per-example backprop (BP1–BP4), float64 column vectors."""
    order = rng.permutation(len(labels))
    eye = np.eye(10)
    for start in range(0, len(order) - BATCH + 1, BATCH):
        nabla_w = [np.zeros_like(w) for w in weights]
        nabla_b = [np.zeros_like(b) for b in biases]
        for i in order[start:start + BATCH]:
            activation = images[i].reshape(-1, 1)
            activations, zs = [activation], []
            for w, b in zip(weights, biases):
                z = w @ activation + b
                zs.append(z)
                activation = _sigmoid(z)
                activations.append(activation)
            sp = _sigmoid(zs[-1]) * (1 - _sigmoid(zs[-1]))
            delta = (activations[-1] - eye[labels[i]].reshape(-1, 1)) * sp
            nabla_b[-1] += delta
            nabla_w[-1] += delta @ activations[-2].T
            for layer in range(2, len(weights) + 1):
                sp = _sigmoid(zs[-layer]) * (1 - _sigmoid(zs[-layer]))
                delta = (weights[-layer + 1].T @ delta) * sp
                nabla_b[-layer] += delta
                nabla_w[-layer] += delta @ activations[-layer - 1].T
        weights = [w - (ETA / BATCH) * nw for w, nw in zip(weights, nabla_w)]
        biases = [b - (ETA / BATCH) * nb for b, nb in zip(biases, nabla_b)]
    return weights, biases


def numpy_matrix_epoch(weights, biases, images, labels, rng):
    """Baseline B: the same SGD with each mini-batch as a (batch, features) matrix, float32."""
    order = rng.permutation(len(labels))
    eye = np.eye(10, dtype=np.float32)
    for start in range(0, len(order) - BATCH + 1, BATCH):
        idx = order[start:start + BATCH]
        x, y = images[idx], eye[labels[idx]]
        acts, zs = [x], []
        for w, b in zip(weights, biases):
            zs.append(acts[-1] @ w.T + b)
            acts.append(_sigmoid(zs[-1]))
        delta = (acts[-1] - y) * acts[-1] * (1 - acts[-1])
        grads_w, grads_b = [None] * len(weights), [None] * len(weights)
        for layer in range(len(weights) - 1, -1, -1):
            grads_w[layer] = delta.T @ acts[layer] / BATCH
            grads_b[layer] = delta.mean(axis=0)
            if layer:
                delta = (delta @ weights[layer]) * acts[layer] * (1 - acts[layer])
        weights = [w - ETA * g for w, g in zip(weights, grads_w)]
        biases = [b - ETA * g for b, g in zip(biases, grads_b)]
    return weights, biases


def numpy_evaluate(weights, biases, images, labels):
    a = images
    for w, b in zip(weights, biases):
        a = _sigmoid(a @ w.T + b)
    return int((a.argmax(axis=1) == labels).sum())


# -- measuring -----------------------------------------------------------------------------------
def summarise(name: str, times: list[float], *, compile_s: float | None, eval_s: float | None,
              rss_before: float, epochs_scale: float = 1.0) -> dict:
    times = [t * epochs_scale for t in times]
    return {"variant": name, "median_s": statistics.median(times), "min_s": min(times),
            "max_s": max(times), "epochs_measured": len(times), "compile_s": compile_s,
            "eval_s": eval_s, "peak_rss_growth_mb": peak_rss_mb() - rss_before}


def bench_numpy(name, epoch_fn, train, test, epochs, dtype, subset=None):
    rss = peak_rss_mb()
    rng = np.random.default_rng(0)
    params = network.init_params(SIZES, key=jax.random.key(0))
    column = dtype == np.float64
    weights = [np.asarray(p.w, dtype) for p in params]
    biases = [np.asarray(p.b, dtype).reshape(-1, 1) if column else np.asarray(p.b, dtype) for p in params]
    images = train.images.astype(dtype)
    labels = train.labels
    scale = 1.0
    if subset:  # per-example NumPy is slow: time a subset, scale to the full epoch
        scale = len(labels) / subset
        images, labels = images[:subset], labels[:subset]
    epoch_fn(weights, biases, images, labels, rng)  # warm-up
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        weights, biases = epoch_fn(weights, biases, images, labels, rng)
        times.append(time.perf_counter() - t0)
    flat_b = [b.reshape(-1) for b in biases]
    t0 = time.perf_counter()
    numpy_evaluate([w.astype(np.float32) for w in weights], [b.astype(np.float32) for b in flat_b],
                   test.images, test.labels)
    eval_s = time.perf_counter() - t0
    out = summarise(name, times, compile_s=None, eval_s=eval_s, rss_before=rss, epochs_scale=scale)
    out["timed_on_examples"] = len(labels)
    return out


def bench_nnjax(name, train, test, epochs, *, logged: bool, diagnostics: bool = False):
    rss = peak_rss_mb()
    tmp = tempfile.TemporaryDirectory()
    logger = TrainingLogger(tmp.name) if logged else None
    tx = optax.sgd(ETA)
    params = network.init_params(SIZES, key=jax.random.key(0))
    diag = RunDiagnostics(TrainConfig(), params, train) if diagnostics else None
    epoch_fn = make_train_epoch(optimizer=tx, mini_batch_size=BATCH,
                                **(epoch_logging(logger, LOG_EVERY, BATCH, diag) if logged else {}))
    probe = diag.inputs if diag else None
    evaluate = make_evaluate()
    state = tx.init(params)
    images, labels = jax.device_put(train.images), jax.device_put(train.labels)
    test_images, test_labels = jax.device_put(test.images), jax.device_put(test.labels)
    key = jax.random.key(1)
    t0 = time.perf_counter()
    compiled = epoch_fn.lower(params, state, images, labels, key, 0, probe).compile()
    compile_s = time.perf_counter() - t0
    del compiled
    jax.block_until_ready(epoch_fn(params, state, images, labels, key, 0, probe))  # warm-up
    times = []
    for epoch in range(epochs):
        key, k = jax.random.split(key)
        t0 = time.perf_counter()
        result = jax.block_until_ready(epoch_fn(params, state, images, labels, k, epoch, probe))
        if logged:
            jax.effects_barrier()
        times.append(time.perf_counter() - t0)
        params, state = result.params, result.opt_state
    jax.block_until_ready(evaluate(params, test_images, test_labels))
    eval_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        jax.block_until_ready(evaluate(params, test_images, test_labels))
        eval_times.append(time.perf_counter() - t0)
    out = summarise(name, times, compile_s=compile_s, eval_s=statistics.median(eval_times),
                    rss_before=rss)
    if logger:
        logger.close()
    tmp.cleanup()
    return out


def interleaved_ratios(train, rounds: int) -> dict:
    """Logged and logged + diagnostics against unlogged, one epoch of each in turn (``rounds``
    rounds after a warm-up, the order rotating), so that all see the same machine load; per
    logged variant the median of its per-round ratios to the unlogged epoch."""
    tmp = tempfile.TemporaryDirectory()
    logger = TrainingLogger(tmp.name)
    tx = optax.sgd(ETA)
    params = network.init_params(SIZES, key=jax.random.key(0))
    diag = RunDiagnostics(TrainConfig(), params, train)
    kinds = ("unlogged", "logged", "logged + diagnostics")
    epochs = {"unlogged": (make_train_epoch(optimizer=tx, mini_batch_size=BATCH), None),
              "logged": (make_train_epoch(optimizer=tx, mini_batch_size=BATCH,
                                          **epoch_logging(logger, LOG_EVERY, BATCH)), None),
              "logged + diagnostics": (make_train_epoch(optimizer=tx, mini_batch_size=BATCH,
                                                        **epoch_logging(logger, LOG_EVERY, BATCH, diag)),
                                       diag.inputs)}
    images, labels = jax.device_put(train.images), jax.device_put(train.labels)
    state = {kind: (params, tx.init(params)) for kind in kinds}
    key = jax.random.key(1)

    def run(kind, epoch):
        (p, s), (epoch_fn, probe) = state[kind], epochs[kind]
        t0 = time.perf_counter()
        result = jax.block_until_ready(epoch_fn(p, s, images, labels, key, epoch, probe))
        if kind != "unlogged":
            jax.effects_barrier()
        state[kind] = (result.params, result.opt_state)
        return time.perf_counter() - t0

    for kind in kinds:  # compile and warm up
        run(kind, 0)
    rounds_s = []
    for epoch in range(1, rounds + 1):
        order = kinds[epoch % 3:] + kinds[:epoch % 3]
        rounds_s.append({kind: run(kind, epoch) for kind in order})
    logger.close()
    tmp.cleanup()
    out = {"rounds": rounds, "rounds_s": rounds_s}
    for kind in kinds[1:]:
        ratios = [r[kind] / r["unlogged"] for r in rounds_s]
        out[kind] = {"median_ratio": statistics.median(ratios), "min_ratio": min(ratios),
                     "max_ratio": max(ratios)}
    return out


def bench_vmapped(train, epochs: int, runs: int = 8) -> dict:
    """``runs`` learning rates trained together: the compiled epoch of ``nnjax.sweep`` (one
    ``vmap``-ped program, gradient statistics every 100 steps as scan outputs)."""
    rss = peak_rss_mb()
    configs = grid(TrainConfig(), learning_rate=list(np.geomspace(0.3, 10.0, runs)))
    params, state, keys, n_l2 = init_group(configs, len(train))
    active = jax.numpy.ones(runs, bool)
    epoch_fn = make_sweep_epoch(configs[0], with_l2=False, log_every=100)
    images, labels = jax.device_put(train.images), jax.device_put(train.labels)
    t0 = time.perf_counter()
    epoch_fn.lower(params, state, keys, n_l2, active, images, labels, 0).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(epoch_fn(params, state, keys, n_l2, active, images, labels, 0))
    times = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        out = jax.block_until_ready(epoch_fn(params, state, keys, n_l2, active, images, labels, epoch))
        times.append(time.perf_counter() - t0)
        params, state = out["params"], out["opt_state"]
    result = summarise(f"nnjax {runs} configurations vmapped (all {runs})", times,
                       compile_s=compile_s, eval_s=None, rss_before=rss)
    result["runs"] = runs
    return result


def main_job(epochs: int) -> dict:
    """The main job end to end in a fresh process: import, data, compile, ``epochs`` logged
    epochs with evaluation and diagnostics (the report's figures left out). Run twice with a new
    compilation cache: first as on a fresh machine, then as every later run (the programs without
    a host callback loaded from the cache, see :mod:`nnjax.compilation_cache`)."""
    runs = {}
    with tempfile.TemporaryDirectory() as logs, tempfile.TemporaryDirectory() as jax_cache:
        env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": jax_cache,
               "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(MIN_COMPILE_SECONDS)}
        command = [sys.executable, str(REPO / "scripts" / "example_with_logging.py"),
                   "--epochs", str(epochs), "--log-dir", logs, "--no-report"]
        for run in ("first", "cached"):
            t0 = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            wall = time.perf_counter() - t0
            lines = [line for line in done.stdout.splitlines() if ":" in line]
            runs[run] = {"wall_s": wall, "summary": {k.strip(): v.strip() for k, v in
                                                     (line.split(":", 1) for line in lines[:3])}}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0  # the largest child
    return {"epochs": epochs, "peak_rss_mb": peak, **runs}


def table(results: list[dict], ratios: dict, job: dict) -> str:
    lines = ["| variant | median s/epoch | range | compile s | eval s | peak RSS growth MB |",
             "|---|---|---|---|---|---|"]
    for r in results:
        comp = f"{r['compile_s']:.2f}" if r["compile_s"] is not None else "–"
        ev = f"{r['eval_s'] * 1000:.1f} ms" if r["eval_s"] is not None else "–"
        lines.append(f"| {r['variant']} | {r['median_s']:.3f} | {r['min_s']:.3f}–{r['max_s']:.3f} "
                     f"| {comp} | {ev} | {r['peak_rss_growth_mb']:.0f} |")
    lines.append("")
    lines += [f"- {k}: {v:.2f}×" for k, v in ratios.items()]
    lines.append(f"- main job end to end ({job['epochs']} epochs, fresh process): "
                 f"{job['first']['wall_s']:.1f} s the first time, {job['cached']['wall_s']:.1f} s "
                 f"with the compilation cache; peak memory {job['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="measured epochs per variant (≥5)")
    parser.add_argument("--tiny", action="store_true",
                        help="CI mode: 2,000 images, 2 epochs, a one-epoch main job")
    parser.add_argument("--out", default="reports/bench", help="folder for bench.json and bench.md")
    parser.add_argument("--interleaved", type=int, default=None, metavar="N",
                        help="rounds of interleaved epochs (unlogged, logged, logged + "
                             "diagnostics); default: --epochs")
    parser.add_argument("--main-job-epochs", type=int, default=30)
    parser.add_argument("--baseline-a-subset", type=int, default=5000,
                        help="examples per timed epoch of baseline A (scaled to the full set)")
    args = parser.parse_args(argv)

    train, _, test = load_mnist()
    epochs, job_epochs = args.epochs, args.main_job_epochs
    subset_a = args.baseline_a_subset
    if args.tiny:
        train, test, epochs, subset_a, job_epochs = train[:2000], test[:1000], 2, 200, 1
    rounds = epochs if args.interleaved is None else args.interleaved

    results = [
        bench_numpy("A: NumPy per-example (book)", numpy_per_example_epoch, train, test, epochs,
                    np.float64, subset=min(subset_a, len(train))),
        bench_numpy("B: NumPy mini-batch matrices", numpy_matrix_epoch, train, test, epochs, np.float32),
        bench_nnjax("nnjax unlogged", train, test, epochs, logged=False),
        bench_nnjax("nnjax logged (every 100)", train, test, epochs, logged=True),
        bench_nnjax("nnjax logged + diagnostics", train, test, epochs, logged=True, diagnostics=True),
        bench_vmapped(train, epochs),
    ]
    by = {r["variant"]: r["median_s"] for r in results}
    a, b = by["A: NumPy per-example (book)"], by["B: NumPy mini-batch matrices"]
    un = by["nnjax unlogged"]
    ratios = {"speed-up of nnjax unlogged over A": a / un, "speed-up of nnjax unlogged over B": b / un,
              "logged / unlogged": by["nnjax logged (every 100)"] / un,
              "logged + diagnostics / unlogged": by["nnjax logged + diagnostics"] / un,
              "8 vmapped / one unlogged run": results[-1]["median_s"] / un}
    interleaved = interleaved_ratios(train, rounds)
    for kind in ("logged", "logged + diagnostics"):
        ratios[f"{kind} / unlogged, interleaved (median of {rounds} rounds)"] = \
            interleaved[kind]["median_ratio"]
    job = main_job(job_epochs)
    report = {"interleaved": interleaved, "main_job": job,
              "machine": {"platform": platform.platform(), "backend": jax.default_backend(),
                          "device": str(jax.devices()[0]), "cpu_count": os.cpu_count()},
              "n_train": len(train), "n_test": len(test), "results": results, "ratios": ratios}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2))
    (out / "bench.md").write_text(table(results, ratios, job) + "\n")
    print(table(results, ratios, job))
    print(f"\nwritten: {out / 'bench.json'}, {out / 'bench.md'}")
    return report


if __name__ == "__main__":
    main()
