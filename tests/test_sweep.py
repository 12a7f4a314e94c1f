"""Sweeps: a vmapped group of runs equals the same runs trained one by one with ``fit``, every run
writes a complete log, and sharding the run axis over 4 devices changes nothing."""

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter

import jax
import numpy as np
import pytest

from nnjax import TrainConfig, TrainingLogger, fit
from nnjax.sweep import grid, group_configs, sweep, varying_fields

LEARNING_RATES = [0.1, 0.3, 1.0, 3.0, 10.0, 0.5, 2.0, 5.0]


def read(path):
    return [json.loads(line) for line in open(path)]


@pytest.fixture(scope="module")
def small(mnist):
    training, _, test = mnist
    return training[:2000], test[:2000]


@pytest.fixture(scope="module")
def lr_sweep(small, tmp_path_factory):
    training, test = small
    configs = grid(TrainConfig(epochs=2, log_interval=50), learning_rate=LEARNING_RATES)
    log_dir = tmp_path_factory.mktemp("sweeps")
    return configs, sweep(configs, training, test, log_dir=log_dir, devices=jax.devices()[:1])


def test_eight_learning_rates_train_as_one_vmapped_group(lr_sweep):
    configs, result = lr_sweep
    assert result.groups == [list(range(8))]
    assert [r.status for r in result.runs] == ["completed"] * 8
    assert result.log_dir.name == f"sweep_{result.sweep_id}"
    assert sorted(p.name for p in result.log_dir.glob("*.jsonl")) == sorted(
        os.path.basename(r.log_file) for r in result.runs)


def test_vmapped_sweep_matches_eight_sequential_fits_log_for_log(lr_sweep, small, tmp_path):
    configs, result = lr_sweep
    training, test = small
    for config, run in zip(configs, result.runs):
        logger = TrainingLogger(tmp_path / f"lr{config.learning_rate}")
        alone = fit(config, training, test, logger=logger)
        # same seed → same init and mini-batches: the same accuracies, to float32 rounding
        got = [h["accuracy_percent"] for h in run.history]
        want = [h["accuracy_percent"] for h in alone.history]
        np.testing.assert_allclose(got, want, atol=0.1)  # ≤ 2 of 2,000 images may flip
        for a, b in zip(run.params, alone.params):
            np.testing.assert_allclose(a.w, b.w, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(a.b, b.b, rtol=1e-4, atol=1e-5)
        mine, theirs = read(run.log_file), read(logger.log_file)
        # fit's per-epoch and end-of-run diagnostics (nnjax.diagnostics) are not written by sweeps
        theirs = [r for r in theirs if r["type"] not in ("probe_stats", "evaluation_report", "diagnosis")]
        assert [r["type"] for r in mine] == [r["type"] for r in theirs]  # the same records, in order
        for m, t in zip(mine, theirs):
            assert set(t) <= set(m), (m["type"], set(t) - set(m))  # every field fit writes
            if m["type"] == "mini_batch":
                assert (m["epoch"], m["batch_idx"], m["step"]) == (t["epoch"], t["batch_idx"], t["step"])
                for k, values in t["gradient_stats"].items():
                    np.testing.assert_allclose(m["gradient_stats"][k], values, rtol=1e-3, atol=1e-7)
            if m["type"] == "epoch_end":
                assert abs(m["test_accuracy"] - t["test_accuracy"]) <= 2
                assert m["train_cost"] == pytest.approx(t["train_cost"], rel=1e-4)
        start = mine[0]
        assert start["sweep_id"] == result.sweep_id and start["sweep"]["vmapped_runs"] == 8
        assert start["config"]["learning_rate"] == config.learning_rate
        assert start["config"] | {"optimizer": None} == theirs[0]["config"] | {"optimizer": None}
        assert mine[-1]["type"] == "training_complete" and mine[-1]["status"] == "completed"


def test_sweep_manifest_lists_every_run(lr_sweep):
    _, result = lr_sweep
    manifest = json.loads((result.log_dir / "sweep.json").read_text())
    assert manifest["sweep_id"] == result.sweep_id and manifest["varying"] == ["learning_rate"]
    assert [r["status"] for r in manifest["runs"]] == ["completed"] * 8
    assert [r["config"]["learning_rate"] for r in manifest["runs"]] == LEARNING_RATES
    table = result.table()
    assert result.best() == max(range(8), key=lambda i: table[i]["best_accuracy"])


def test_seeds_l2_and_initialisers_share_one_program_and_match_fit(small):
    training, test = small
    base = TrainConfig(sizes=(784, 20, 10), epochs=1, learning_rate=1.0)
    configs = [base.replace(seed=1), base.replace(seed=2, l2=5.0),
               base.replace(seed=1, l2=5.0, init="he")]
    result = sweep(configs, training, test, log_dir=None, devices=jax.devices()[:1])
    assert result.groups == [[0, 1, 2]]
    for config, run in zip(configs, result.runs):
        alone = fit(config, training, test)
        assert abs(run.history[0]["test_accuracy"] - alone.history[0]["test_accuracy"]) <= 2
        np.testing.assert_allclose(run.params[0].w, alone.params[0].w, rtol=1e-4, atol=1e-5)


def test_grid_groups_configs_by_parameter_shapes():
    configs = grid(TrainConfig(), hidden=[10, 30], learning_rate=[0.5, 3.0], activation="tanh")
    assert [c.sizes for c in configs] == [(784, 10, 10)] * 2 + [(784, 30, 10)] * 2
    assert group_configs(configs) == [[0, 1], [2, 3]]
    assert varying_fields(configs) == ["sizes", "learning_rate"]
    assert grid(TrainConfig(), hidden=["30,30"])[0].sizes == (784, 30, 30, 10)
    with pytest.raises(ValueError, match="unknown sweep axis 'learnig_rate'"):
        grid(TrainConfig(), learnig_rate=[1.0])


def test_a_diverging_run_ends_alone_with_a_complete_log(mnist, tmp_path):
    training = mnist[0][:500]
    configs = grid(TrainConfig(sizes=(784, 30, 10), activation="relu", output_activation="identity",
                               init="he", epochs=2, log_interval=10), learning_rate=[0.05, 10.0])
    result = sweep(configs, training, mnist[2][:500], log_dir=tmp_path, devices=jax.devices()[:1])
    calm, wild = result.runs
    assert calm.status == "completed" and len(calm.history) == 2
    alone = fit(configs[1], training, mnist[2][:500])
    assert wild.status == alone.status == "nonfinite"
    assert wild.history[-1]["nonfinite_step"] == alone.history[-1]["nonfinite_step"]
    records = read(wild.log_file)
    kinds = Counter(r["type"] for r in records)
    assert kinds["nonfinite"] == 1 and records[-1]["type"] == "training_complete"
    assert records[-1]["status"] == "nonfinite"
    assert all(np.isfinite(layer.w).all() for layer in wild.params)  # the last finite parameters


SHARDED = textwrap.dedent("""
    import json, os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax
    from nnjax import TrainConfig, load_mnist
    from nnjax.sweep import grid, sweep
    training, _, test = load_mnist(source="idx")
    configs = grid(TrainConfig(epochs=1, log_interval=50), learning_rate=[0.3, 1.0, 3.0, 5.0, 8.0],
                   seed=[0])
    result = sweep(configs, training[:1000], test[:1000], log_dir=sys.argv[1])
    json.dump({"devices": jax.device_count(), "used": result.devices,
               "correct": [r.history[-1]["test_accuracy"] for r in result.runs],
               "w0": [r.params[0].w.sum().item() for r in result.runs],
               "logged": [json.loads(open(r.log_file).readline())["sweep"]["devices"]
                          for r in result.runs]}, sys.stdout)
""")


def test_four_cpu_devices_shard_the_sweep_and_agree_with_one(mnist_dir, mnist, tmp_path):
    env = {**os.environ, "NNJAX_DATA_DIR": str(mnist_dir)}
    env.pop("XLA_FLAGS", None)
    done = subprocess.run([sys.executable, "-c", SHARDED, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    sharded = json.loads(done.stdout)
    assert sharded["devices"] == 4 and sharded["used"] == 4 and sharded["logged"] == [4] * 5
    configs = grid(TrainConfig(epochs=1, log_interval=50), learning_rate=[0.3, 1.0, 3.0, 5.0, 8.0])
    one = sweep(configs, mnist[0][:1000], mnist[2][:1000], log_dir=None, devices=jax.devices()[:1])
    assert sharded["correct"] == pytest.approx([r.history[-1]["test_accuracy"] for r in one.runs], abs=2)
    np.testing.assert_allclose(sharded["w0"], [float(r.params[0].w.sum()) for r in one.runs],
                               rtol=1e-4)
