"""Diverging and stuck runs on real MNIST: detected in the compiled step, logged as strict JSON,
ended cleanly, and described in words."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import TrainConfig, TrainingLogger, fit, stats
from nnjax.diagnose import summary_lines
from nnjax.logged_network import LoggedNeuralNetwork
from nnjax.logger import read_records
from nnjax.network import Layer
from nnjax.outcome import chance_percent, diagnose

# ReLU hidden layer, linear output, quadratic cost, η = 10: NaN within a few mini-batches
RELU_DIVERGES = dict(sizes=(784, 30, 10), activation="relu", output_activation="identity",
                     learning_rate=10.0, epochs=2, log_interval=10, seed=0)


def strict_records(path):
    def refuse(constant):
        raise AssertionError(f"bare {constant} in the log")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def test_relu_at_learning_rate_10_is_caught_and_ends_the_run(mnist, log_dir):
    training, _, test = mnist
    logger = TrainingLogger(log_dir)
    result = fit(TrainConfig(**RELU_DIVERGES), training[:5000], test[:1000], logger=logger)
    assert result.status == "nonfinite"
    assert len(result.history) == 1  # stopped at the end of the epoch where it happened
    assert all(np.isfinite(np.asarray(leaf)).all() for layer in result.params for leaf in layer)
    records = strict_records(logger.log_file)
    [bad] = [r for r in records if r["type"] == "nonfinite"]
    assert bad["action"] == "stopped" and bad["epoch"] == 0 and 0 <= bad["step"] < 500
    assert [row["layer"] for row in bad["layers"]] == [0, 1]
    counts = {k: v for row in bad["layers"] for k, v in row.items() if k != "layer"}
    assert all(isinstance(v, int) and v >= 0 for v in counts.values())
    # what went non-finite: some gradient/parameter entries, or the cost itself (z² overflowing
    # float32 while the gradients are still finite)
    assert sum(counts.values()) > 0 or (bad["cost_finite"] is False and bad["cost"] is None)
    end = records[-1]
    assert end["type"] == "training_complete" and end["status"] == "nonfinite"
    assert end["diagnosis"]["nonfinite_step"] == bad["step"]
    assert "diverged" in end["diagnosis"]["message"] and "learning rate" in end["diagnosis"]["message"]
    flags = [r for r in records if r["type"] == "diagnosis"][0]["flags"]
    assert (flags[0]["name"], flags[0]["epoch"], flags[0]["value"]) == ("diverged", 0, bad["step"])
    assert logger.get_summary()["flags"][0]["name"] == "diverged"
    assert summary_lines(flags)[0].startswith(f"diverged (epoch 0, step {bad['step']}) — ")


def test_a_diverging_run_can_be_asked_to_continue_and_its_log_stays_strict_json(mnist, log_dir):
    training, _, test = mnist
    logger = TrainingLogger(log_dir)
    config = TrainConfig(**{**RELU_DIVERGES, "stop_on_nonfinite": False})
    result = fit(config, training[:5000], test[:1000], logger=logger)
    assert result.status == "completed" and len(result.history) == 2
    records = strict_records(logger.log_file)
    [bad] = [r for r in records if r["type"] == "nonfinite"]
    assert bad["action"] == "continued"
    # the NaN parameters and costs after it are nulls, counted in nonfinite_values
    snapshots = [r for r in records if r["type"] == "weight_snapshot"]
    assert snapshots[-1]["nonfinite_values"] > 0
    assert any(value is None for layer in snapshots[-1]["layers"] for value in layer.values())
    ends = [r for r in records if r["type"] == "epoch_end"]
    assert ends[-1]["train_cost"] is None and ends[-1]["nonfinite_values"] >= 1
    assert records[-1]["status"] == "completed" and records[-1]["diagnosis"]["at_chance"] is True
    assert read_records(logger.log_file)[1] == []


def test_sigmoid_at_learning_rate_1e6_saturates_and_the_summary_says_chance(mnist, log_dir):
    training, _, test = mnist
    net = LoggedNeuralNetwork([784, 30, 10], log_dir=log_dir)
    result = net.train(training[:5000], epochs=2, mini_batch_size=10, learning_rate=1e6,
                       test_data=test)
    assert result.status == "completed"  # no NaN: sigmoids saturate instead
    assert all("nonfinite_step" not in h for h in result.history)
    assert result.diagnosis["at_chance"] is True
    assert result.diagnosis["chance_percent"] == pytest.approx(11.35)  # most common test digit: 1
    summary = net.logger.get_summary()
    assert summary["at_chance"] is True and "chance" in summary["diagnosis"]
    end = strict_records(net.logger.log_file)[-1]
    assert end["diagnosis"]["at_chance"] is True


def test_a_learning_run_is_not_called_chance(mnist):
    training, _, test = mnist
    result = fit(TrainConfig(sizes=(784, 10, 10), epochs=1, init="scaled_normal"), training[:5000],
                 test[:2000])
    assert result.diagnosis["at_chance"] is False
    assert result.diagnosis["message"].startswith("learning")


def test_diagnosis_of_edge_cases():
    assert chance_percent([1, 1, 2, 3]) == 50.0
    assert diagnose([], "interrupted", [0, 1])["at_chance"] is None
    no_test = diagnose([{"epoch": 0, "accuracy_percent": None}], "completed", None)
    assert no_test["at_chance"] is None and "no test data" in no_test["message"]


def test_statistics_never_raise_on_nan_or_inf(log_dir):
    nan, inf = float("nan"), float("inf")
    params = [Layer(jnp.array([[1.0, nan], [inf, -inf]]), jnp.array([nan, 0.0])),
              Layer(jnp.full((1, 2), nan), jnp.array([inf]))]
    weight, grad = stats.weight_stats(params), stats.gradient_stats(params)
    counts = stats.nonfinite_counts(params)
    assert not bool(stats.all_finite(params))
    assert stats.to_lists(counts) == {"w_nan": [1, 2], "w_inf": [2, 0], "b_nan": [1, 0],
                                      "b_inf": [0, 1]}
    logger = TrainingLogger(log_dir)
    logger.log_weight_snapshot(0, stats.to_rows(weight))
    logger.log_mini_batch(epoch=0, batch_idx=0, step=0, batch_size=10,
                          gradient_stats=stats.to_lists(grad))
    logger.log_epoch_end(0, None, None, nan, train_cost=inf)
    records = strict_records(logger.log_file)
    assert all(r["nonfinite_values"] > 0 for r in records)
