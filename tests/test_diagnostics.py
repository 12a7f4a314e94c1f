"""Why is it stuck? Update ratios, probe statistics, histograms, the confusion matrix, the flags —
checked on constructed inputs and on short runs on the real MNIST files."""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import TrainConfig, TrainingLogger, fit
from nnjax import diagnose as dg
from nnjax import diagnostics as dx
from nnjax.network import Layer
from tests.reference_backprop import logged_full_batch_run


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- interval statistics ---------------------------------------------------------------------------
def test_logged_update_ratio_and_gradient_norm_are_those_of_the_actual_step(mnist, log_dir):
    """Full-batch SGD on 100 images: the gradient is known exactly, the update is −η g."""
    for stats, (weights, gw, gb) in logged_full_batch_run(mnist[0][:100], log_dir, field="update_stats",
                                                          init_key=5, diagnostics=False):
        for layer in range(2):
            g_norm, w_norm = np.linalg.norm(gw[layer]), np.linalg.norm(weights[layer])
            assert stats["weight_grad_norm"][layer] == pytest.approx(g_norm, rel=1e-4)
            assert stats["bias_grad_norm"][layer] == pytest.approx(np.linalg.norm(gb[layer]), rel=1e-4)
            assert stats["weight_norm"][layer] == pytest.approx(w_norm, rel=1e-5)
            assert stats["weight_update_ratio"][layer] == pytest.approx(3.0 * g_norm / w_norm, rel=1e-4)


# -- probe statistics on constructed networks ------------------------------------------------------
def _net(w_scale, bias, n_hidden=6, n_in=8, n_out=3, key=0):
    k1, k2 = jax.random.split(jax.random.key(key))
    return [Layer(w_scale * jax.random.normal(k1, (n_hidden, n_in)), jnp.full((n_hidden,), bias)),
            Layer(jax.random.normal(k2, (n_out, n_hidden)), jnp.zeros((n_out,)))]


@functools.lru_cache
def _probe_fn(activation):  # one compile per activation, shared by the cases below
    return dx.make_probe_stats(activation=activation, output_activation="sigmoid")


@pytest.mark.parametrize("activation, w_scale, bias, saturated, dead", [
    ("sigmoid", 1000.0, 0.0, 1.0, None),   # huge weights: every hidden unit pinned at 0 or 1
    ("sigmoid", 0.0, 0.0, 0.0, None),      # all outputs 0.5: nothing saturated
    ("relu", 0.0, -1.0, None, 1.0),        # z = −1 for every image: every unit dead
    ("relu", 0.0, 1.0, None, 0.0),         # z = 1: every unit alive
])
def test_probe_reports_saturated_and_dead_units(activation, w_scale, bias, saturated, dead):
    params = _net(w_scale, bias)
    x = jax.random.uniform(jax.random.key(1), (50, 8))
    labels = jnp.arange(50) % 3
    probe = _probe_fn(activation)
    edges = dx.weight_bin_edges(_net(1.0, 0.0))
    out = jax.device_get(probe(params, x, labels, edges, dx.GRAD_LOG10_EDGES))
    fields = dx.probe_record_fields(out, weight_edges=edges, grad_edges=dx.GRAD_LOG10_EDGES,
                                    activation_names=[activation, "sigmoid"], probe_size=50)
    hidden = fields["hidden_layers"][0]
    assert hidden["saturated_fraction"] == (pytest.approx(saturated) if saturated is not None else None)
    assert hidden["dead_fraction"] == (pytest.approx(dead) if dead is not None else None)
    assert fields["output_layer"]["activation"] == "sigmoid"
    # every weight and every gradient entry is counted exactly once
    for layer, p in enumerate(params):
        w_hist, g_hist = fields["weight_histograms"][layer], fields["gradient_histograms"][layer]
        assert sum(w_hist["counts"]) + w_hist["below"] + w_hist["above"] == p.w.size
        assert sum(g_hist["counts"]) + g_hist["below"] + g_hist["above"] + g_hist["zeros"] == p.w.size
        assert w_hist["nan"] == g_hist["nan"] == 0
        assert len(w_hist["edges"]) == len(w_hist["counts"]) + 1
    if activation == "relu" and dead == 1.0:  # dead units: the first layer gets no gradient at all
        assert fields["gradient_histograms"][0]["zeros"] == params[0].w.size


def test_histogram_agrees_with_numpy_and_counts_what_falls_outside():
    values = np.concatenate([np.random.default_rng(0).normal(size=500), [-9.0, 9.0, 2.0, -2.0, np.nan]])
    edges = np.linspace(-2.0, 2.0, 11).astype(np.float32)
    h = jax.device_get(dx.histogram(jnp.asarray(values, jnp.float32), jnp.asarray(edges)))
    expected, _ = np.histogram(values.astype(np.float32), bins=edges)
    np.testing.assert_array_equal(h["counts"], expected)
    assert h["below"] == np.sum(values < -2.0) and h["above"] == np.sum(values > 2.0)
    assert h["nan"] == 1


@pytest.mark.parametrize("lo, hi, n", [(-2.0, 2.0, 10), (-0.37, 0.37, 40), (-12.0, 2.0, 28)])
def test_histogram_puts_values_on_and_beside_every_edge_in_the_right_bin(lo, hi, n):
    edges = np.linspace(lo, hi, n + 1).astype(np.float32)
    beside = [np.nextafter(edges, np.float32(-np.inf)), edges, np.nextafter(edges, np.float32(np.inf))]
    values = np.concatenate([*beside, [np.inf, -np.inf]]).astype(np.float32)
    values = values[(values == 0) | ~(np.abs(values) < np.finfo(np.float32).tiny)]  # XLA flushes
    # subnormals (the neighbours of an edge at 0) to zero, searched or not
    h = jax.device_get(dx.histogram(jnp.asarray(values), jnp.asarray(edges)))
    idx = np.searchsorted(edges, values, side="right") - 1  # left-closed bins
    idx[values == edges[-1]] = n - 1  # the last bin is closed
    inside = (values >= edges[0]) & (values <= edges[-1])
    np.testing.assert_array_equal(h["counts"], np.bincount(idx[inside], minlength=n))
    assert h["below"] == np.sum(values < edges[0]) == 2 and h["above"] == 2


def test_probe_is_fixed_per_seed_and_confusion_counts_every_image():
    np.testing.assert_array_equal(dx.choose_probe(10_000, seed=3), dx.choose_probe(10_000, seed=3))
    assert len(set(dx.choose_probe(10_000, seed=3))) == 1000
    params = _net(1.0, 0.0, n_in=8, n_out=3)
    x = jax.random.uniform(jax.random.key(2), (40, 8))
    labels = jnp.arange(40) % 3
    matrix, pred = dx.make_confusion()(params, x, labels)
    fields = dx.evaluation_fields(matrix, pred, labels)
    assert np.sum(fields["confusion_matrix"]) == 40
    assert fields["correct"] == int(np.trace(np.asarray(matrix)))
    assert len(fields["misclassified_indices"]) == 40 - fields["correct"]
    assert all(np.asarray(pred)[i] != np.asarray(labels)[i] for i in fields["misclassified_indices"])


# -- the rules, on constructed records -------------------------------------------------------------
def _records(acc, sat=None, dead=None, ratios=None):
    recs = [{"type": "run_start", "config": {"sizes": [784, 30, 10]}}]
    for e, a in enumerate(acc):
        recs.append({"type": "epoch_end", "epoch": e, "accuracy_percent": a})
        if sat is not None or dead is not None:
            recs.append({"type": "probe_stats", "epoch": e, "hidden_layers": [
                {"saturated_fraction": None if sat is None else sat[e],
                 "dead_fraction": None if dead is None else dead[e]}]})
        for r in (ratios or {}).get(e, []):
            recs.append({"type": "mini_batch", "epoch": e, "update_stats": {"weight_update_ratio": r}})
    return recs


def test_a_healthy_run_raises_no_flag():
    recs = _records([90, 92], sat=[0.03, 0.03], ratios={0: [[2e-3, 1e-2]] * 3, 1: [[1e-3, 5e-3]] * 3})
    assert dg.diagnose(recs) == []
    assert dg.summary_lines([])[0].startswith("no flags")


def test_each_rule_flags_with_epoch_value_threshold_and_hint():
    recs = _records([9.8, 9.8, 9.8], sat=[0.2, 0.95, 1.0], dead=None,
                    ratios={2: [[0.0, 0.5], [None, 0.4], [0.0, 0.6]]})
    flags = {(f["name"], f["layer"]): f for f in dg.diagnose(recs)}
    assert set(flags) == {("at_chance", None), ("saturated", 0), ("update_ratio_low", 0),
                          ("update_ratio_high", 1)}
    assert flags[("at_chance", None)]["epoch"] == 0 and flags[("at_chance", None)]["threshold"] == 15.0
    assert flags[("saturated", 0)]["epoch"] == 1 and flags[("saturated", 0)]["value"] == 1.0
    assert flags[("update_ratio_high", 1)]["value"] == pytest.approx(0.5)
    assert all(f["hint"] for f in flags.values())
    dead = dg.diagnose(_records([50, 60], dead=[0.6, 0.7]))
    assert [(f["name"], f["epoch"], f["threshold"]) for f in dead] == [("dead_units", 0, 0.5)]


def test_a_run_that_recovers_is_not_flagged():
    assert dg.diagnose(_records([10.0, 11.0, 60.0], sat=[0.95, 0.92, 0.4])) == []


def test_activation_pattern_states_what_active_means_and_skips_the_input(log_dir):
    logger = TrainingLogger(log_dir)
    acts = [np.linspace(0, 1, 784), np.array([0.0, 0.0, 2.0, 3.0]), np.array([0.001, 0.6, 0.999])]
    record = logger.log_activation_pattern(0, acts, label=2, prediction=2, activation="relu",
                                           output_activation="sigmoid")
    hidden, output = record["layers"]
    assert (hidden["layer"], hidden["role"], hidden["active_rule"], hidden["active_neurons"]) == \
        (1, "hidden", "> 0", 2)
    assert "saturated_neurons" not in hidden
    assert (output["role"], output["saturated_neurons"], output["saturated_rule"]) == \
        ("output", 2, "< 0.01 or > 0.99")


# -- the "done when" scenarios, on real MNIST (subsets, one or two epochs) ---------------------------
def _run(mnist, log_dir, n, **config):
    training, validation, test = mnist
    logger = TrainingLogger(log_dir)
    result = fit(TrainConfig(**config), training[:n], test, logger=logger, probe_data=validation)
    return result, logger, read(logger.log_file)


def test_sigmoid_at_learning_rate_1e6_is_flagged_saturated_and_at_chance(mnist, log_dir):
    _, logger, records = _run(mnist, log_dir, 2000, epochs=1, learning_rate=1e6)
    names = {f["name"] for f in logger.get_summary()["flags"]}
    assert {"at_chance", "saturated"} <= names
    diagnosis = [r for r in records if r["type"] == "diagnosis"]
    assert len(diagnosis) == 1 and records[-1]["type"] == "training_complete"
    assert records.index(diagnosis[0]) == len(records) - 2


def test_relu_with_the_books_init_reports_its_dead_units(mnist, log_dir):
    _, logger, records = _run(mnist, log_dir, 2000, epochs=1, activation="relu",
                              output_activation="relu", init="normal")
    probe = [r for r in records if r["type"] == "probe_stats"][-1]
    assert probe["dead_rule"] and probe["hidden_layers"][0]["dead_fraction"] >= 0.3
    assert probe["hidden_layers"][0]["saturated_fraction"] is None
    assert "dead_units" in {f["name"] for f in logger.get_summary()["flags"]}


def test_main_job_defaults_raise_no_flag_and_log_every_diagnostic(mnist, log_dir):
    result, logger, records = _run(mnist, log_dir, 5000, epochs=2)
    assert logger.get_summary()["flags"] == []
    probes = [r for r in records if r["type"] == "probe_stats"]
    assert [p["epoch"] for p in probes] == [0, 1] and probes[0]["probe_source"] == "probe_data"
    assert probes[0]["weight_histograms"][0]["edges"] == probes[1]["weight_histograms"][0]["edges"]
    assert probes[0]["probe_size"] == 1000 and probes[0]["saturation_distance"] == 0.01
    report = next(r for r in records if r["type"] == "evaluation_report")
    assert report["correct"] == result.history[-1]["test_accuracy"]
    assert np.sum(report["confusion_matrix"]) == 10_000
    assert len(report["misclassified_indices"]) == 10_000 - report["correct"]
    batches = [r for r in records if r["type"] == "mini_batch"]
    assert all(len(b["update_stats"]["weight_update_ratio"]) == 2 for b in batches)

    from matplotlib import pyplot

    from nnjax.diagnostic_plots import save_diagnostic_figures

    paths = save_diagnostic_figures(logger.log_file, log_dir / "png", test_images=mnist[2].images)
    assert len(paths) == 6 and all(p.stat().st_size > 10_000 for p in paths)
    assert pyplot.get_fignums() == []


def test_diagnostics_off_logs_none_of_it(mnist, log_dir):
    _, logger, records = _run(mnist, log_dir, 1000, epochs=1, diagnostics=False)
    kinds = {r["type"] for r in records}
    assert not kinds & {"probe_stats", "evaluation_report", "diagnosis"}
    assert logger.get_summary()["flags"] is None
