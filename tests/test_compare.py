"""Comparing runs: ``nnjax compare``, ``nnjax sweep`` from the command line and the compare notebook,
on a real small sweep plus logs with missing pieces."""

import json
import sys
from pathlib import Path

import jax
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from nnjax import TrainConfig, TrainingLogger, fit
from nnjax.cli import main
from nnjax.compare import load_runs
from nnjax.sweep import grid, sweep

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "compare_runs.ipynb"


@pytest.fixture(scope="module")
def logs(mnist, tmp_path_factory):
    """A real sweep of two learning rates, plus an interrupted log, a run without test data and a
    file that is not a training log."""
    training, _, test = mnist
    root = tmp_path_factory.mktemp("compare")
    configs = grid(TrainConfig(sizes=(784, 20, 10), epochs=2, init="scaled_normal"),
                   learning_rate=[0.5, 3.0])
    result = sweep(configs, training[:1000], test[:500], log_dir=root, devices=jax.devices()[:1])
    odd = root / "odd"
    odd.mkdir()
    lines = Path(result.runs[0].log_file).read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if '"epoch_end"' in line)
    (odd / "killed.jsonl").write_text("\n".join(lines[: cut + 2]) + "\n" + lines[cut + 2][:25])
    fit(TrainConfig(sizes=(784, 20, 10), epochs=1), training[:300],
        logger=TrainingLogger(odd, prefix="no_test"))
    (odd / "notes.jsonl").write_text('{"hello": 1}\n')
    return result, root


def test_table_has_one_row_per_run_labelled_by_what_differs(logs):
    result, root = logs
    runs = load_runs(result.log_dir)
    assert runs.varying == ["learning_rate"] and runs.notes == []
    assert list(runs.runs["label"]) == ["learning_rate=0.5", "learning_rate=3"]
    for (_, row), run in zip(runs.runs.iterrows(), result.runs):
        accs = [h["accuracy_percent"] for h in run.history]
        assert row["best_accuracy"] == max(accs) and row["final_accuracy"] == accs[-1]
        assert row["best_epoch"] == accs.index(max(accs)) and row["status"] == "completed"
        assert row["sizes"] == "784-20-10" and row["sweep_id"] == result.sweep_id
    assert len(runs.epochs) == 4 and set(runs.epochs["epoch"]) == {0, 1}


def test_missing_pieces_are_noted_never_raised(logs):
    _, root = logs
    runs = load_runs([root / "odd"])
    notes = " | ".join(runs.notes)
    assert "torn or invalid last line" in notes and "no training_complete" in notes
    assert "no test accuracy" in notes and "notes.jsonl: no run_start" in notes
    assert len(runs.runs) == 2  # the killed run and the run without test data, shown with notes
    killed = runs.runs[runs.runs["log_file"].str.endswith("killed.jsonl")].iloc[0]
    assert killed["status"] == "incomplete" and killed["epochs_completed"] == 1
    no_test = runs.runs[runs.runs["status"] == "completed"].iloc[0]
    assert pd.isna(no_test["best_accuracy"])


def test_nnjax_compare_writes_csv_and_png(logs, tmp_path, capsys):
    result, root = logs
    out = tmp_path / "report"
    assert main(["compare", str(result.log_dir), str(root / "odd"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "note:" in printed and "best: " in printed
    table = pd.read_csv(out / "runs.csv")
    assert len(table) == 4 and {"label", "best_accuracy", "best_epoch", "final_accuracy",
                                "time_seconds", "status"} <= set(table.columns)
    long = pd.read_csv(out / "epochs.csv")
    assert {"label", "run_id", "epoch", "accuracy_percent"} <= set(long.columns)
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["compare", str(tmp_path / "nothing-here"), "--out", str(out)]) == 2


def test_nnjax_sweep_runs_a_toml_grid(mnist_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNJAX_DATA_SOURCE", "idx")
    spec = tmp_path / "sweep.toml"
    spec.write_text('epochs = 1\ntrain_size = 500\ntest_size = 200\ninit = "scaled_normal"\n'
                    'learning_rate = [0.5, 2.0]\nhidden = [10]\n')
    assert main(["sweep", str(spec), "--seed", "0", "1", "--log-dir", str(tmp_path / "logs"),
                 "--data-dir", str(mnist_dir), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "4 runs in 1 group(s)" in printed and "winner: learning_rate=" in printed
    folder = next((tmp_path / "logs").glob("sweep_*"))
    assert len(list(folder.glob("run_*.jsonl"))) == 4
    assert [r["config"]["sizes"] for r in json.loads((folder / "sweep.json").read_text())["runs"]] == \
        [[784, 10, 10]] * 4


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--lr", "1", "--activation", "swish"], "unknown activation 'swish'"),
    (["sweep", "--lr", "-1"], "learning_rate must be greater than 0"),
    (["sweep", "missing.toml"], "sweep file not found"),
    (["sweep", "--lr", "1", "--train-size", "60000"], "train_size 60000 is more than the 50000 training"),
    (["sweep", "--lr", "1", "--test-size", "99999"], "test_size 99999 is more than the 10000 test"),
])
def test_user_mistakes_are_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_compare_notebook_executes_headless(logs, tmp_path, monkeypatch):
    """The notebook, committed without outputs, runs end to end on a real sweep (kernel: this
    interpreter, through a kernelspec written into a temporary JUPYTER_PATH)."""
    result, _ = logs
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    spec_dir = tmp_path / "jupyter" / "kernels" / "nnjax-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nnjax test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("NNJAX_LOGS", str(result.log_dir))
    monkeypatch.setenv("NNJAX_COMPARE_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=300, kernel_name="nnjax-test",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    text = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert "2 runs from" in text and "learning_rate=3" in text and "image/png" in text
    assert (tmp_path / "out" / "runs.csv").is_file() and (tmp_path / "out" / "epochs.csv").is_file()
