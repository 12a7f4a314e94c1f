"""The learning-mode log: one JSONL file per training run, written on the host, never traced.

Schema (version 1). Every line is a JSON object with ``type``, ``run_id``, ``schema_version`` and
``timestamp`` (UTC, ISO 8601). Record types, in the order a run writes them:

- ``run_start``: ``config`` (sizes, activation, cost, init, optimizer and hyperparameters,
  mini-batch size, epochs, seed, log interval, monitor flags, early stopping and schedule, ...),
  ``data`` (source, sizes, ``n_evaluation``), ``environment``
  (library versions, JAX backend and device, dtype).
- ``epoch_start``: ``epoch`` (0-based, as the book prints), ``total_epochs``.
- ``mini_batch``: ``epoch``, ``batch_idx``, ``step`` (global), ``batch_size``, ``gradient_stats``:
  per-layer lists ``weight_mean``/``weight_max`` (mean and max of |∂C/∂w| of the true gradient,
  not the update) and ``bias_mean``/``bias_max``; ``update_stats``: per-layer lists
  ``weight_update_ratio`` (‖Δw‖/‖w‖, Frobenius norms, Δw the optimizer's actual update, w before
  the step; rule of thumb ≈ 1e-3), ``bias_update_ratio``, ``weight_grad_norm`` (‖∂C/∂w‖),
  ``bias_grad_norm``, ``weight_update_norm`` (‖Δw‖) and ``weight_norm`` (‖w‖).
- ``weight_snapshot``: ``epoch``, ``layers``: one object per layer with ``weight_mean``,
  ``weight_std``, ``weight_min``, ``weight_max``, ``bias_mean``, ``bias_std``.
- ``probe_stats`` (``config.diagnostics``, after each epoch's ``weight_snapshot``): ``epoch``,
  ``probe_size`` (the same probe images all run: 1,000 fixed images), ``saturation_distance``,
  ``saturation_rule`` and ``dead_rule`` (the stated rules, null where they do not apply),
  ``hidden_layers``: per hidden layer (``layer`` = index of the weight layer producing it, 0-based
  as in ``weight_snapshot``) ``activation``, ``activation_mean``, ``activation_std``,
  ``saturated_fraction`` (share of units saturated on ≥ 99 % of the probe images; sigmoid/tanh,
  else null), ``saturated_output_fraction`` (share of single outputs saturated), ``dead_fraction``
  (ReLU: share of units ≤ 0 on every probe image, else null); ``output_layer``: the same for the
  output layer; ``weight_histograms``: per weight
  layer ``layer``, ``edges`` (fixed for the run), ``counts``, ``below``, ``above``;
  ``gradient_histograms``: per layer the same for |∂C/∂w| on the probe batch with ``scale``
  ``"log10_abs"`` (edges in log10 |g|), plus ``zeros`` (exact zeros); both kinds count ``nan`` apart.
- ``epoch_end``: ``epoch``, ``test_accuracy`` (number correct, null without test data),
  ``test_total``, ``accuracy_percent``, ``duration_seconds`` (training, device finished),
  ``train_cost`` (mean mini-batch cost), ``eval_seconds``, ``learning_rate`` (the rate used in
  this epoch; null for a custom optimizer). The book's monitors add, when asked
  (``TrainConfig.monitor_*``): ``training_cost`` (cost of the whole training set after the epoch,
  L2 term included), ``training_accuracy`` (number correct), ``training_total``,
  ``training_accuracy_percent``; with evaluation data (``fit(..., evaluation_data=...)``, the
  validation set): ``evaluation_cost``, ``evaluation_accuracy`` (number correct),
  ``evaluation_total``, ``evaluation_accuracy_percent``.
- ``schedule``: ``epoch`` (after which it was decided), ``event`` (``halve_learning_rate``,
  ``stop_min_learning_rate`` or ``early_stop``), ``best_evaluation_accuracy`` (number correct),
  ``epochs_without_improvement``; for learning-rate events also ``learning_rate`` (the old rate),
  ``next_learning_rate`` and ``halvings``.
- ``nonfinite``: ``epoch``, ``step``, ``action`` (``stopped``/``continued``), ``layers``: per layer
  NaN/inf counts of gradients and parameters, ``cost`` (the mini-batch cost at that step, null
  when it was itself inf/NaN) and ``cost_finite``.
- ``activation_pattern``: ``sample_idx``, ``label``, ``prediction``, ``correct``, ``layers``: one
  per layer after the input (the input pixels are not a layer; ``layer`` 1 is the first hidden
  layer), each with ``role`` (``hidden``/``output``), ``activation``, ``mean_activation``,
  ``max_activation``, ``active_neurons`` with ``active_rule`` (what "active" means for it: > 0 for
  ReLU/tanh/linear, > 0.5 for sigmoid), ``total_neurons``; for sigmoid/tanh also
  ``saturated_neurons`` with ``saturated_rule`` (within 0.01 of a bound).
- ``evaluation_report`` (end of run, with test data and ``config.diagnostics``): ``n_examples``,
  ``correct``, ``confusion_matrix`` (rows the true digit, columns the prediction),
  ``per_class_accuracy``, ``misclassified_indices`` (into the test set), ``misclassified_labels``,
  ``misclassified_predictions``.
- ``diagnosis`` (end of run, ``config.diagnostics``): ``flags``: list of ``name``
  (``at_chance``, ``saturated``, ``dead_units``, ``update_ratio_low``, ``update_ratio_high``),
  ``layer`` (or null), ``epoch``, ``value``, ``threshold``, ``hint``; ``summary``: one line per flag.
  The rules are in :mod:`nnjax.diagnose`.
- ``training_complete``: ``total_duration_seconds``, ``session_id``, ``status`` (``completed``,
  ``interrupted``, ``nonfinite``, ``early_stopped``, ``error``), ``epochs_completed``,
  ``diagnosis`` (:func:`nnjax.outcome.diagnose`: ``at_chance`` — final test accuracy no better than
  always guessing the most common digit —, ``chance_percent``, ``final_accuracy_percent``,
  ``nonfinite_step``, ``message``).

Strict JSON: a NaN or infinity is written as ``null`` and the record gets ``nonfinite_values``, the
number of values so replaced. Each line is written with a single ``write`` and flushed, so a killed
run leaves every complete line valid; readers skip a torn last line and report it
(:func:`read_records`). Adding a key keeps the version;
renaming a key or changing a meaning bumps ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

SCHEMA_VERSION = 1
RECORD_TYPES = ("run_start", "epoch_start", "mini_batch", "weight_snapshot", "probe_stats",
                "epoch_end", "nonfinite", "activation_pattern", "evaluation_report", "diagnosis",
                "training_complete", "schedule")
_KEPT_FOR_DIAGNOSIS = {"run_start": ("config",), "epoch_end": ("epoch", "accuracy_percent"),
                       "mini_batch": ("epoch", "update_stats"),
                       "probe_stats": ("epoch", "hidden_layers", "output_layer"),
                       "evaluation_report": ("n_examples", "confusion_matrix"),
                       "nonfinite": ("epoch", "step", "action")}


class LogDirError(ValueError):
    """The log folder cannot be created or written."""


class LogWriteError(OSError):
    """A record could not be written to the log file during training (from a host callback)."""


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def to_json_safe(value: Any) -> tuple[Any, int]:
    """``value`` with NumPy/JAX scalars and arrays made plain, non-finite floats made ``None``;
    also returns how many values were replaced."""
    replaced = 0

    def walk(v):
        nonlocal replaced
        if isinstance(v, dict):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        if hasattr(v, "__array__") and not isinstance(v, (str, bytes)):
            v = np.asarray(v)
            return walk(v.tolist()) if v.ndim else walk(v.item())
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            if math.isfinite(v):
                return float(v)
            replaced += 1
            return None
        if isinstance(v, Path):
            return str(v)
        return v

    return walk(value), replaced


def check_writable(log_dir: str | os.PathLike) -> Path:
    """Create ``log_dir`` if needed and prove a file can be written there; raises :class:`LogDirError`."""
    path = Path(log_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".nnjax-write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise LogDirError(f"cannot write logs to {path}: {exc.strerror or exc}. Choose a writable "
                          f"folder (log_dir=... or --log-dir) or fix its permissions") from exc
    return path


class TrainingLogger:
    """Writes one run's JSONL log under ``log_dir`` (``logs/training_YYYYMMDD_HHMMSS[_N].jsonl``).

    The file is reserved at creation with exclusive create, so two loggers created in the same
    second — in threads or processes — get two files. Thread-safe; every line whole and flushed.
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", *, prefix: str = "training",
                 run_id: str | None = None):
        self.log_dir = check_writable(log_dir)
        now = _dt.datetime.now(_dt.timezone.utc)
        stamp = now.strftime("%Y%m%d_%H%M%S")
        self.session_id = stamp
        self.run_id = run_id or f"{stamp}_{uuid.uuid4().hex[:8]}"
        self.log_file, self._fd = self._reserve(prefix, stamp)
        self._lock = threading.Lock()
        self.epoch_metrics: list[dict] = []
        self.status: str | None = None
        self.diagnosis: dict | None = None
        self.callback_errors: list[str] = []
        self.flags: list[dict] | None = None
        self._for_diagnosis: list[dict] = []

    def _reserve(self, prefix: str, stamp: str) -> tuple[Path, int]:
        for n in range(1, 10_000):
            name = f"{prefix}_{stamp}.jsonl" if n == 1 else f"{prefix}_{stamp}_{n}.jsonl"
            path = self.log_dir / name
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue
            except OSError as exc:
                raise LogDirError(f"cannot create a log file in {self.log_dir}: {exc}") from exc
            return path, fd
        raise LogDirError(f"{self.log_dir}: too many logs named {prefix}_{stamp}*")

    # -- writing -------------------------------------------------------------------------------
    def write(self, record_type: str, **fields) -> dict:
        """Write one record (a line) and return it as written."""
        record = {"type": record_type, "run_id": self.run_id, "schema_version": SCHEMA_VERSION,
                  "timestamp": utc_now(), **fields}
        record, replaced = to_json_safe(record)
        if replaced:
            record["nonfinite_values"] = replaced
        line = (json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n").encode()
        if record_type in _KEPT_FOR_DIAGNOSIS:  # a slim copy, for diagnosis() at the end
            self._for_diagnosis.append({"type": record_type, **{
                k: record[k] for k in _KEPT_FOR_DIAGNOSIS[record_type] if k in record}})
        with self._lock:
            if self._fd is None:  # closed, or discarded while empty
                self._fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            start = os.lseek(self._fd, 0, os.SEEK_END)
            view = memoryview(line)
            try:
                while view:
                    try:
                        written = os.write(self._fd, view)
                    except InterruptedError:
                        continue
                    view = view[written:]
            except OSError:  # a full disk, a file-size limit: take back the part of the line
                os.ftruncate(self._fd, start)
                raise
        return record

    def discard_if_empty(self) -> bool:
        """Remove the log file if nothing was written to it (a run refused before it started), so
        that it does not pass for the newest log; a later record creates it again. Returns whether
        it was removed."""
        with self._lock:
            try:
                if os.stat(self.log_file).st_size:
                    return False
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                os.unlink(self.log_file)
            except FileNotFoundError:
                return False
            return True

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- the record types ----------------------------------------------------------------------
    def log_run_start(self, *, config: dict, data: dict, environment: dict) -> dict:
        return self.write("run_start", session_id=self.session_id, config=config, data=data,
                          environment=environment)

    def log_epoch_start(self, epoch: int, total_epochs: int) -> dict:
        return self.write("epoch_start", epoch=epoch, total_epochs=total_epochs)

    def log_mini_batch(self, *, epoch: int, batch_idx: int, step: int, batch_size: int,
                       gradient_stats: dict, **groups) -> dict:
        return self.write("mini_batch", epoch=epoch, batch_idx=batch_idx, step=step,
                          batch_size=batch_size, gradient_stats=gradient_stats, **groups)

    def on_stats(self, batch_size: int):
        """The host end of the training step's callback: a function that writes ``mini_batch``
        records, one field per group of :func:`nnjax.stats.step_stats` (per-layer lists). It never
        raises (an exception there would abort the compiled epoch); errors are kept in
        ``callback_errors``."""
        from nnjax.stats import to_lists

        def sink(payload: dict) -> None:
            try:
                groups = {name: to_lists(group) for name, group in payload["stats"].items()}
                self.log_mini_batch(epoch=int(payload["epoch"]), batch_idx=int(payload["batch_idx"]),
                                    step=int(payload["step"]), batch_size=batch_size, **groups)
            except Exception as exc:  # noqa: BLE001 - must not propagate into XLA
                self.callback_errors.append(repr(exc))

        return sink

    def on_epoch_stats(self, probe_fields: Callable[[dict], dict] | None = None):
        """The host end of the epoch's last callback (``on_epoch_stats`` of
        :func:`nnjax.train.make_train_epoch`): writes the ``weight_snapshot`` record from the
        result's ``"weights"`` (:func:`nnjax.stats.weight_stats`) and, if the result has a
        ``"probe"``, the ``probe_stats`` record with the fields ``probe_fields(result["probe"])``.
        Never raises; errors are kept in ``callback_errors``, like :meth:`on_stats`."""
        from nnjax.stats import to_rows

        def sink(epoch: int, result: dict) -> None:
            try:
                self.log_weight_snapshot(epoch, to_rows(result["weights"]))
                if "probe" in result:
                    self.log_probe_stats(epoch, **probe_fields(result["probe"]))
            except Exception as exc:  # noqa: BLE001 - must not propagate into XLA
                self.callback_errors.append(repr(exc))

        return sink

    def raise_callback_errors(self) -> None:
        """Raise :class:`LogWriteError` if a callback failed to write a record (a full disk, say):
        the training goes on in compiled code, so this is where the run learns of it."""
        if self.callback_errors:
            errors, self.callback_errors = self.callback_errors, []
            raise LogWriteError(f"could not write {len(errors)} record(s) to {self.log_file}; the "
                                f"first error: {errors[0]}")

    def log_weight_snapshot(self, epoch: int, layers: list[dict]) -> dict:
        return self.write("weight_snapshot", epoch=epoch, layers=layers)

    def log_epoch_end(self, epoch: int, test_accuracy: int | None, test_total: int | None,
                      duration_seconds: float, **extra) -> dict:
        accuracy_percent = (100.0 * test_accuracy / test_total
                            if test_accuracy is not None and test_total else None)
        record = self.write("epoch_end", epoch=epoch, test_accuracy=test_accuracy,
                            test_total=test_total, accuracy_percent=accuracy_percent,
                            duration_seconds=duration_seconds, **extra)
        self.epoch_metrics.append(record)
        return record

    def log_probe_stats(self, epoch: int, **fields) -> dict:
        return self.write("probe_stats", epoch=epoch, **fields)

    def log_evaluation_report(self, **fields) -> dict:
        return self.write("evaluation_report", **fields)

    def diagnosis_records(self) -> list[dict]:
        """Slim copies of the records :func:`nnjax.diagnose.diagnose` reads, as written so far."""
        return list(self._for_diagnosis)

    def log_diagnosis(self, flags: list[dict]) -> dict:
        """Write the run's flags (see :mod:`nnjax.diagnose`); ``get_summary()`` then lists them."""
        from nnjax.diagnose import summary_lines

        self.flags = list(flags)
        return self.write("diagnosis", flags=self.flags, summary=summary_lines(self.flags))
    def log_schedule(self, epoch: int, event: str, **fields) -> dict:
        """A learning-rate change or an early stop decided after ``epoch``."""
        return self.write("schedule", epoch=epoch, event=event, **fields)

    def log_nonfinite(self, *, epoch: int, step: int, action: str, layers: list[dict],
                      cost: float | None = None) -> dict:
        extra = {}
        if cost is not None:  # the mini-batch cost at that step: null (counted) when inf/NaN
            extra = {"cost": cost, "cost_finite": bool(np.isfinite(cost))}
        return self.write("nonfinite", epoch=epoch, step=step, action=action, layers=layers, **extra)

    def log_activation_pattern(self, sample_idx, activations, label, prediction, *,
                               activation: str = "sigmoid", output_activation: str | None = None) -> dict:
        """Record how one example lit up the network.

        ``activations`` is ``net.get_all_activations(x)``: the input first (pixels, not a layer:
        never counted), then each layer (``layer`` 1 = first hidden layer; ``role`` says hidden or
        output). Per layer: mean and max activation, and how many units are "active" by the rule of
        that layer's activation, stated in ``active_rule``: > 0 for ReLU (a unit at 0 passes no
        gradient), tanh and linear, > 0.5 for sigmoid. For sigmoid and tanh, what matters for
        learning is saturation, so they also get ``saturated_neurons``: outputs within
        ``SATURATION_DISTANCE`` (0.01) of a bound, where σ' ≈ 0 (rule in ``saturated_rule``).
        NumPy or JAX scalars are accepted for the index, label and prediction.
        """
        from nnjax.activations import ACTIVE_THRESHOLD, BOUNDS
        from nnjax.activations import SATURATION_DISTANCE as eps

        acts = [np.asarray(a, dtype=np.float64).reshape(-1) for a in activations][1:]
        layers = []
        for i, act in enumerate(acts, start=1):
            name = (output_activation or activation) if i == len(acts) else activation
            threshold = ACTIVE_THRESHOLD.get(name, 0.5)
            row = {"layer": i, "role": "output" if i == len(acts) else "hidden",
                   "activation": name, "mean_activation": float(act.mean()),
                   "max_activation": float(act.max()), "active_neurons": int((act > threshold).sum()),
                   "active_rule": f"> {threshold:g}", "total_neurons": int(act.size)}
            if name in BOUNDS:
                lo, hi = BOUNDS[name]
                row["saturated_neurons"] = int(((act < lo + eps) | (act > hi - eps)).sum())
                row["saturated_rule"] = f"< {lo + eps:g} or > {hi - eps:g}"
            layers.append(row)
        label, prediction = int(np.asarray(label)), int(np.asarray(prediction))
        return self.write("activation_pattern", sample_idx=int(np.asarray(sample_idx)), label=label,
                          prediction=prediction, correct=label == prediction, layers=layers)

    def log_training_complete(self, total_duration_seconds: float, status: str = "completed",
                              **extra) -> dict:
        self.status = status
        self.diagnosis = extra.get("diagnosis")
        return self.write("training_complete", total_duration_seconds=total_duration_seconds,
                          session_id=self.session_id, status=status, **extra)

    # -- reading back --------------------------------------------------------------------------
    def get_summary(self) -> dict:
        """The run at a glance, as the seed's: session id, epochs, final and best accuracy (%),
        improvement from the first to the last epoch, best epoch, status, the log file, and the
        ``diagnosis`` flags (a list, empty when nothing looks wrong; None before the run ends or
        with diagnostics off)."""
        accuracies = [(m["epoch"], m["accuracy_percent"]) for m in self.epoch_metrics
                      if m.get("accuracy_percent") is not None]
        best = max(accuracies, key=lambda ea: ea[1]) if accuracies else (None, None)
        return {
            "session_id": self.session_id,
            "run_id": self.run_id,
            "total_epochs": len(self.epoch_metrics),
            "final_accuracy": accuracies[-1][1] if accuracies else None,
            "best_accuracy": best[1],
            "best_epoch": best[0],
            "accuracy_improvement": (accuracies[-1][1] - accuracies[0][1]
                                     if len(accuracies) > 1 else None),
            "status": self.status,
            "at_chance": (self.diagnosis or {}).get("at_chance"),
            "diagnosis": (self.diagnosis or {}).get("message"),
            "log_file": str(self.log_file),
            "flags": self.flags,
        }


class LogLine(NamedTuple):
    """One non-blank line of a JSONL log: its 1-based ``number``, the parsed JSON ``value`` (None
    when it could not be parsed), the ``error`` met parsing it, and whether it is ``torn``: the
    last line, with no newline after it (what a run killed while writing leaves)."""

    number: int
    value: Any
    error: ValueError | None
    torn: bool


def parse_lines(data: bytes, *, strict: bool = True) -> list[LogLine]:
    """Every non-blank line of a JSONL log's bytes, parsed: the one parser behind every reader
    (:func:`read_records` here, :func:`nnjax.analysis.read_records`, :func:`nnjax.compare.read_records`),
    which differ only in what they say about a bad line. ``strict`` refuses bare ``NaN`` and
    ``Infinity``, which nnjax never writes (the seed's logs may hold them)."""
    def refuse(constant):
        raise ValueError(f"bare {constant} is not strict JSON")

    pieces = data.split(b"\n")
    numbered = [(i, raw) for i, raw in enumerate(pieces, start=1) if raw.strip()]
    unterminated = len(pieces)  # the piece after the last newline: empty in a whole file
    lines = []
    for number, raw in numbered:
        try:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            value, error = json.loads(raw.decode("utf-8"), parse_constant=refuse if strict else None), None
        except ValueError as exc:
            value, error = None, exc
        lines.append(LogLine(number, value, error, number == unterminated))
    return lines


def read_records(path: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """Every record of a log file, and the problems met: ``(records, problems)``.

    A line that is not a strict-JSON object is skipped and reported in ``problems`` (with its line
    number) — typically the torn last line of a run killed while writing. Never raises on content.
    """
    data = Path(path).read_bytes()
    records, problems = [], []
    if data and not data.endswith(b"\n"):
        last = data.count(b"\n") + 1
        problems.append(f"line {last}: no final newline (torn last line of a killed run?)")
    for line in parse_lines(data):
        if line.error is None and not isinstance(line.value, dict):
            line = line._replace(error=ValueError("not a JSON object"))
        if line.error is not None:
            problems.append(f"line {line.number}: skipped, not a valid record ({line.error})")
            continue
        records.append(line.value)
    return records, problems


__all__ = ["TrainingLogger", "LogDirError", "LogWriteError", "SCHEMA_VERSION", "RECORD_TYPES",
           "check_writable", "to_json_safe", "read_records", "parse_lines", "LogLine"]
