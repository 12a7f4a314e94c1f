"""The learning-mode log: its records, their fields and types, and the numbers in them."""

import json
import math
import threading

import jax
import numpy as np
import pytest

from nnjax import TrainConfig, TrainingLogger, fit
from nnjax.logger import SCHEMA_VERSION
from tests.reference_backprop import logged_full_batch_run

FIELDS = {
    "run_start": {"config": dict, "data": dict, "environment": dict},
    "epoch_start": {"epoch": int, "total_epochs": int},
    "mini_batch": {"epoch": int, "batch_idx": int, "step": int, "batch_size": int,
                   "gradient_stats": dict},
    "weight_snapshot": {"epoch": int, "layers": list},
    "epoch_end": {"epoch": int, "test_accuracy": int, "test_total": int, "accuracy_percent": float,
                  "duration_seconds": float},
    "training_complete": {"total_duration_seconds": float, "session_id": str, "status": str},
    "probe_stats": {"epoch": int, "probe_size": int, "saturation_distance": float,
                    "hidden_layers": list, "output_layer": dict, "weight_histograms": list,
                    "gradient_histograms": list},
    "evaluation_report": {"n_examples": int, "correct": int, "confusion_matrix": list,
                          "misclassified_indices": list},
    "diagnosis": {"flags": list, "summary": list},
}


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def short_run(mnist, tmp_path_factory):
    training, _, test = mnist
    logger = TrainingLogger(tmp_path_factory.mktemp("logs"))
    config = TrainConfig(epochs=2, log_interval=100)
    result = fit(config, training[:10_000], test, logger=logger)
    return result, read(logger.log_file)


def test_every_record_type_has_its_fields_with_the_right_types(short_run):
    _, records = short_run
    seen = {r["type"] for r in records}
    assert set(FIELDS) <= seen
    for record in records:
        assert isinstance(record["run_id"], str) and record["schema_version"] == SCHEMA_VERSION
        assert record["timestamp"].endswith("+00:00")  # UTC, ISO 8601
        for field, kind in FIELDS.get(record["type"], {}).items():
            assert isinstance(record[field], kind), (record["type"], field, record[field])
    assert len({r["run_id"] for r in records}) == 1
    start = records[0]
    assert start["type"] == "run_start"
    assert start["config"]["sizes"] == [784, 30, 10] and start["config"]["optimizer"]["name"] == "sgd"
    assert start["environment"]["backend"] == jax.default_backend()
    assert records[-1]["type"] == "training_complete" and records[-1]["status"] == "completed"


def test_mini_batch_records_every_interval_and_in_order(short_run):
    _, records = short_run
    batches = [r for r in records if r["type"] == "mini_batch"]
    assert [r["batch_idx"] for r in batches if r["epoch"] == 0] == list(range(0, 1000, 100))
    assert len(batches) == 20
    # no callback record arrives after its epoch has ended
    order = [(r["type"], r.get("epoch")) for r in records]
    for r in batches:
        assert order.index(("mini_batch", r["epoch"])) < order.index(("epoch_end", r["epoch"]))
    layers = batches[0]["gradient_stats"]
    assert set(layers) == {"weight_mean", "weight_max", "bias_mean", "bias_max"}
    assert all(len(v) == 2 for v in layers.values())


def test_epoch_end_counts_match_the_returned_history(short_run):
    result, records = short_run
    ends = [r for r in records if r["type"] == "epoch_end"]
    assert [r["test_accuracy"] for r in ends] == [h["test_accuracy"] for h in result.history]
    assert all(r["accuracy_percent"] == pytest.approx(100 * r["test_accuracy"] / 10_000) for r in ends)


def test_logged_gradient_mean_is_mean_abs_of_the_true_gradient(mnist, log_dir):
    """One mini-batch = the whole 100-image set, so each step's gradient is known exactly."""
    for stats, (_, gw, gb) in logged_full_batch_run(mnist[0][:100], log_dir, field="gradient_stats",
                                                     init_key=11, seed=3):
        for layer in range(2):
            assert stats["weight_mean"][layer] == pytest.approx(np.mean(np.abs(gw[layer])), rel=1e-4)
            assert stats["weight_max"][layer] == pytest.approx(np.max(np.abs(gw[layer])), rel=1e-4)
            assert stats["bias_mean"][layer] == pytest.approx(np.mean(np.abs(gb[layer])), rel=1e-4)


def test_two_loggers_in_the_same_second_write_two_files(log_dir):
    loggers = [TrainingLogger(log_dir) for _ in range(5)]
    assert len({lg.log_file for lg in loggers}) == 5
    assert len({lg.run_id for lg in loggers}) == 5
    assert all(lg.log_file.name.startswith("training_") and lg.log_file.suffix == ".jsonl"
               for lg in loggers)


def test_loggers_created_in_threads_get_distinct_files(log_dir):
    loggers = []
    threads = [threading.Thread(target=lambda: loggers.append(TrainingLogger(log_dir))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({lg.log_file for lg in loggers}) == 8


def test_non_finite_numbers_become_null_and_are_counted(log_dir):
    logger = TrainingLogger(log_dir)
    logger.write("epoch_end", epoch=0, duration_seconds=float("nan"),
                 values=[1.0, float("inf"), np.float32("-inf")])
    line = logger.log_file.read_text().splitlines()[0]
    assert "NaN" not in line and "Infinity" not in line
    record = json.loads(line)
    assert record["duration_seconds"] is None and record["values"] == [1.0, None, None]
    assert record["nonfinite_values"] == 3
    json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in the log"))
    assert not math.isnan(record["values"][0])
