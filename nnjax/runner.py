"""Running a training: the host-side loop around the compiled epoch.

:func:`fit` checks everything before any training (configuration, data shapes, labels, pixel range,
log folder), puts the data on the device once, then per epoch: runs the compiled epoch, waits for
the device, evaluates, and hands the numbers to the logger (if any) and to a progress callback (if
any). It never prints.

Stopping: Ctrl-C (SIGINT) stops at the end of the current epoch — the next safe point — and the
run ends with status ``interrupted``, returning the parameters trained so far. An epoch is one
compiled call: stopping inside it would need a host round trip every step, so the wait is at most
one epoch (≈0.3 s for the book's network on a CPU). A second Ctrl-C raises ``KeyboardInterrupt``
(at once, or when the epoch's compiled call returns if Python only regains control then); the
log is still closed first with status ``interrupted``, and that epoch's work is dropped. A
non-finite loss or gradient ends the run with status ``nonfinite`` unless
``stop_on_nonfinite=False``. In every case the log ends with ``training_complete``, written after
``jax.effects_barrier()`` so that no callback record comes after it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import signal
import threading
import time
import warnings
from typing import Callable

import jax
import numpy as np
import optax

from nnjax import network, schedule, stats
from nnjax.config import TrainConfig, describe_optimizer, with_weight_decay
from nnjax.data import Dataset, as_dataset
from nnjax.diagnose import diagnose as diagnosis_flags
from nnjax.diagnostics import RunDiagnostics
from nnjax.logger import TrainingLogger
from nnjax.monitor import make_measure
from nnjax.outcome import diagnose
from nnjax.stats import to_rows
from nnjax.train import make_evaluate, make_train_epoch

STATUSES = ("completed", "interrupted", "nonfinite", "early_stopped", "error")


@dataclasses.dataclass
class FitResult:
    """The outcome of :func:`fit`: trained parameters, one dict per epoch, and how the run ended."""

    params: list
    history: list[dict]
    status: str
    total_seconds: float
    log_file: str | None = None
    diagnosis: dict | None = None  # nnjax.outcome.diagnose: at_chance, message, ...

    @property
    def best_accuracy(self) -> float | None:
        values = [h["accuracy_percent"] for h in self.history if h.get("accuracy_percent") is not None]
        return max(values) if values else None

    @property
    def best_evaluation_accuracy(self) -> float | None:
        """The best evaluation (validation) accuracy in percent, None without evaluation data."""
        values = [h["evaluation_accuracy_percent"] for h in self.history
                  if h.get("evaluation_accuracy_percent") is not None]
        return max(values) if values else None

    @property
    def final_accuracy(self) -> float | None:
        values = [h["accuracy_percent"] for h in self.history if h.get("accuracy_percent") is not None]
        return values[-1] if values else None


def check_data(data, config: TrainConfig, *, name: str) -> Dataset:
    """``data`` as a :class:`Dataset` that fits ``config.sizes``, or a clear error."""
    ds = as_dataset(data, name=name)
    if len(ds) == 0:
        raise ValueError(f"{name} is empty: it needs at least one (image, label) pair")
    network.check_sizes(config.sizes, n_inputs=ds.n_inputs, n_classes=ds.n_classes)
    n_classes = config.sizes[-1]
    low, high = int(ds.labels.min()), int(ds.labels.max())
    if low < 0 or high >= n_classes:
        raise ValueError(f"{name} has labels from {low} to {high}; allowed are 0 to {n_classes - 1} "
                         f"(one per output neuron)")
    lo_px, hi_px = float(ds.images.min()), float(ds.images.max())
    if not (np.isfinite(lo_px) and np.isfinite(hi_px)):
        raise ValueError(f"{name} contains NaN or infinite pixel values")
    if hi_px > 1.0 or lo_px < 0.0:
        hint = " It looks like 0-255 data: divide the images by 255." if hi_px > 1.0 else ""
        warnings.warn(f"{name} has pixel values in [{lo_px:g}, {hi_px:g}], outside [0, 1].{hint}",
                      UserWarning, stacklevel=3)
    return ds


def environment() -> dict:
    """Library versions, JAX backend and device, as ``run_start`` records them."""
    import jaxlib

    from nnjax import __version__

    device = jax.devices()[0]
    return {"nnjax": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "optax": optax.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "backend": jax.default_backend(), "device": str(device),
            "device_kind": getattr(device, "device_kind", None), "device_count": jax.device_count(),
            "dtype": "float32", "x64_enabled": bool(jax.config.jax_enable_x64)}


class SigintWatch:
    """How many times Ctrl-C was pressed inside :func:`stop_on_sigint`.

    While a compiled epoch runs, the main thread waits in XLA and Python runs no signal handler;
    presses made meanwhile reach the handler as one. The C-level wakeup fd
    (``signal.set_wakeup_fd``) gets one byte per delivered signal, so counting those bytes tells a
    second press from a first one even then.
    """

    def __init__(self, wakeup_read_fd: int | None = None):
        self._fd = wakeup_read_fd
        self.presses = 0

    def _drain(self) -> None:
        if self._fd is None:
            return
        while True:
            try:
                data = os.read(self._fd, 512)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            self.presses += data.count(bytes([signal.SIGINT]))

    def is_set(self) -> bool:
        """At least one Ctrl-C: stop at the next safe point."""
        self._drain()
        return self.presses >= 1

    @property
    def aborted(self) -> bool:
        """Two or more: the user wants out now."""
        self._drain()
        return self.presses >= 2


@contextlib.contextmanager
def stop_on_sigint():
    """Within the block, Ctrl-C (SIGINT) is counted instead of raising: the first asks the run to
    stop at the next safe point (``watch.is_set()``); a second means "now" (``watch.aborted``), and
    :func:`fit` then raises ``KeyboardInterrupt`` — after the log is closed. Handled directly (the
    main thread in Python), a second press raises at once, except inside a host callback of the
    compiled epoch, where an exception would abort the epoch as a ``JaxRuntimeError``. Outside the
    main thread signals cannot be caught, so the watch simply stays unset."""
    if threading.current_thread() is not threading.main_thread():
        yield SigintWatch()
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    watch = SigintWatch(read_fd)
    previous = signal.getsignal(signal.SIGINT)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def handler(signum, frame):
        if watch.aborted and not _in_host_callback(frame):
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.set_wakeup_fd(previous_fd)
        os.close(read_fd)
        os.close(write_fd)


def _in_host_callback(frame) -> bool:
    """Whether ``frame`` runs inside a JAX host callback (where raising breaks the compiled call)."""
    while frame is not None:
        if frame.f_code.co_filename.replace("\\", "/").endswith("jax/_src/callback.py"):
            return True
        frame = frame.f_back
    return False


def fit(config: TrainConfig, training_data, test_data=None, *, logger: TrainingLogger | None = None,
        optimizer: optax.GradientTransformation | None = None, params=None,
        on_epoch: Callable[[dict], None] | None = None, evaluation_data=None,
        probe_data=None) -> FitResult:
    """Train a network as ``config`` says; returns a :class:`FitResult`.

    ``training_data`` / ``test_data``: a :class:`Dataset`, ``(images, labels)`` arrays or a list of
    the book's ``(x, y)`` pairs. ``test_data`` is evaluated after every epoch. ``logger`` (a
    :class:`TrainingLogger`) receives the learning-mode log. ``optimizer`` overrides the one the
    config names; ``params`` continues from given parameters. ``on_epoch`` receives each epoch's
    summary dict (used for progress bars).

    ``evaluation_data`` (the book's, usually the validation set) is measured after every epoch as
    the ``monitor_*`` flags of ``config`` ask, with the training data's cost and accuracy if asked;
    early stopping and the learning-rate schedule (``config.early_stopping_n``,
    ``config.lr_schedule_n``, see :mod:`nnjax.schedule`) watch its accuracy. An early stop ends the
    run with status ``early_stopped``.

    With a logger and ``config.diagnostics``, each epoch also logs ``probe_stats`` on 1,000 images
    fixed for the run — from ``probe_data`` if given, else ``evaluation_data``, else
    ``training_data`` — and the run ends with an ``evaluation_report`` (with test data) and a
    ``diagnosis`` record (flags, see :mod:`nnjax.diagnose`).
    """
    try:
        return _fit(config, training_data, test_data, logger=logger, optimizer=optimizer,
                    params=params, on_epoch=on_epoch, evaluation_data=evaluation_data,
                    probe_data=probe_data)
    except BaseException:
        if logger is not None:  # refused before it started (bad data): no empty log file is left
            logger.discard_if_empty()
        raise


def _fit(config, training_data, test_data, *, logger, optimizer, params, on_epoch,
         evaluation_data, probe_data) -> FitResult:
    start = time.perf_counter()
    train_ds = check_data(training_data, config, name="training_data")
    test_ds = check_data(test_data, config, name="test_data") if test_data is not None else None
    eval_ds = (check_data(evaluation_data, config, name="evaluation_data")
               if evaluation_data is not None else None)
    if eval_ds is None and (config.early_stopping_n or config.lr_schedule_n):
        raise ValueError("early_stopping_n and lr_schedule_n watch the evaluation accuracy: pass "
                         "evaluation_data (the validation set), e.g. fit(config, training, test, "
                         "evaluation_data=validation)")
    probe_ds = check_data(probe_data, config, name="probe_data") if probe_data is not None else None
    if config.mini_batch_size > len(train_ds):
        raise ValueError(f"mini_batch_size {config.mini_batch_size} is larger than the training set "
                         f"({len(train_ds)} examples); use at most {len(train_ds)}")

    key = jax.random.key(config.seed)
    init_key, key = jax.random.split(key)
    if params is None:
        params = network.init_params(config.sizes, key=init_key, init=config.init)
    tx = (with_weight_decay(optimizer, config.weight_decay) if optimizer is not None
          else config.build_optimizer())
    opt_state = tx.init(params)
    if config.lr_schedule_n:
        schedule.set_learning_rate(opt_state, config.learning_rate)  # refuses optimizers without one
    steps = len(train_ds) // config.mini_batch_size
    diag = None
    if logger and config.diagnostics:
        probe, source = next((d, name) for d, name in ((probe_ds, "probe_data"),
                                                       (eval_ds, "evaluation_data"),
                                                       (train_ds, "training_data")) if d is not None)
        diag = RunDiagnostics(config, params, probe, source=source)
    train_epoch = make_train_epoch(
        activation=config.activation, output_activation=config.output_activation, cost=config.cost,
        optimizer=tx, mini_batch_size=config.mini_batch_size, l2=config.l2,
        stop_on_nonfinite=config.stop_on_nonfinite,
        **(epoch_logging(logger, config.log_interval, config.mini_batch_size, diag) if logger else {}))
    probe_inputs = diag.inputs if diag else None
    evaluate = make_evaluate(activation=config.activation, output_activation=config.output_activation)
    measure = make_measure(activation=config.activation, output_activation=config.output_activation,
                           cost=config.cost, l2=config.l2)

    images, labels = jax.device_put(train_ds.images), jax.device_put(train_ds.labels)
    if test_ds is not None:
        test_images, test_labels = jax.device_put(test_ds.images), jax.device_put(test_ds.labels)
    if eval_ds is not None:
        eval_images, eval_labels = jax.device_put(eval_ds.images), jax.device_put(eval_ds.labels)

    if logger:
        data_record = {"source": getattr(train_ds, "origin", "user"), "n_train": len(train_ds),
                       "n_test": len(test_ds) if test_ds is not None else None,
                       "n_evaluation": len(eval_ds) if eval_ds is not None else None,
                       "steps_per_epoch": steps}
        config_record = {**config.as_record(), "optimizer": describe_optimizer(optimizer, config)}
        if optimizer is not None:  # a custom optax optimizer: its own rate, if it exposes one
            config_record["learning_rate"] = schedule.find_learning_rate(opt_state)
        logger.log_run_start(config=config_record,
                             data=data_record, environment=environment())

    history: list[dict] = []
    status = "completed"
    nonfinite_reported = False
    try:
        with stop_on_sigint() as interrupted:
            for epoch in range(config.epochs):
                if logger:
                    logger.log_epoch_start(epoch, config.epochs)
                key, epoch_key = jax.random.split(key)
                t0 = time.perf_counter()
                result = train_epoch(params, opt_state, images, labels, epoch_key, epoch,
                                     probe_inputs)
                jax.block_until_ready(result)
                if logger:
                    jax.effects_barrier()  # every record the epoch's callbacks write is written
                    logger.raise_callback_errors()
                if interrupted.aborted:  # a second Ctrl-C, possibly swallowed in a callback
                    raise KeyboardInterrupt
                duration = time.perf_counter() - t0
                params, opt_state = result.params, result.opt_state
                entry = {"epoch": epoch, "duration_seconds": duration,
                         "train_cost": float(result.mean_loss)}
                t1 = time.perf_counter()
                if test_ds is not None:
                    correct = int(evaluate(params, test_images, test_labels))
                    entry.update(test_accuracy=correct, test_total=len(test_ds),
                                 accuracy_percent=100.0 * correct / len(test_ds))
                else:
                    entry.update(test_accuracy=None, test_total=None, accuracy_percent=None)
                entry.update(_monitor(config, measure, params, (images, labels),
                                      (eval_images, eval_labels) if eval_ds is not None else None))
                entry["learning_rate"] = (schedule.find_learning_rate(opt_state) if config.lr_schedule_n
                                          else config.learning_rate if optimizer is None else None)
                entry["eval_seconds"] = time.perf_counter() - t1
                bad_step = int(result.nonfinite.step)
                if bad_step >= 0 and not nonfinite_reported:
                    nonfinite_reported = True
                    action = "stopped" if config.stop_on_nonfinite else "continued"
                    if logger:
                        logger.log_nonfinite(epoch=epoch, step=bad_step, action=action,
                                             layers=_nonfinite_rows(result.nonfinite),
                                             cost=float(result.nonfinite.loss))
                    entry["nonfinite_step"] = bad_step
                if logger:
                    logger.log_epoch_end(epoch, entry["test_accuracy"], entry["test_total"],
                                         duration, train_cost=entry["train_cost"],
                                         eval_seconds=entry["eval_seconds"],
                                         **{k: entry[k] for k in MONITOR_FIELDS if k in entry})
                history.append(entry)
                if on_epoch:
                    on_epoch(entry)
                if bad_step >= 0 and config.stop_on_nonfinite:
                    status = "nonfinite"
                    break
                if interrupted.is_set():
                    status = "interrupted"
                    break
                opt_state, stop = _schedule_step(config, history, opt_state, logger)
                if stop:
                    status = "early_stopped"
                    break
        if diag:
            if test_ds is not None:
                logger.log_evaluation_report(**diag.evaluation_fields(params, test_images, test_labels))
            jax.effects_barrier()  # every mini_batch record is in before the diagnosis reads them
            logger.log_diagnosis(diagnosis_flags(logger.diagnosis_records()))
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except BaseException:
        status = "error"
        raise
    finally:
        total = time.perf_counter() - start
        diagnosis = diagnose(history, status, test_ds.labels if test_ds is not None else None)
        if logger:
            jax.effects_barrier()
            logger.log_training_complete(total, status, epochs_completed=len(history),
                                         diagnosis=diagnosis)
            logger.close()
    return FitResult(params, history, status, total, str(logger.log_file) if logger else None,
                     diagnosis)


def epoch_logging(logger: TrainingLogger, log_every: int, mini_batch_size: int,
                  diag: RunDiagnostics | None = None) -> dict:
    """The learning-mode log's arguments of :func:`nnjax.train.make_train_epoch`: ``mini_batch``
    records every ``log_every`` steps and, at the end of each epoch, measured inside the compiled
    epoch, the ``weight_snapshot`` record and (with ``diag``) the ``probe_stats`` record. The
    compiled epoch then takes ``diag.inputs`` as its ``probe``."""

    def at_epoch_end(params, probe):
        out = {"weights": stats.weight_stats(params)}
        if diag is not None:
            out["probe"] = diag.stats(params, probe)
        return out

    return {"log_every": log_every, "on_stats": logger.on_stats(mini_batch_size),
            "epoch_stats": at_epoch_end,
            "on_epoch_stats": logger.on_epoch_stats(diag.record_fields if diag else None)}


def _nonfinite_rows(nonfinite) -> list[dict]:
    grads = to_rows(nonfinite.grad_counts)
    after = to_rows(nonfinite.param_counts)
    return [{"layer": g["layer"], **{f"grad_{k}": v for k, v in g.items() if k != "layer"},
             **{f"param_{k}": v for k, v in p.items() if k != "layer"}} for g, p in zip(grads, after)]


# Keys the monitors add to each epoch's summary and to its epoch_end record.
MONITOR_FIELDS = ("learning_rate", "training_cost", "training_accuracy", "training_total",
                  "training_accuracy_percent", "evaluation_cost", "evaluation_accuracy",
                  "evaluation_total", "evaluation_accuracy_percent")


def _monitor(config: TrainConfig, measure, params, train_arrays, eval_arrays) -> dict:
    """The book's monitor_* numbers after an epoch, as a dict of the fields asked for."""
    out = {}
    n_train_set = int(train_arrays[1].shape[0])
    n_train = n_train_set  # the n of the L2 term λ/2n
    if config.monitor_training_cost or config.monitor_training_accuracy:
        m = measure(params, *train_arrays, n_train)
        if config.monitor_training_cost:
            out["training_cost"] = float(m.cost)
        if config.monitor_training_accuracy:
            out.update(training_accuracy=int(m.correct), training_total=n_train_set,
                       training_accuracy_percent=100.0 * int(m.correct) / n_train_set)
    needs_accuracy = (config.monitor_evaluation_accuracy or config.early_stopping_n
                      or config.lr_schedule_n)
    if eval_arrays is not None and (needs_accuracy or config.monitor_evaluation_cost):
        m = measure(params, *eval_arrays, n_train)
        n_eval = int(eval_arrays[1].shape[0])
        if config.monitor_evaluation_cost:
            out["evaluation_cost"] = float(m.cost)
        if needs_accuracy:
            out.update(evaluation_accuracy=int(m.correct), evaluation_total=n_eval,
                       evaluation_accuracy_percent=100.0 * int(m.correct) / n_eval)
    return out


def _schedule_step(config: TrainConfig, history: list[dict], opt_state, logger):
    """After an epoch: apply the learning-rate schedule and the early-stopping rule to the
    evaluation accuracies so far; returns the (possibly re-rated) optimizer state and whether to
    stop. Each change is written to the log as a ``schedule`` record."""
    if not (config.early_stopping_n or config.lr_schedule_n):
        return opt_state, False
    accuracies = [h["evaluation_accuracy"] for h in history]
    epoch = history[-1]["epoch"]
    info = {"best_evaluation_accuracy": max(accuracies),
            "epochs_without_improvement": schedule.epochs_without_improvement(accuracies)}
    if config.lr_schedule_n:
        decision = schedule.halving_schedule(accuracies, learning_rate=config.learning_rate,
                                             n=config.lr_schedule_n)
        if decision.changed:
            old = schedule.find_learning_rate(opt_state)
            if decision.stop:
                if logger:
                    logger.log_schedule(epoch, "stop_min_learning_rate", learning_rate=old,
                                        next_learning_rate=decision.learning_rate,
                                        halvings=decision.halvings, **info)
                return opt_state, True
            opt_state = schedule.set_learning_rate(opt_state, decision.learning_rate)
            if logger:
                logger.log_schedule(epoch, "halve_learning_rate", learning_rate=old,
                                    next_learning_rate=decision.learning_rate,
                                    halvings=decision.halvings, **info)
    if schedule.should_stop_early(accuracies, config.early_stopping_n):
        if logger:
            logger.log_schedule(epoch, "early_stop", **info)
        return opt_state, True
    return opt_state, False
