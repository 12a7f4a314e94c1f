"""Reading learning-mode logs back: one call from JSONL files to pandas tables, ready for a notebook.

::

    from nnjax import analysis
    tables = analysis.read_logs("logs/")        # a file, a folder, a list of them, or None
    tables.runs                                  # one row per run: configuration, best/final accuracy, status
    tables.epochs                                # one row per run × epoch (``epoch_end``)
    tables.weights                               # one row per run × epoch × layer (``weight_snapshot``)
    tables.gradients                             # one row per run × logged mini-batch × layer
    tables["run_start"]                          # any record type, flat, as logged (unknown types too)

The reader is tolerant of what real logs look like. A torn last line (a killed run, or one still
writing) is skipped and reported in ``tables.problems`` with its line number; a run without test
data has no accuracy (``NaN``); a run without ``training_complete`` has status ``incomplete``; any
number of layers is fine; and logs in the seed project's format (the same record types, but no
``run_start``, no schema version, no run id, naive local timestamps, ``layer_activations``) read into
the same tables. Record types and fields this module does not know are kept, never an error.

Timestamps become the column ``time`` in UTC; naive ones (seed format) are taken as the reading
machine's local time, as the seed wrote them. Layers are numbered as in the log: 0 is the first
weight layer (input → first hidden).

Two of the seed's questions have answers here: :func:`learning_progress` ("is it still learning —
when did it stop improving?") and :func:`layer_change` ("which layer changes most?").
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from nnjax.logger import parse_lines

LOGS_ENV = "NNJAX_LOGS"
DEFAULT_THRESHOLD = 0.1  # percentage points of test accuracy
INCOMPLETE = "incomplete"

PathLike = str | os.PathLike


class LogError(ValueError):
    """The logs cannot be read: nothing found, or nothing in them that is a log record."""


class LogNotFoundError(LogError, FileNotFoundError):
    """A named log file or folder does not exist, or holds no ``.jsonl`` file."""


# -- finding the files ---------------------------------------------------------------------------
def find_logs(source: PathLike | Sequence[PathLike] | None = None, *,
              default_dirs: Sequence[PathLike] = ("logs", "../logs")) -> list[Path]:
    """The log files ``source`` names, in a stable order.

    ``source`` is a file, a folder (every ``*.jsonl`` below it), or a list of those. ``None`` means:
    the paths in ``$NNJAX_LOGS`` (separated by ``os.pathsep``), else the newest non-empty ``*.jsonl``
    in the first of ``default_dirs`` that has one (a run that has not written yet, or was refused
    before training, has nothing to show). Raises :class:`LogNotFoundError` saying what is missing.
    """
    if source is None:
        env = os.environ.get(LOGS_ENV, "").strip()
        if env:
            return find_logs([p for p in env.split(os.pathsep) if p.strip()])
        for folder in map(Path, default_dirs):
            found = {p: p.stat() for p in folder.glob("*.jsonl")} if folder.is_dir() else {}
            candidates = [p for p, st in found.items() if st.st_size]
            if candidates:
                return [max(candidates, key=lambda p: (found[p].st_mtime, p.name))]
        raise LogNotFoundError(
            f"no log given and none found in {' or '.join(map(str, default_dirs))}; pass a log file "
            f"or folder, or set {LOGS_ENV}")
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not items:
        raise LogNotFoundError("no log files given")
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(path.rglob("*.jsonl"))
            if not found:
                raise LogNotFoundError(f"log folder {path} holds no .jsonl files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise LogNotFoundError(f"log file {path} does not exist")
    unique = list(dict.fromkeys(files))
    return unique


# -- reading lines -------------------------------------------------------------------------------
def read_records(path: PathLike) -> tuple[list[dict], list[str]]:
    """The records of one JSONL file (each with ``_line``, its 1-based line number) and the problems
    met: a torn last line or another unreadable line is skipped and reported, never raised. Bare
    NaN is accepted: the seed's logs hold it."""
    path = Path(path)
    records, problems = [], []
    for line in parse_lines(path.read_bytes(), strict=False):
        if line.error is not None:
            what = ("incomplete last line skipped (the run was killed or is still writing)"
                    if line.torn else f"not valid JSON, skipped ({getattr(line.error, 'msg', line.error)})")
            problems.append(f"{path}: line {line.number}: {what}")
        elif not isinstance(line.value, dict) or not isinstance(line.value.get("type"), str):
            problems.append(f"{path}: line {line.number}: not a log record (no 'type'), skipped")
        else:
            records.append({**line.value, "_line": line.number})
    return records, problems


def parse_time(value) -> pd.Timestamp:
    """An ISO 8601 timestamp as a UTC ``pd.Timestamp``; a naive one is taken as local time."""
    if not isinstance(value, str):
        return pd.NaT
    try:
        t = _dt.datetime.fromisoformat(value)
    except ValueError:
        return pd.NaT
    if t.tzinfo is None:
        t = t.astimezone()  # the seed wrote datetime.now(): local time
    return pd.Timestamp(t).tz_convert("UTC")


# -- the tables ----------------------------------------------------------------------------------
@dataclasses.dataclass
class LogTables:
    """Everything read from some logs. ``runs`` has one row per run (index-free, column ``run`` is
    the key every other table carries); ``records`` holds every record type as a flat table."""

    runs: pd.DataFrame
    epochs: pd.DataFrame
    weights: pd.DataFrame
    gradients: pd.DataFrame
    activations: pd.DataFrame
    records: dict[str, pd.DataFrame]
    problems: list[str]
    files: list[Path]

    def __getitem__(self, record_type: str) -> pd.DataFrame:
        """The flat table of one record type (empty if the logs have none)."""
        return self.records.get(record_type, pd.DataFrame(columns=["run"]))

    @property
    def n_layers(self) -> int:
        """The most weight layers any run has."""
        values = pd.to_numeric(self.runs.get("n_layers"), errors="coerce")
        return int(values.max()) if values is not None and values.notna().any() else 0

    def name(self, run: str) -> str:
        """The short name of a run (its log file's stem), as legends show it."""
        return str(self.runs.set_index("run").at[run, "run_name"])


def read_logs(source: PathLike | Sequence[PathLike] | None = None, *,
              default_dirs: Sequence[PathLike] = ("logs", "../logs")) -> LogTables:
    """Read logs (see :func:`find_logs` for what ``source`` may be) into a :class:`LogTables`.

    Raises :class:`LogNotFoundError` for a missing path and :class:`LogError` when the files hold
    no log record at all; every smaller problem is reported in ``problems`` and the rest is kept.
    """
    files = find_logs(source, default_dirs=default_dirs)
    problems: list[str] = []
    runs: dict[str, list[dict]] = {}
    run_files: dict[str, Path] = {}
    for path in files:
        try:
            records, found = read_records(path)
        except OSError as exc:
            raise LogError(f"cannot read log {path}: {exc.strerror or exc}") from exc
        problems.extend(found)
        if not records:
            problems.append(f"{path}: no log records")
            continue
        keys_here: dict[str | None, str] = {}
        for record in records:
            run_id = record.get("run_id")
            if run_id not in keys_here:
                key = str(run_id) if run_id is not None else path.stem
                if key in runs:  # same run id in another file (a copy), or seed logs with one stem
                    key = f"{key} ({path})"
                keys_here[run_id] = key
                runs[key] = []
                run_files[key] = path
            record["run"] = keys_here[run_id]
            record["file"] = str(path)
            record["time"] = parse_time(record.get("timestamp"))
            runs[keys_here[run_id]].append(record)
    if not runs:
        raise LogError(f"no log records in {', '.join(map(str, files))}"
                       + (f" ({problems[0]})" if problems else ""))

    all_records = [r for rs in runs.values() for r in rs]
    by_type: dict[str, list[dict]] = {}
    for r in all_records:
        by_type.setdefault(r["type"], []).append(r)
    records = {kind: _flat(rs) for kind, rs in by_type.items()}

    summaries = [_run_summary(key, rs, run_files[key]) for key, rs in runs.items()]
    runs_df = pd.DataFrame(summaries)
    _set_labels(runs_df)
    labels = dict(zip(runs_df["run"], runs_df["run_name"]))
    epochs = _epochs(by_type.get("epoch_end", []), labels)
    _add_best(runs_df, epochs)
    steps = dict(zip(runs_df["run"], runs_df["steps_per_epoch"]))
    return LogTables(runs=runs_df, epochs=epochs,
                     weights=_per_layer(by_type.get("weight_snapshot", []), "layers", labels),
                     gradients=_gradients(by_type.get("mini_batch", []), labels, steps),
                     activations=_activations(by_type.get("activation_pattern", []), labels),
                     records=records, problems=problems, files=files)


def _flat(records: list[dict]) -> pd.DataFrame:
    frame = pd.json_normalize(records, sep=".")
    front = [c for c in ("run", "type", "epoch", "time") if c in frame.columns]
    return frame[front + [c for c in frame.columns if c not in front]]


def _first(records: list[dict], kind: str) -> dict | None:
    return next((r for r in records if r["type"] == kind), None)


def _last(records: list[dict], kind: str) -> dict | None:
    return next((r for r in reversed(records) if r["type"] == kind), None)


def _fields(record: dict, skip: Iterable[str] = ()) -> dict:
    """``record`` without the ``skip`` keys, nested objects flattened to dotted keys; lists (of
    unknown per-layer or per-class values) stay as they are, one cell each."""
    skip = set(skip)
    out = {}
    for key, value in record.items():
        if key in skip:
            continue
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in _fields(value).items()})
        else:
            out[key] = value
    return out


def _scalar(value):
    """A value fit for one cell of a summary row: nested objects become JSON text."""
    return json.dumps(value) if isinstance(value, (dict, list, tuple)) else value


def _run_summary(key: str, records: list[dict], path: Path) -> dict:
    """One row: where the run is from, its configuration, its size, how far it got, how it ended."""
    start = _first(records, "run_start")
    end = _last(records, "training_complete")
    config = dict((start or {}).get("config") or {})
    data = dict((start or {}).get("data") or {})
    versions = {r.get("schema_version") for r in records} - {None}
    row: dict = {
        "run": key, "file": str(path), "format": "nnjax" if start or versions else "seed",
        "schema_version": max(versions) if versions else None,
        "run_id": (start or records[0]).get("run_id"),
        "session_id": (start or end or {}).get("session_id"),
        "started": min((r["time"] for r in records if r["time"] is not pd.NaT), default=pd.NaT),
    }
    weight_layers = max((len(r.get("layers") or []) for r in records if r["type"] == "weight_snapshot"),
                        default=0)
    grad_layers = max((len(v) for r in records if r["type"] == "mini_batch"
                       for v in (r.get("gradient_stats") or {}).values() if isinstance(v, list)),
                      default=0)
    sizes = config.get("sizes")
    if not sizes:
        pattern = _first(records, "activation_pattern")
        layers = (pattern or {}).get("layers") or (pattern or {}).get("layer_activations") or []
        sizes = [None] + [layer.get("total_neurons") for layer in layers] if layers else None
    n_layers = len(sizes) - 1 if sizes else max(weight_layers, grad_layers) or None
    row.update(sizes="-".join("?" if s is None else str(s) for s in sizes) if sizes else None,
               n_layers=n_layers, hidden_layers=n_layers - 1 if n_layers else None)
    optimizer = config.get("optimizer")
    for name in ("activation", "output_activation", "cost", "init"):
        row[name] = config.get(name)
    row["optimizer"] = optimizer.get("name") if isinstance(optimizer, dict) else optimizer
    for name in ("learning_rate", "mini_batch_size", "l2", "seed", "log_interval"):
        row[name] = config.get(name)
    if row["learning_rate"] is None and isinstance(optimizer, dict):
        row["learning_rate"] = optimizer.get("learning_rate")
    first_epoch = _first(records, "epoch_start")
    batches = [r for r in records if r["type"] == "mini_batch"]
    row["epochs_planned"] = config.get("epochs") or (first_epoch or {}).get("total_epochs")
    row["n_train"] = data.get("n_train")
    row["n_test"] = data.get("n_test")
    row["steps_per_epoch"] = data.get("steps_per_epoch") or _infer_steps(batches)
    if row["mini_batch_size"] is None and batches:
        row["mini_batch_size"] = batches[0].get("batch_size")
    ends = [r for r in records if r["type"] == "epoch_end"]
    row["epochs_completed"] = len({r.get("epoch") for r in ends})
    if end is not None:
        row["status"] = end.get("status") or "completed"  # the seed wrote no status
        row["total_seconds"] = end.get("total_duration_seconds")
    else:
        row["status"] = INCOMPLETE
        durations = [r.get("duration_seconds") for r in ends if r.get("duration_seconds") is not None]
        row["total_seconds"] = float(sum(durations)) if durations else None
    bad = _first(records, "nonfinite")
    row["nonfinite_step"] = bad.get("step") if bad else None
    # extra keys other engineers add (a sweep id, ...): kept, prefixed where they came from
    for name, value in (start or {}).items():
        if name not in ("type", "run_id", "schema_version", "timestamp", "session_id", "config",
                        "data", "environment", "_line", "run", "file", "time"):
            row.setdefault(name, _scalar(value))
    for name, value in config.items():
        row.setdefault(f"config.{name}", _scalar(value))
    environment = (start or {}).get("environment") or {}
    row["backend"] = environment.get("backend")
    row["device"] = environment.get("device")
    return row


def _infer_steps(batches: list[dict]) -> int | None:
    """Mini-batches per epoch from the logged indices: the last logged index plus the interval."""
    indices = sorted({int(r["batch_idx"]) for r in batches if isinstance(r.get("batch_idx"), int)})
    if not indices:
        return None
    gaps = np.diff(indices)
    interval = int(gaps[gaps > 0].min()) if (gaps > 0).any() else 1
    return indices[-1] + interval


def _set_labels(runs: pd.DataFrame) -> None:
    """A short, unique name per run for legends: the file name (plus the run id when a file holds
    several runs)."""
    labels = []
    per_file = runs.groupby("file")["run"].transform("count")
    for (_, row), count in zip(runs.iterrows(), per_file):
        label = Path(row["file"]).stem
        if count > 1:
            label += f" [{str(row['run'])[-8:]}]"
        labels.append(label)
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    runs.insert(1, "run_name", unique)


def _epochs(records: list[dict], labels: dict) -> pd.DataFrame:
    rows = []
    for r in records:
        row = _fields(r, ("type", "timestamp", "_line"))
        if row.get("accuracy_percent") is None and row.get("test_accuracy") is not None \
                and row.get("test_total"):
            row["accuracy_percent"] = 100.0 * row["test_accuracy"] / row["test_total"]
        rows.append(row)
    columns = ["run", "run_name", "epoch", "test_accuracy", "test_total", "accuracy_percent",
               "duration_seconds", "train_cost", "eval_seconds"]
    frame = pd.DataFrame(rows, columns=None if rows else columns)
    for c in columns:
        if c not in frame.columns:
            frame[c] = np.nan
    frame["run_name"] = frame["run"].map(labels)
    for c in ("accuracy_percent", "duration_seconds", "train_cost", "eval_seconds"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    frame = frame.drop_duplicates(["run", "epoch"], keep="last")
    return _front(frame.sort_values(["run", "epoch"], kind="stable").reset_index(drop=True))


def _add_best(runs: pd.DataFrame, epochs: pd.DataFrame) -> None:
    best, best_epoch, final = [], [], []
    for run in runs["run"]:
        acc = epochs.loc[(epochs["run"] == run) & epochs["accuracy_percent"].notna()]
        if acc.empty:
            best.append(np.nan), best_epoch.append(None), final.append(np.nan)
            continue
        i = acc["accuracy_percent"].idxmax()  # the first epoch reaching the best
        best.append(float(acc.at[i, "accuracy_percent"]))
        best_epoch.append(int(acc.at[i, "epoch"]))
        final.append(float(acc["accuracy_percent"].iloc[-1]))
    runs["best_accuracy"] = best
    runs["best_epoch"] = pd.array(best_epoch, dtype="Int64")
    runs["final_accuracy"] = final


def _per_layer(records: list[dict], key: str, labels: dict) -> pd.DataFrame:
    """Records holding a list of per-layer objects under ``key`` → one row per record × layer."""
    rows = []
    for r in records:
        base = _fields(r, (key, "type", "timestamp", "_line", "layer_activations"))
        for position, layer in enumerate(r.get(key) or []):
            if isinstance(layer, dict):
                rows.append({**base, "layer": position, **_fields(layer)})
    if not rows:
        return pd.DataFrame(columns=["run", "run_name", "epoch", "layer"])
    frame = pd.DataFrame(rows)
    frame["run_name"] = frame["run"].map(labels)
    sort = [c for c in ("run", "epoch", "layer") if c in frame.columns]
    return _front(frame.sort_values(sort, kind="stable").reset_index(drop=True))


INTEGER_COLUMNS = ("epoch", "batch_idx", "step", "layer", "batch_size", "test_accuracy", "test_total",
                   "schema_version", "sample_idx", "label", "prediction", "epochs_completed")


def _front(frame: pd.DataFrame) -> pd.DataFrame:
    """The key columns first, then the measurements, then where each row came from; counts as
    integers (nullable ``Int64``, so a missing value stays missing rather than making floats)."""
    for column in INTEGER_COLUMNS:
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.notna().any() and (values.dropna() % 1 == 0).all():
                frame[column] = values.astype("Int64")
    first = [c for c in ("run", "run_name", "epoch", "batch_idx", "step", "progress", "layer")
             if c in frame.columns]
    last = [c for c in ("time", "run_id", "schema_version", "file") if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first + last] + last]


def _gradients(records: list[dict], labels: dict, steps: dict) -> pd.DataFrame:
    """``mini_batch`` records → one row per record × layer with each per-layer list of
    ``gradient_stats`` (``weight_mean``, ``weight_max``, ``bias_mean``, ``bias_max``, and any other)
    as a column, plus ``progress``: the epoch as a fraction (epoch + batch_idx / steps per epoch)."""
    rows = []
    for r in records:
        base = _fields(r, ("gradient_stats", "type", "timestamp", "_line"))
        stats = {k: v for k, v in (r.get("gradient_stats") or {}).items() if isinstance(v, list)}
        n = max((len(v) for v in stats.values()), default=0)
        for layer in range(n):
            rows.append({**base, "layer": layer,
                         **{k: (v[layer] if layer < len(v) else None) for k, v in stats.items()}})
    if not rows:
        return pd.DataFrame(columns=["run", "epoch", "batch_idx", "layer", "progress"])
    frame = pd.DataFrame(rows)
    frame["run_name"] = frame["run"].map(labels)
    per_epoch = frame["run"].map(steps).astype(float)
    frame["progress"] = frame["epoch"] + frame["batch_idx"] / per_epoch.where(per_epoch > 0)
    return _front(frame.sort_values(["run", "epoch", "batch_idx", "layer"], kind="stable")
                  .reset_index(drop=True))


def _activations(records: list[dict], labels: dict) -> pd.DataFrame:
    # the seed called the per-layer list ``layer_activations``
    normalised = [{**r, "layers": r.get("layers", r.get("layer_activations"))} for r in records]
    frame = _per_layer(normalised, "layers", labels)
    return frame


# -- the seed's questions ------------------------------------------------------------------------
def learning_progress(tables: LogTables, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """"Is it still learning — when did it stop improving?", per run.

    An epoch *improves* when its test accuracy beats the best of all earlier epochs by more than
    ``threshold`` percentage points (the first epoch with an accuracy sets the baseline).
    ``last_improvement`` is the last such epoch; ``still_learning`` is true when that is the last
    epoch logged. Runs without test accuracy get ``None`` and say so in ``verdict``.
    """
    rows = []
    for run, name in zip(tables.runs["run"], tables.runs["run_name"]):
        acc = tables.epochs.loc[(tables.epochs["run"] == run) & tables.epochs["accuracy_percent"].notna(),
                                ["epoch", "accuracy_percent"]]
        row = {"run": run, "run_name": name, "threshold_pp": threshold}
        if acc.empty:
            rows.append({**row, "best_accuracy": None, "best_epoch": None, "last_improvement": None,
                         "epochs_since": None, "still_learning": None,
                         "verdict": "no test accuracy in the log (trained without test data?)"})
            continue
        best, last_improvement = -math.inf, None
        for epoch, value in acc.itertuples(index=False):
            if last_improvement is None or value > best + threshold:
                last_improvement = int(epoch)
            best = max(best, value)
        last_epoch = int(acc["epoch"].iloc[-1])
        i = acc["accuracy_percent"].idxmax()
        since = last_epoch - last_improvement
        still = since == 0
        if still:
            verdict = (f"still improving: epoch {last_improvement} (the last logged) raised the best "
                       f"accuracy by more than {threshold:g} pp")
        else:
            verdict = (f"stopped improving after epoch {last_improvement}: the {since} epoch"
                       f"{'s' if since > 1 else ''} since raised the best by at most {threshold:g} pp")
        rows.append({**row, "best_accuracy": float(acc.at[i, "accuracy_percent"]),
                     "best_epoch": int(acc.at[i, "epoch"]), "last_improvement": last_improvement,
                     "epochs_since": since, "still_learning": still, "verdict": verdict})
    return pd.DataFrame(rows)


def layer_change(tables: LogTables) -> pd.DataFrame:
    """"Which layer changes most?": each layer's relative weight change per epoch.

    The log keeps statistics, not weights, so the change is measured between consecutive
    ``weight_snapshot``\\ s as ``sqrt(Δmean² + Δstd²) / rms`` with ``rms = sqrt(mean² + std²)`` of
    the earlier snapshot (the root-mean-square weight, ‖W‖/√n). It is a lower bound of the true
    relative change ‖W_t − W_{t−1}‖ / ‖W_{t−1}‖ (the Gelbrich bound on the distance between the two
    weight distributions). The first snapshot of a run has no predecessor (``NaN``).
    Columns: run, run_name, epoch, layer, rms, relative_change.
    """
    w = tables.weights
    needed = {"run", "epoch", "layer", "weight_mean", "weight_std"}
    if w.empty or not needed <= set(w.columns):
        return pd.DataFrame(columns=["run", "run_name", "epoch", "layer", "rms", "relative_change"])
    frame = w[["run", "run_name", "epoch", "layer", "weight_mean", "weight_std"]].copy()
    frame[["weight_mean", "weight_std"]] = frame[["weight_mean", "weight_std"]].astype(float)
    frame = frame.sort_values(["run", "layer", "epoch"], kind="stable")
    frame["rms"] = np.hypot(frame["weight_mean"], frame["weight_std"])
    grouped = frame.groupby(["run", "layer"], sort=False)
    d_mean = grouped["weight_mean"].diff()
    d_std = grouped["weight_std"].diff()
    previous = grouped["rms"].shift()
    frame["relative_change"] = np.hypot(d_mean, d_std) / previous.where(previous > 0)
    frame = frame.drop(columns=["weight_mean", "weight_std"])
    return frame.sort_values(["run", "epoch", "layer"], kind="stable").reset_index(drop=True)


def layer_change_summary(tables: LogTables) -> pd.DataFrame:
    """Per run and layer: mean and last relative weight change (see :func:`layer_change`), and
    which layer changes most (the largest mean)."""
    change = layer_change(tables).dropna(subset=["relative_change"])
    if change.empty:
        return pd.DataFrame(columns=["run", "run_name", "layer", "mean_change", "last_change",
                                     "changes_most"])
    summary = (change.groupby(["run", "run_name", "layer"], sort=False)["relative_change"]
               .agg(mean_change="mean", last_change="last").reset_index())
    top = summary.groupby("run")["mean_change"].transform("max")
    summary["changes_most"] = summary["mean_change"] == top
    return summary


def run_summary(tables: LogTables) -> pd.DataFrame:
    """The summary table of the notebook and the report: one row per run with the run's
    configuration, best and final accuracy, epochs, total time and status."""
    columns = ["run_name", "format", "sizes", "activation", "cost", "init", "optimizer", "learning_rate",
               "mini_batch_size", "seed", "n_train", "n_test", "epochs_completed", "epochs_planned",
               "best_accuracy", "best_epoch", "final_accuracy", "total_seconds", "status"]
    return tables.runs[[c for c in columns if c in tables.runs.columns]].reset_index(drop=True)


__all__ = ["LogTables", "LogError", "LogNotFoundError", "find_logs", "read_logs", "read_records",
           "parse_time", "learning_progress", "layer_change", "layer_change_summary", "run_summary",
           "LOGS_ENV", "DEFAULT_THRESHOLD", "INCOMPLETE"]
