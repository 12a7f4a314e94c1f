"""Comparing runs: read several learning-mode logs, say what differs between them, tabulate, plot.

:func:`load_runs` reads JSONL logs (files, folders of them such as a sweep's folder, or both) into
:class:`Runs`: one row per run in ``runs`` (configuration columns, best and final accuracy, epoch of
best, time, status, notes) and the per-epoch metrics in long format in ``epochs``. A run is labelled
by what differs between the runs being compared — ``learning_rate=0.3, seed=1`` — not by its file
name. Logs with missing pieces (a run interrupted before its first epoch ended, no test data, a
torn last line, a file that is not an nnjax log) are kept with a note or skipped with a note; they
never raise.

Lines are parsed by :func:`nnjax.logger.parse_lines`, the parser of every log reader; this module
never trains and never prints. Figures are :class:`matplotlib.figure.Figure` objects made without
pyplot, so none is left open.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from nnjax.logger import parse_lines

#: Configuration keys shown in the table even when all runs agree on them.
CONFIG_COLUMNS = ("sizes", "activation", "output_activation", "cost", "init", "optimizer",
                  "learning_rate", "mini_batch_size", "l2", "seed", "epochs")
RUN_COLUMNS = ("label", "best_accuracy", "best_epoch", "final_accuracy", "epochs_completed",
               "time_seconds", "status", "run_id", "sweep_id", "log_file", "note")


def log_paths(sources: str | os.PathLike | Iterable) -> list[Path]:
    """The ``.jsonl`` files named by ``sources``: a file, a folder (searched recursively), a list
    of these, or a string of them separated by ``os.pathsep``. Missing paths raise
    ``FileNotFoundError``."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [s for s in str(sources).split(os.pathsep) if s.strip()]
    paths: list[Path] = []
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            paths.extend(sorted(path.rglob("*.jsonl")))
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"no such log file or folder: {path}")
    seen, unique = set(), []
    for p in paths:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def read_records(path: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """The JSON records of one log and notes about lines that could not be read (a torn last line,
    garbage). Never raises on content; an unreadable file gives no records and a note."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [], [f"{path}: cannot be read ({exc.strerror or exc})"]
    records, notes = [], []
    for line in parse_lines(data, strict=False):
        if line.error is not None:
            where = "last line" if line.torn else f"line {line.number}"
            notes.append(f"{Path(path).name}: skipped a torn or invalid {where}")
        elif isinstance(line.value, dict):
            records.append(line.value)
    return records, notes


@dataclasses.dataclass
class Runs:
    """Runs being compared: ``runs`` (one row per run), ``epochs`` (one row per run and epoch,
    long format), ``varying`` (the configuration keys that differ) and ``notes`` (what was skipped
    or is missing, and why)."""

    runs: pd.DataFrame
    epochs: pd.DataFrame
    varying: list[str]
    notes: list[str]

    def table(self) -> pd.DataFrame:
        """The comparison table: label, the configuration columns, the results."""
        return self.runs

    def to_csv(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``runs.csv`` and ``epochs.csv`` into ``out_dir``; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "runs.csv", out / "epochs.csv"]
        self.runs.to_csv(written[0], index=False)
        self.epochs.to_csv(written[1], index=False)
        return written

    def winner(self) -> str | None:
        """One sentence: which run reached the highest accuracy and by how much it beat the next."""
        scored = self.runs.dropna(subset=["best_accuracy"]).sort_values("best_accuracy", ascending=False)
        if scored.empty:
            return None
        top = scored.iloc[0]
        text = f"best: {top['label']} with {top['best_accuracy']:.2f} % (epoch {int(top['best_epoch'])})"
        if len(scored) > 1:
            second = scored.iloc[1]
            text += (f", {top['best_accuracy'] - second['best_accuracy']:.2f} points ahead of "
                     f"{second['label']} ({second['best_accuracy']:.2f} %)")
        return text


def _flat_config(config: dict) -> dict:
    flat = {}
    for key, value in (config or {}).items():
        if key == "optimizer" and isinstance(value, dict):
            flat["optimizer"] = value.get("name")
        elif isinstance(value, list):
            flat[key] = "-".join(str(v) for v in value) if key == "sizes" else json.dumps(value)
        elif isinstance(value, dict):
            flat[key] = json.dumps(value, sort_keys=True)
        else:
            flat[key] = value
    return flat


def _one_run(path: Path) -> tuple[dict | None, list[dict], list[str]]:
    records, notes = read_records(path)
    start = next((r for r in records if r.get("type") == "run_start"), None)
    if start is None:
        notes.append(f"{path.name}: no run_start record, not an nnjax training log; skipped")
        return None, [], notes
    run_id = start.get("run_id")
    ends = [r for r in records if r.get("type") == "epoch_end" and r.get("run_id", run_id) == run_id]
    complete = next((r for r in records if r.get("type") == "training_complete"), None)
    config = _flat_config(start.get("config") if isinstance(start.get("config"), dict) else {})
    epochs = []
    for r in ends:
        epochs.append({"run_id": run_id, "epoch": r.get("epoch"),
                       "accuracy_percent": r.get("accuracy_percent"),
                       "test_accuracy": r.get("test_accuracy"), "test_total": r.get("test_total"),
                       "train_cost": r.get("train_cost"), "duration_seconds": r.get("duration_seconds")})
    accs = [(e["epoch"], e["accuracy_percent"]) for e in epochs
            if isinstance(e["accuracy_percent"], (int, float))]
    best = max(accs, key=lambda ea: ea[1]) if accs else (None, None)
    run_notes = []
    if not ends:
        run_notes.append("no epoch finished")
    elif not accs:
        run_notes.append("no test accuracy (trained without test data)")
    if complete is None:
        status = "incomplete"
        run_notes.append("no training_complete record (killed or still running)")
        durations = [e["duration_seconds"] for e in epochs if isinstance(e["duration_seconds"], (int, float))]
        seconds = float(sum(durations)) if durations else None
    else:
        status = complete.get("status") or "unknown"
        seconds = complete.get("total_duration_seconds")
    row = {"run_id": run_id, "sweep_id": start.get("sweep_id"), "log_file": str(path),
           "best_accuracy": best[1], "best_epoch": best[0],
           "final_accuracy": accs[-1][1] if accs else None, "epochs_completed": len(ends),
           "time_seconds": seconds, "status": status, "note": "; ".join(run_notes), **config}
    for n in run_notes:
        notes.append(f"{path.name}: {n}")
    return row, epochs, notes


def _labels(rows: list[dict], varying: list[str]) -> list[str]:
    if varying:
        labels = [", ".join(f"{k}={_short(r.get(k))}" for k in varying) for r in rows]
    else:
        labels = [f"run {r['run_id']}" for r in rows]
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    return [f"{lab} [{str(r['run_id'])[-6:]}]" if counts[lab] > 1 else lab for lab, r in zip(labels, rows)]


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def load_runs(sources) -> Runs:
    """Read the logs named by ``sources`` (see :func:`log_paths`) into :class:`Runs`."""
    rows, epoch_rows, notes = [], [], []
    for path in log_paths(sources):
        row, epochs, run_notes = _one_run(path)
        notes.extend(run_notes)
        if row is not None:
            rows.append(row)
            epoch_rows.extend(epochs)
    config_keys = []
    for r in rows:
        for k in r:
            if k not in RUN_COLUMNS and k not in config_keys:
                config_keys.append(k)
    varying = [k for k in config_keys
               if len({json.dumps(r.get(k), sort_keys=True, default=str) for r in rows}) > 1]
    labels = _labels(rows, varying)
    for r, lab in zip(rows, labels):
        r["label"] = lab
    shown = varying + [k for k in CONFIG_COLUMNS if k in config_keys and k not in varying]
    columns = ["label", *shown, *[c for c in RUN_COLUMNS if c != "label"]]
    runs = pd.DataFrame(rows, columns=columns)
    label_of = {r["run_id"]: r["label"] for r in rows}
    epochs = pd.DataFrame(epoch_rows, columns=["run_id", "epoch", "accuracy_percent", "test_accuracy",
                                               "test_total", "train_cost", "duration_seconds"])
    epochs.insert(0, "label", epochs["run_id"].map(label_of))
    for k in reversed(varying):
        epochs.insert(1, k, epochs["run_id"].map({r["run_id"]: r.get(k) for r in rows}))
    return Runs(runs, epochs, varying, notes)


def plot_accuracy(runs: Runs, *, title: str | None = None):
    """Accuracy (%) per epoch, one line per run, labelled by what differs. Runs without test
    accuracy are left out (``runs.notes`` says so). Returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    data = runs.epochs.dropna(subset=["accuracy_percent"])
    for label, part in data.groupby("label", sort=False):
        part = part.sort_values("epoch")
        ax.plot(part["epoch"], part["accuracy_percent"], marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    what = ", ".join(runs.varying) if runs.varying else "runs"
    ax.set_title(title or f"Accuracy by {what}")
    ax.grid(alpha=0.3)
    if not data.empty:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no run has test accuracy", ha="center", va="center", transform=ax.transAxes)
    return fig


def compare(sources, out_dir: str | os.PathLike) -> tuple[Runs, list[Path]]:
    """Everything ``nnjax compare`` writes: ``runs.csv``, ``epochs.csv`` and ``accuracy.png`` in
    ``out_dir``. Returns the runs and the paths written."""
    runs = load_runs(sources)
    written = runs.to_csv(out_dir)
    fig = plot_accuracy(runs)
    png = Path(out_dir) / "accuracy.png"
    fig.savefig(png, dpi=120)
    written.append(png)
    return runs, written


__all__ = ["load_runs", "read_records", "log_paths", "plot_accuracy", "compare", "Runs"]
