"""Reading logs back into tables: the golden logs of both formats keep parsing, and what real logs
look like (torn lines, no test data, no ``training_complete``, records and fields added later) is
read without error. No training here: the logs are the committed golden files and edits of them."""

import datetime
import json
import math
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from nnjax import analysis
from nnjax.analysis import LogError, LogNotFoundError, read_logs

DATA = Path(__file__).parent / "data"
NNJAX_LOG = DATA / "nnjax_format.jsonl"
SEED_LOG = DATA / "seed_format.jsonl"


def lines(path):
    return path.read_text().splitlines(keepends=True)


def test_golden_nnjax_log_reads_into_the_tables():
    t = read_logs(NNJAX_LOG)
    assert t.problems == [] and t.files == [NNJAX_LOG]
    run = t.runs.iloc[0]
    assert (run["format"], run["schema_version"], run["run_id"]) == ("nnjax", 1, "20261203_120000_golden01")
    assert (run["sizes"], run["n_layers"], run["hidden_layers"]) == ("784-30-10", 2, 1)
    assert (run["activation"], run["cost"], run["optimizer"], run["learning_rate"]) == \
        ("sigmoid", "quadratic", "sgd", 3.0)
    assert (run["epochs_completed"], run["epochs_planned"], run["status"]) == (3, 3, "completed")
    assert (run["best_accuracy"], run["best_epoch"], run["final_accuracy"]) == (92.38, 2, 92.38)
    assert run["total_seconds"] == 2.95 and run["steps_per_epoch"] == 200
    assert list(t.epochs["accuracy_percent"]) == [90.12, 92.34, 92.38]
    assert list(t.epochs["train_cost"]) == [0.412, 0.276, 0.228]
    assert len(t.weights) == 3 * 2 and set(t.weights["layer"]) == {0, 1}
    assert len(t.gradients) == 3 * 2 * 2  # epochs × logged mini-batches × layers
    assert list(t.gradients["progress"].unique()) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert t.epochs["time"].dt.tz is not None  # UTC timestamps
    assert set(t.records) == {"run_start", "epoch_start", "mini_batch", "weight_snapshot", "epoch_end",
                              "training_complete"}
    assert t["run_start"].loc[0, "config.sizes"] == [784, 30, 10]


def test_golden_seed_log_reads_into_the_same_tables():
    t = read_logs(SEED_LOG)
    run = t.runs.iloc[0]
    assert run["format"] == "seed" and run["run_id"] is None and run["run"] == "seed_format"
    assert run["status"] == "completed"  # the seed's training_complete had no status
    assert run["session_id"] == "20240305_140200" and run["total_seconds"] == 9.62
    assert run["n_layers"] == 2 and run["sizes"] == "?-30-10"  # from the activation pattern
    assert (run["best_accuracy"], run["best_epoch"]) == (93.01, 2)
    assert run["steps_per_epoch"] == 5000  # inferred from the logged batch indices
    assert t.epochs["train_cost"].isna().all()
    assert list(t.weights.query("layer == 1")["weight_std"]) == [1.0412, 1.0833, 1.1102]
    assert list(t.activations["total_neurons"]) == [30, 10]  # from layer_activations
    assert list(t.activations["label"]) == [7, 7]  # the record's own label is kept
    local = datetime.datetime(2024, 3, 5, 14, 2, 1).astimezone()  # naive = this machine's local time
    assert t.runs.loc[0, "started"] == pd.Timestamp(local).tz_convert("UTC")


def test_torn_last_line_is_skipped_and_reported_with_its_line_number(tmp_path):
    torn = tmp_path / "torn.jsonl"
    content = lines(NNJAX_LOG)
    torn.write_text("".join(content[:-1]) + content[-1][:40])
    t = read_logs(torn)
    assert len(t.problems) == 1
    assert f"line {len(content)}" in t.problems[0] and "incomplete last line" in t.problems[0]
    assert t.runs.loc[0, "status"] == "incomplete"  # training_complete was the torn line
    assert t.runs.loc[0, "epochs_completed"] == 3


def test_a_bad_line_in_the_middle_is_skipped_and_the_rest_kept(tmp_path):
    path = tmp_path / "bad.jsonl"
    content = lines(NNJAX_LOG)
    content.insert(3, "{not json\n")
    path.write_text("".join(content))
    t = read_logs(path)
    assert t.problems == [f"{path}: line 4: not valid JSON, skipped (Expecting property name enclosed "
                          f"in double quotes)"]
    assert len(t.epochs) == 3


def test_interrupted_run_without_training_complete(tmp_path):
    path = tmp_path / "killed.jsonl"
    path.write_text("".join(line for line in lines(NNJAX_LOG) if "training_complete" not in line
                            and '"epoch":2' not in line))
    t = read_logs(path)
    run = t.runs.iloc[0]
    assert run["status"] == analysis.INCOMPLETE and run["epochs_completed"] == 2
    assert run["total_seconds"] == pytest.approx(1.52 + 0.21)  # the epochs it has


def test_run_without_test_data_has_no_accuracy(tmp_path):
    path = tmp_path / "notest.jsonl"
    out = []
    for line in lines(NNJAX_LOG):
        record = json.loads(line)
        if record["type"] == "epoch_end":
            record.update(test_accuracy=None, test_total=None, accuracy_percent=None)
        out.append(json.dumps(record) + "\n")
    path.write_text("".join(out))
    t = read_logs(path)
    assert t.epochs["accuracy_percent"].isna().all()
    assert math.isnan(t.runs.loc[0, "best_accuracy"]) and pd.isna(t.runs.loc[0, "best_epoch"])
    progress = analysis.learning_progress(t)
    assert progress.loc[0, "still_learning"] is None and "no test accuracy" in progress.loc[0, "verdict"]


def test_unknown_record_types_and_extra_fields_are_kept(tmp_path):
    path = tmp_path / "future.jsonl"
    out = []
    for line in lines(NNJAX_LOG):
        record = json.loads(line)
        if record["type"] == "run_start":
            record["sweep_id"] = "sweep_7"
            record["config"]["dropout"] = 0.5
        if record["type"] == "epoch_end":
            record.update(validation_accuracy=9000, validation_cost=0.1, confusion=[[1, 2], [3, 4]])
        if record["type"] == "mini_batch":
            record["gradient_stats"]["update_ratio"] = [0.001, 0.01]
        out.append(json.dumps(record) + "\n")
        if record["type"] == "epoch_end":
            out.append(json.dumps({"type": "histogram", "run_id": record["run_id"], "schema_version": 1,
                                   "epoch": record["epoch"], "layer": 0, "counts": [1, 5, 1],
                                   "edges": [-1, 0, 1, 2]}) + "\n")
    path.write_text("".join(out))
    t = read_logs(path)
    assert t.problems == []
    assert t.runs.loc[0, "sweep_id"] == "sweep_7" and t.runs.loc[0, "config.dropout"] == 0.5
    assert list(t.epochs["validation_accuracy"]) == [9000] * 3
    assert t.epochs.loc[0, "confusion"] == [[1, 2], [3, 4]]
    assert list(t.gradients.query("layer == 1")["update_ratio"].unique()) == [0.01]
    assert len(t["histogram"]) == 3 and t["histogram"].loc[0, "counts"] == [1, 5, 1]
    assert t["no_such_type"].empty


def test_a_deep_network_has_every_layer_in_the_tables(tmp_path):
    path = tmp_path / "deep.jsonl"
    out = []
    for line in lines(NNJAX_LOG):
        record = json.loads(line)
        if record["type"] == "run_start":
            record["config"]["sizes"] = [784, 30, 20, 20, 10]
        if record["type"] == "weight_snapshot":
            record["layers"] = [dict(record["layers"][0], layer=i) for i in range(4)]
        if record["type"] == "mini_batch":
            record["gradient_stats"] = {k: v * 2 for k, v in record["gradient_stats"].items()}
        out.append(json.dumps(record) + "\n")
    path.write_text("".join(out))
    t = read_logs(path)
    assert (t.runs.loc[0, "n_layers"], t.runs.loc[0, "hidden_layers"], t.n_layers) == (4, 3, 4)
    assert sorted(t.weights["layer"].unique()) == [0, 1, 2, 3]
    assert sorted(t.gradients["layer"].unique()) == [0, 1, 2, 3]


def test_still_learning_uses_the_threshold():
    t = read_logs(NNJAX_LOG)  # accuracies 90.12, 92.34, 92.38
    strict = analysis.learning_progress(t, threshold=0.1).iloc[0]
    assert (strict["last_improvement"], strict["epochs_since"], strict["still_learning"]) == (1, 1, False)
    assert "stopped improving after epoch 1" in strict["verdict"]
    loose = analysis.learning_progress(t, threshold=0.01).iloc[0]
    assert (loose["last_improvement"], loose["still_learning"]) == (2, True)


def test_layer_change_is_the_distance_of_mean_and_std_over_the_rms():
    change = analysis.layer_change(read_logs(NNJAX_LOG))
    row = change.query("epoch == 1 and layer == 1").iloc[0]
    expected = math.hypot(-0.0622 + 0.0431, 1.0833 - 1.0412) / math.hypot(-0.0431, 1.0412)
    assert row["relative_change"] == pytest.approx(expected)
    assert change.query("epoch == 0")["relative_change"].isna().all()
    summary = analysis.layer_change_summary(read_logs(NNJAX_LOG))
    assert list(summary.loc[summary["changes_most"], "layer"]) == [1]


def test_several_files_and_folders_and_the_same_run_twice(tmp_path):
    copy = tmp_path / "copy" / "nnjax_format.jsonl"
    copy.parent.mkdir()
    shutil.copy(NNJAX_LOG, copy)
    t = read_logs([DATA, copy.parent])
    assert len(t.runs) == 3  # nnjax + seed from the folder, and the copy as its own run
    assert t.runs["run"].is_unique and t.runs["run_name"].is_unique
    assert t.epochs.groupby("run").size().tolist() == [3, 3, 3]


def test_environment_variable_and_newest_default(tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    logs.mkdir()
    old, new = logs / "training_1.jsonl", logs / "training_2.jsonl"
    shutil.copy(SEED_LOG, old)
    shutil.copy(NNJAX_LOG, new)
    os.utime(old, (1, 1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(analysis.LOGS_ENV, raising=False)
    assert analysis.find_logs() == [Path("logs") / "training_2.jsonl"]
    monkeypatch.setenv(analysis.LOGS_ENV, os.pathsep.join([str(old), str(SEED_LOG)]))
    assert analysis.find_logs() == [old, SEED_LOG]
    monkeypatch.setenv(analysis.LOGS_ENV, str(logs))
    assert len(read_logs().runs) == 2


def test_missing_and_empty_logs_raise_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(LogNotFoundError, match="does not exist"):
        read_logs(tmp_path / "nope.jsonl")
    with pytest.raises(LogNotFoundError, match="holds no .jsonl"):
        read_logs(tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(LogError, match="no log records"):
        read_logs(empty)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(analysis.LOGS_ENV, raising=False)
    with pytest.raises(LogNotFoundError, match="NNJAX_LOGS"):
        analysis.find_logs(default_dirs=("logs",))


def test_the_three_readers_keep_the_same_records_and_name_the_same_bad_lines(tmp_path):
    from nnjax import compare, logger

    good = [{"type": "run_start", "run_id": "r", "n": 1}, {"type": "epoch_end", "run_id": "r", "n": 2}]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(json.dumps(good[0]).encode() + b"\n{not json\n\n"
                     + json.dumps(good[1]).encode() + b'\n{"type": "training_co')
    strict, strict_problems = logger.read_records(path)
    tables, table_problems = analysis.read_records(path)
    compared, notes = compare.read_records(path)
    assert strict == compared == good
    assert [{k: v for k, v in r.items() if k != "_line"} for r in tables] == good
    assert [r["_line"] for r in tables] == [1, 4]
    assert [p.split(":")[0] for p in strict_problems] == ["line 5", "line 2", "line 5"]
    assert "line 2: not valid JSON" in table_problems[0] and "line 5: incomplete last line" in table_problems[1]
    assert notes == ["mixed.jsonl: skipped a torn or invalid line 2",
                     "mixed.jsonl: skipped a torn or invalid last line"]
    whole = tmp_path / "whole.jsonl"  # a bad last line that ends with a newline is not torn
    whole.write_bytes(json.dumps(good[0]).encode() + b"\nnot a record\n")
    _, problems = analysis.read_records(whole)
    assert len(problems) == 1 and "line 2: not valid JSON" in problems[0]
