"""Sweeps: many configurations of one question, trained together where they can be.

"What learning rate works best? How many hidden neurons? Does sigmoid or ReLU learn faster?" Each
is a handful of runs that differ in one knob. :func:`grid` spells the runs out (a Cartesian
product of :class:`~nnjax.config.TrainConfig` fields), :func:`sweep` trains them.

Runs whose parameters have the same shapes and whose step is the same program — they differ only
in learning rate η, seed, L2 strength λ or initialiser — train **together**: one compiled epoch in
which every array carries a leading "run" axis. Inside, a ``lax.scan`` over mini-batches calls the
pure step of :func:`nnjax.train.make_step` ``vmap``-ped over the runs, so one compile serves all of
them:

- η is a traced per-run value: the optimizer is ``optax.inject_hyperparams(optax.sgd)``, which
  keeps η in the optimizer state (a float32 per run) and computes the same ``w → w − η ∇C``;
- λ enters through the step's ``n_train`` argument: the step is built with ``l2=1`` and receives
  ``n_train = n / λ``, so its L2 term is ``(1 / 2 n_train) Σ w² = (λ / 2n) Σ w²`` (λ = 0 gives
  ``n_train = ∞``, an L2 term of exactly 0);
- each run has its own PRNG key, derived exactly as :func:`nnjax.fit` derives it
  (``init_key, key = split(key(seed))``, then ``key, epoch_key = split(key)`` per epoch), so a run
  of a sweep starts from the same weights and sees the same mini-batches as the same ``fit``.

Runs that differ in anything else (layer sizes, activation, cost, mini-batch size, ...) form
separate groups, trained one group after another.

Logging. An ordered ``io_callback`` cannot be ``vmap``-ped, so the compiled epoch returns the
statistics of every logged step (:func:`nnjax.stats.step_stats`, every ``log_interval`` steps, the
first of each epoch included) as scan outputs, with a leading run axis; after each epoch the host
writes them, run by run, with one :class:`~nnjax.logger.TrainingLogger` per run. Every run's log is
complete and has the same records as a ``fit`` log (``run_start`` … ``training_complete``), plus a
``sweep_id`` and a ``sweep`` object in ``run_start``; ``epoch_end`` carries ``vmapped_runs``.
``mini_batch`` records are written at the end of their epoch (their timestamps say so). All logs of
a sweep sit in one folder, ``<log_dir>/sweep_<sweep_id>/``, beside a ``sweep.json`` manifest.

Devices. With more than one JAX device the run axis is sharded over all of them (a 1-D
``jax.sharding.Mesh`` named ``"runs"``; ``jax.shard_map`` runs each device's share of the runs with
no communication between devices); the run axis is padded to a multiple of the device count with
inert copies. The same code spreads a sweep over several GPUs, or over hosts after
``jax.distributed.initialize()`` (only process 0 writes logs).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import json
import math
import numbers
import time
import uuid
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from nnjax import network, stats
from nnjax.config import TrainConfig, describe_optimizer
from nnjax.logger import TrainingLogger, check_writable
from nnjax.outcome import diagnose
from nnjax.runner import FitResult, check_data, environment, stop_on_sigint
from nnjax.train import make_step

#: Fields that may differ between runs trained together in one vmapped program.
BATCHED_FIELDS = ("learning_rate", "seed", "l2", "init")
#: Names :func:`grid` accepts besides the TrainConfig fields.
GRID_ALIASES = {"lr": "learning_rate", "eta": "learning_rate", "hidden_sizes": "hidden",
                "activations": "activation", "seeds": "seed", "learning_rates": "learning_rate"}
AXIS = "runs"


# -- describing a sweep ------------------------------------------------------------------------
def hidden_sizes(value) -> tuple[int, ...]:
    """One hidden-layer option: ``30`` → ``(30,)``, ``[30, 30]`` or ``"30,30"`` → ``(30, 30)``,
    ``[]`` or ``""`` → ``()`` (no hidden layer)."""
    if isinstance(value, str):
        parts = [p for p in value.replace("x", ",").split(",") if p.strip()]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"hidden sizes must be integers such as 30 or 30,30, got {value!r}") from None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, (list, tuple)) and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"hidden sizes must be an integer or a list of integers, got {value!r}")


def grid(base: TrainConfig | None = None, **axes) -> list[TrainConfig]:
    """Every combination of the values given, as a list of configurations (first axis slowest).

    Each keyword is a :class:`TrainConfig` field (``learning_rate``, ``seed``, ``l2``, ``init``,
    ``activation``, ``cost``, ``sizes``, ...) or ``hidden`` (hidden-layer sizes; the input and output
    sizes come from ``base.sizes``); its value is one value or a list of values. ::

        grid(TrainConfig(epochs=5), learning_rate=[0.1, 0.3, 1.0, 3.0], hidden=[10, 30, 100])
    """
    base = TrainConfig() if base is None else base
    if not isinstance(base, TrainConfig):
        raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
    fields = {f.name for f in dataclasses.fields(TrainConfig) if f.init}
    names, options = [], []
    for raw_name, value in axes.items():
        name = GRID_ALIASES.get(raw_name, raw_name)
        if name not in fields and name != "hidden":
            raise ValueError(f"unknown sweep axis {raw_name!r}; allowed: hidden, "
                             f"{', '.join(sorted(fields))}")
        if name in names:
            raise ValueError(f"sweep axis {name!r} given twice")
        values = list(value) if isinstance(value, (list, tuple)) and name != "sizes" else [value]
        if name == "sizes" and isinstance(value, (list, tuple)) and value and \
                isinstance(value[0], (list, tuple)):
            values = list(value)
        if not values:
            raise ValueError(f"sweep axis {name!r} has no values")
        names.append(name)
        options.append(values)
    configs = []
    for combo in itertools.product(*options):
        changes = dict(zip(names, combo))
        if "hidden" in changes:
            if "sizes" in changes:
                raise ValueError("give either sizes or hidden, not both")
            hidden = changes.pop("hidden")
            changes["sizes"] = (base.sizes[0], *hidden_sizes(hidden), base.sizes[-1])
        configs.append(base.replace(**changes))
    return configs


def group_key(config: TrainConfig) -> tuple:
    """What must agree for runs to train in one vmapped program: every field but
    :data:`BATCHED_FIELDS`."""
    return tuple((f.name, getattr(config, f.name)) for f in dataclasses.fields(config)
                 if f.name not in BATCHED_FIELDS and f.compare)


def group_configs(configs: Sequence[TrainConfig]) -> list[list[int]]:
    """Indices of ``configs`` grouped by :func:`group_key`, groups in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(group_key(config), []).append(i)
    return list(groups.values())


def varying_fields(configs: Sequence[TrainConfig]) -> list[str]:
    """The names of the configuration fields whose values differ between ``configs``."""
    records = [c.as_record() for c in configs]
    return [k for k in records[0] if len({json.dumps(r[k], sort_keys=True) for r in records}) > 1] \
        if records else []


# -- the compiled, vmapped epoch ---------------------------------------------------------------
def _optimizer(config: TrainConfig, learning_rate) -> optax.GradientTransformation:
    """The optimizer ``config`` names, with η (and momentum) held in its state."""
    if config.optimizer == "sgd":
        return optax.inject_hyperparams(optax.sgd)(learning_rate=learning_rate)
    if config.optimizer in ("momentum", "nesterov"):
        return optax.inject_hyperparams(optax.sgd, static_args=("nesterov",))(
            learning_rate=learning_rate, momentum=config.momentum,
            nesterov=config.optimizer == "nesterov")
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


class SweepEpoch(dict):
    """What the vmapped epoch returns (a dict of arrays, leading axis = run): ``params``,
    ``opt_state``, ``mean_loss``, ``bad_step`` (first non-finite global step, −1 if none),
    ``bad_grad_counts``/``bad_param_counts`` and, when logging, ``logged`` (per logged step
    ``step_stats`` of shape (runs, n_logged, layers))."""


def make_sweep_epoch(config: TrainConfig, *, with_l2: bool, log_every: int | None,
                     mesh: Mesh | None = None, shared_batches: bool = False) -> Callable:
    """The compiled epoch of a group of runs that share ``config``'s program.

    ``epoch(params, opt_state, keys, n_l2, active, images, labels, epoch)``: every argument but the
    data and ``epoch`` has a leading run axis R. ``n_l2`` is ``n / λ`` per run (see the module
    docstring); ``active`` (R,) bool freezes runs that have ended. A ``lax.scan`` over the
    ``n // mini_batch_size`` steps calls ``vmap(make_step(...))``: one compile for any η, λ, seed,
    initialiser. ``shared_batches=True`` (every run has the same seed, hence the same shuffle) draws
    one permutation and feeds the same mini-batch to every run, so the first layer of all runs is
    one wider matrix product. With ``log_every`` the scan is split into blocks of ``log_every``
    steps whose first step also computes :func:`nnjax.stats.step_stats` (no ``cond``: a
    conditional copies its operands every step). With a ``mesh`` the run axis is split over its
    devices with ``shard_map``.

    No step pays for divergence: the epoch ends with one finiteness check per run, and only when
    an active run went NaN/inf is the epoch replayed, watched step by step (first bad step, NaN/inf
    counts, the last finite parameters kept), as :func:`nnjax.train.make_train_epoch` does.
    """
    step_fn = make_step(activation=config.activation, output_activation=config.output_activation,
                        cost=config.cost, optimizer=_optimizer(config, 0.0),
                        l2=1.0 if with_l2 else 0.0)
    data_axis = None if shared_batches else 0
    vstep = jax.vmap(step_fn, in_axes=(0, 0, data_axis, data_axis, 0))
    vstats = jax.vmap(lambda r, p: stats.step_stats(grads=r.grads, params=p, updates=r.updates))
    vcounts = jax.vmap(stats.nonfinite_counts)
    vfinite = jax.vmap(lambda loss, g, p: jnp.isfinite(loss) & stats.all_finite(g, p))
    mbs = config.mini_batch_size
    stop = config.stop_on_nonfinite

    def epoch_fn(params, opt_state, keys, n_l2, active, images, labels, epoch):
        n, n_out = images.shape[0], params[-1].w.shape[1]
        runs = n_l2.shape[0]
        steps = n // mbs
        if shared_batches:
            batches = jax.random.permutation(keys[0], n)[: steps * mbs].reshape(steps, mbs)
        else:
            orders = jax.vmap(lambda k: jax.random.permutation(k, n))(keys)[:, : steps * mbs]
            batches = orders.reshape(runs, steps, mbs).transpose(1, 0, 2)  # (steps, R, mbs)
        epoch = jnp.asarray(epoch, jnp.int32)
        zero_counts = jax.tree_util.tree_map(jnp.zeros_like, vcounts(params))

        def step(carry, xs, log, watch):
            """One step of every run. Watched: the first non-finite step of each active run is
            recorded, and ended (or, with ``stop``, diverged) runs keep their parameters."""
            params, opt_state, bad_step, grad_counts, param_counts = carry
            batch_idx, idx = xs
            x = images[idx]  # (R, mbs, n_in), or (mbs, n_in) when shared
            y = jax.nn.one_hot(labels[idx], n_out, dtype=x.dtype)
            result = vstep(params, opt_state, x, y, n_l2)
            new_params, new_opt_state = result.params, result.opt_state
            if watch:
                global_step = epoch * steps + batch_idx
                finite = vfinite(result.loss, result.grads, result.params)
                first_bad = (bad_step < 0) & ~finite & active
                # the predicate is not batched (one per device): the counts cost nothing until needed
                grad_counts, param_counts = jax.lax.cond(
                    jnp.any(first_bad),
                    lambda: jax.tree_util.tree_map(
                        lambda new, old: jnp.where(first_bad[:, None], new, old),
                        (vcounts(result.grads), vcounts(result.params)), (grad_counts, param_counts)),
                    lambda: (grad_counts, param_counts))
                bad_step = jnp.where(first_bad, global_step, bad_step)
                keep = ~active | ((bad_step >= 0) if stop else False)
                new_params, new_opt_state = _where_runs(keep, (params, opt_state),
                                                        (new_params, new_opt_state))
            carry = (new_params, new_opt_state, bad_step, grad_counts, param_counts)
            return carry, ((result.loss, vstats(result, params)) if log else result.loss)

        def run(watch):
            """The epoch's scan (blocks of ``log_every`` steps, the first of each logged):
            ``(carry, summed losses per run, logged statistics or None)``."""
            plain = lambda c, xs: step(c, xs, False, watch)  # noqa: E731
            logged = lambda c, xs: step(c, xs, True, watch)  # noqa: E731

            def scan_sum(carry, xs):
                if xs[0].shape[0] == 0:
                    return carry, jnp.zeros((runs,), jnp.float32)
                carry, losses = jax.lax.scan(plain, carry, xs)
                return carry, jnp.sum(losses, axis=0)

            carry = (params, opt_state, jnp.full((runs,), -1, jnp.int32), zero_counts, zero_counts)
            idxs = jnp.arange(steps, dtype=jnp.int32)
            if not log_every:
                carry, total = scan_sum(carry, (idxs, batches))
                return carry, total, None
            L = log_every
            n_blocks, rest = divmod(steps, L)

            def block(carry, xs):  # steps bL .. bL+L-1: the first one logged
                first = jax.tree_util.tree_map(lambda a: a[0], xs)
                carry, (loss0, st) = logged(carry, first)
                carry, total = scan_sum(carry, jax.tree_util.tree_map(lambda a: a[1:], xs))
                return carry, (loss0 + total, st)

            blocks = jax.tree_util.tree_map(lambda a: a[: n_blocks * L].reshape(n_blocks, L, *a.shape[1:]),
                                            (idxs, batches))
            total, logged_stats = jnp.zeros((runs,), jnp.float32), []
            if n_blocks:
                carry, (block_losses, st) = jax.lax.scan(block, carry, blocks)
                total, logged_stats = jnp.sum(block_losses, axis=0), [st]
            if rest:
                tail = jax.tree_util.tree_map(lambda a: a[n_blocks * L:], (idxs, batches))
                carry, (loss0, st) = block(carry, tail)
                total = total + loss0
                logged_stats.append(jax.tree_util.tree_map(lambda a: a[None], st))
            stacked = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *logged_stats)
            return carry, total, jax.tree_util.tree_map(lambda a: jnp.swapaxes(a, 0, 1), stacked)

        def fast():
            """No per-step check: ended runs are reset once at the end of the epoch."""
            (p, s, *counts), total, logged = run(watch=False)
            p, s = _where_runs(~active, (params, opt_state), (p, s))
            return (p, s, *counts), total, logged

        fast_out = fast()
        (p, s, *_), total, _ = fast_out
        finite = jnp.isfinite(total) & jax.vmap(stats.all_finite)(p, s)
        # replay the epoch, watched, only when an active run went non-finite (one predicate per
        # device: a cond, not a select), as nnjax.train's single-run epoch does
        carry, total, logged = jax.lax.cond(jnp.any(active & ~finite), lambda: run(watch=True),
                                            lambda: fast_out)
        params_out, opt_state_out, bad_step, grad_counts, param_counts = carry
        out = {} if logged is None else {"logged": logged}
        out.update(params=params_out, opt_state=opt_state_out, mean_loss=total / steps,
                   bad_step=bad_step, bad_grad_counts=grad_counts, bad_param_counts=param_counts)
        return out

    if mesh is None:
        return jax.jit(epoch_fn)
    run, rep = P(AXIS), P()
    sharded = jax.shard_map(epoch_fn, mesh=mesh, check_vma=False,
                            in_specs=(run, run, run, run, run, rep, rep, rep), out_specs=run)
    return jax.jit(sharded)


def _where_runs(keep: jax.Array, old, new):
    """Per run (leading axis): ``old`` where ``keep`` (R,) is true, else ``new``."""
    return jax.tree_util.tree_map(
        lambda o, n: jnp.where(keep.reshape((-1,) + (1,) * (n.ndim - 1)), o, n), old, new)


def init_group(configs: Sequence[TrainConfig], n_train: int):
    """Stacked starting state of runs trained together: ``(params, opt_state, keys, n_l2)``, each
    with a leading run axis, derived from each run's seed exactly as :func:`nnjax.fit` does."""
    params_list, key_list = [], []
    for c in configs:
        key = jax.random.key(c.seed)
        init_key, key = jax.random.split(key)
        params_list.append(network.init_params(c.sizes, key=init_key, init=c.init))
        key_list.append(key)
    opt_states = [_optimizer(c, c.learning_rate).init(p) for c, p in zip(configs, params_list)]
    n_l2 = jnp.asarray([n_train / c.l2 if c.l2 > 0 else math.inf for c in configs], jnp.float32)
    return _stack(params_list), _stack(opt_states), jnp.stack(key_list), n_l2


def make_sweep_evaluate(config: TrainConfig) -> Callable:
    """Compiled ``evaluate(params, images, labels) -> (R,)`` number correct per run."""
    from nnjax.activations import get_activation

    act, out_act = get_activation(config.activation), get_activation(config.output_activation)
    return jax.jit(jax.vmap(lambda p, x, y: network.accuracy(p, x, y, act, out_act),
                            in_axes=(0, None, None)))


_sweep_weight_stats = jax.jit(jax.vmap(stats.weight_stats))


# -- running a sweep ---------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    """The outcome of :func:`sweep`: one :class:`~nnjax.runner.FitResult` per configuration (in the
    order given; ``None`` for runs never started because the sweep was interrupted), the
    configurations, the sweep id and the folder holding the logs (``None`` without logs)."""

    sweep_id: str
    configs: list[TrainConfig]
    runs: list[FitResult | None]
    groups: list[list[int]]
    log_dir: Path | None
    devices: int

    def table(self) -> list[dict]:
        """One dict per run: what varies, best and final accuracy, epoch of best, status."""
        varying = varying_fields(self.configs)
        rows = []
        for i, (config, run) in enumerate(zip(self.configs, self.runs)):
            record = config.as_record()
            row = {"run": i, **{k: record[k] for k in varying}}
            accs = [(h["epoch"], h["accuracy_percent"]) for h in (run.history if run else [])
                    if h.get("accuracy_percent") is not None]
            best = max(accs, key=lambda ea: ea[1]) if accs else (None, None)
            row.update(best_accuracy=best[1], best_epoch=best[0],
                       final_accuracy=accs[-1][1] if accs else None,
                       status=run.status if run else "not_run",
                       log_file=run.log_file if run else None)
            rows.append(row)
        return rows

    def summary(self) -> str:
        """A plain-text table of the runs (what varies, best/final accuracy, status) and one line
        saying which run won and by how much (best accuracy, against the runner-up)."""
        rows = self.table()
        varying = varying_fields(self.configs) or ["run"]
        head = [*varying, "best %", "epoch", "final %", "status"]
        body = []
        for r in rows:
            acc = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
            body.append([*(_fmt(r.get(k, r["run"])) for k in varying), acc(r["best_accuracy"]),
                         "-" if r["best_epoch"] is None else str(r["best_epoch"]),
                         acc(r["final_accuracy"]), r["status"]])
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(b, widths)) for b in body]
        lines.append(self.verdict())
        return "\n".join(lines)

    def verdict(self) -> str:
        """Which run won (highest best accuracy) and by how much it beat the runner-up."""
        rows = [r for r in self.table() if r["best_accuracy"] is not None]
        if not rows:
            return "no run has a test accuracy (no test data): nothing to rank"
        rows.sort(key=lambda r: -r["best_accuracy"])
        name = lambda r: self.describe(r["run"])  # noqa: E731
        top = rows[0]
        text = f"winner: {name(top)}, {top['best_accuracy']:.2f} % (epoch {top['best_epoch']})"
        if len(rows) > 1:
            second = rows[1]
            text += (f", {top['best_accuracy'] - second['best_accuracy']:.2f} points ahead of "
                     f"{name(second)} ({second['best_accuracy']:.2f} %)")
        return text

    def describe(self, index: int) -> str:
        """Run ``index`` named by what varies in this sweep, e.g. ``learning_rate=3``."""
        varying = varying_fields(self.configs)
        record = self.configs[index].as_record()
        return ", ".join(f"{k}={_fmt(record[k])}" for k in varying) or f"run {index}"

    def best(self) -> int | None:
        """The index of the run with the highest best accuracy (``None`` without test data)."""
        scored = [(r["best_accuracy"], -r["run"]) for r in self.table() if r["best_accuracy"] is not None]
        return -max(scored)[1] if scored else None


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "-".join(str(v) for v in value)
    return str(value)


def new_sweep_id() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d_%H%M%S") + "_" + uuid.uuid4().hex[:6]


def _mesh(devices) -> Mesh | None:
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.array(devices), (AXIS,)) if len(devices) > 1 else None


def _to_host(tree):
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(np.asarray, tree)


def _stack(trees):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def _unstack(tree, i):
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def sweep(configs: Sequence[TrainConfig], training_data, test_data=None, *,
          log_dir: str | Path | None = "logs", sweep_id: str | None = None,
          devices: Sequence | None = None, on_epoch: Callable[[dict], None] | None = None,
          keep_params: bool = True, shared_batches: bool = False) -> SweepResult:
    """Train every configuration in ``configs``; returns a :class:`SweepResult`.

    Groups of configurations that differ only in η, seed, λ or initialiser train together as one
    vmapped program (see the module docstring); groups run one after another. Each run writes a
    complete log under ``<log_dir>/sweep_<sweep_id>/`` (``log_dir=None``: no logs), and gets the same
    parameters, mini-batches and accuracies as ``fit(config, ...)`` would (to float32 rounding).
    ``devices``: the JAX devices to shard the run axis over (default: all). ``on_epoch`` receives
    ``{"run", "epoch", "accuracy_percent", ...}`` per run and epoch (for progress output).
    Ctrl-C stops every run at the end of the current epoch (status ``interrupted``); groups not yet
    started are left out (``None`` in ``runs``). ``keep_params=False`` drops the trained parameters.
    ``shared_batches=True``: a group whose runs all have one seed (a learning-rate or λ sweep)
    shuffles once and gives every run the same mini-batch as one wider matrix product — faster
    (≈25 % here), the same mini-batches, but float32 sums in another order, so a chaotic run
    (sigmoid at η = 10) drifts away from its ``fit`` twin.
    """
    configs = list(configs)
    if not configs:
        raise ValueError("a sweep needs at least one configuration")
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise TypeError(f"sweep takes TrainConfig objects, got {type(c).__name__}")
    train_ds = check_data(training_data, configs[0], name="training_data")
    test_ds = check_data(test_data, configs[0], name="test_data") if test_data is not None else None
    for c in configs[1:]:
        network.check_sizes(c.sizes, n_inputs=train_ds.n_inputs)
        if c.sizes[-1] != configs[0].sizes[-1]:
            raise ValueError(f"all runs of a sweep need the same output size; got {configs[0].sizes[-1]} "
                             f"and {c.sizes[-1]}")
    for c in configs:
        if c.mini_batch_size > len(train_ds):
            raise ValueError(f"mini_batch_size {c.mini_batch_size} is larger than the training set "
                             f"({len(train_ds)} examples); use at most {len(train_ds)}")
    sweep_id = sweep_id or new_sweep_id()
    writer = jax.process_index() == 0
    folder = None
    if log_dir is not None:
        folder = Path(log_dir) / f"sweep_{sweep_id}"
        if writer:
            check_writable(folder)
    mesh = _mesh(devices)
    n_dev = 1 if mesh is None else mesh.size
    replicated = NamedSharding(mesh, P()) if mesh else None
    images = jax.device_put(train_ds.images, replicated)
    labels = jax.device_put(train_ds.labels, replicated)
    if test_ds is not None:
        test_images = jax.device_put(test_ds.images, replicated)
        test_labels = jax.device_put(test_ds.labels, replicated)
    groups = group_configs(configs)
    runs: list[FitResult | None] = [None] * len(configs)
    varying = varying_fields(configs)
    manifest = {"sweep_id": sweep_id, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                "varying": varying, "devices": n_dev, "n_train": len(train_ds),
                "n_test": len(test_ds) if test_ds is not None else None,
                "runs": [{"index": i, "config": c.as_record(), "group": g, "log_file": None,
                          "status": "pending"} for g, idx in enumerate(groups) for i, c in
                         ((i, configs[i]) for i in idx)]}
    manifest["runs"].sort(key=lambda r: r["index"])

    def write_manifest():
        if folder is not None and writer:
            tmp = folder / "sweep.json.tmp"
            tmp.write_text(json.dumps(manifest, indent=1, allow_nan=False))
            tmp.replace(folder / "sweep.json")

    write_manifest()
    env = environment()
    with stop_on_sigint() as interrupted:
        for g, idx in enumerate(groups):
            if interrupted.is_set():
                break
            _run_group(g, idx, configs, train_ds, test_ds, images, labels,
                       (test_images, test_labels) if test_ds is not None else None,
                       mesh=mesh, n_dev=n_dev, folder=folder if writer else None, sweep_id=sweep_id,
                       varying=varying, env=env, runs=runs, manifest=manifest,
                       write_manifest=write_manifest, interrupted=interrupted, on_epoch=on_epoch,
                       keep_params=keep_params, n_groups=len(groups), shared_batches=shared_batches)
    return SweepResult(sweep_id, configs, runs, groups, folder, n_dev)


def _run_group(g, idx, configs, train_ds, test_ds, images, labels, test_arrays, *, mesh, n_dev,
               folder, sweep_id, varying, env, runs, manifest, write_manifest, interrupted,
               on_epoch, keep_params, n_groups, shared_batches):
    start = time.perf_counter()
    group = [configs[i] for i in idx]
    base = group[0]
    n_real = len(idx)
    n_pad = -n_real % n_dev
    padded = group + [group[-1]] * n_pad
    n = len(train_ds)
    steps = n // base.mini_batch_size
    log_every = base.log_interval if folder is not None else None
    with_l2 = any(c.l2 > 0 for c in group)

    params, opt_state, keys, n_l2 = init_group(padded, n)
    active_np = np.array([True] * n_real + [False] * n_pad)
    run_sharding = NamedSharding(mesh, P(AXIS)) if mesh else None
    if mesh:
        params, opt_state, keys, n_l2 = jax.device_put((params, opt_state, keys, n_l2), run_sharding)
    epoch_fn = make_sweep_epoch(base, with_l2=with_l2, log_every=log_every, mesh=mesh,
                                shared_batches=shared_batches and len({c.seed for c in group}) == 1)
    evaluate = make_sweep_evaluate(base)

    loggers: list[TrainingLogger | None] = [None] * n_real
    for j, i in enumerate(idx):
        c = configs[i]
        runs[i] = FitResult(params=None, history=[], status="running", total_seconds=0.0)
        if folder is None:
            continue
        logger = TrainingLogger(folder, prefix=f"run_{i:03d}", run_id=f"{sweep_id}-{i:03d}")
        loggers[j] = logger
        runs[i].log_file = str(logger.log_file)
        manifest["runs"][i].update(log_file=logger.log_file.name, status="running")
        logger.write("run_start", session_id=logger.session_id,
                     config={**c.as_record(), "optimizer": describe_optimizer(None, c)},
                     data={"source": getattr(train_ds, "origin", "user"), "n_train": n,
                           "n_test": len(test_ds) if test_ds is not None else None,
                           "steps_per_epoch": steps},
                     environment=env, sweep_id=sweep_id,
                     sweep={"sweep_id": sweep_id, "index": i, "n_runs": len(configs), "group": g,
                            "n_groups": n_groups, "vmapped_runs": n_real, "devices": n_dev,
                            "varying": {k: c.as_record()[k] for k in varying}})
    write_manifest()

    status = ["running"] * n_real
    reported = [False] * n_real
    try:
        for epoch in range(base.epochs):
            live = [j for j in range(n_real) if status[j] == "running"]
            if not live:
                break
            for j in live:
                if loggers[j]:
                    loggers[j].log_epoch_start(epoch, base.epochs)
            split = jax.vmap(jax.random.split)(keys)
            keys, epoch_keys = split[:, 0], split[:, 1]
            active = jnp.asarray(active_np)
            if mesh:
                active = jax.device_put(active, run_sharding)
            t0 = time.perf_counter()
            out = epoch_fn(params, opt_state, epoch_keys, n_l2, active, images, labels, epoch)
            jax.block_until_ready(out)
            duration = time.perf_counter() - t0
            params, opt_state = out["params"], out["opt_state"]
            t1 = time.perf_counter()
            correct = _to_host(evaluate(params, *test_arrays)) if test_arrays is not None else None
            eval_seconds = time.perf_counter() - t1
            host = _to_host({k: v for k, v in out.items() if k not in ("params", "opt_state")})
            snapshots = _to_host(_sweep_weight_stats(params)) if folder is not None else None
            for j in live:
                i = idx[j]
                entry = {"epoch": epoch, "duration_seconds": duration,
                         "train_cost": float(host["mean_loss"][j])}
                if correct is not None:
                    entry.update(test_accuracy=int(correct[j]), test_total=len(test_ds),
                                 accuracy_percent=100.0 * int(correct[j]) / len(test_ds))
                else:
                    entry.update(test_accuracy=None, test_total=None, accuracy_percent=None)
                entry["eval_seconds"] = eval_seconds
                entry["learning_rate"] = configs[i].learning_rate
                bad_step = int(host["bad_step"][j])
                logger = loggers[j]
                if logger:
                    logged = _unstack(host["logged"], j)
                    for k in range(len(range(0, steps, log_every))):
                        groups_k = {name: stats.to_lists(_unstack(grp, k)) for name, grp in logged.items()}
                        logger.log_mini_batch(epoch=epoch, batch_idx=k * log_every,
                                              step=epoch * steps + k * log_every,
                                              batch_size=base.mini_batch_size, **groups_k)
                if bad_step >= 0 and not reported[j]:
                    reported[j] = True
                    entry["nonfinite_step"] = bad_step
                    if logger:
                        action = "stopped" if base.stop_on_nonfinite else "continued"
                        grads = stats.to_rows(_unstack(host["bad_grad_counts"], j))
                        after = stats.to_rows(_unstack(host["bad_param_counts"], j))
                        logger.log_nonfinite(epoch=epoch, step=bad_step, action=action, layers=[
                            {"layer": a["layer"], **{f"grad_{k}": v for k, v in a.items() if k != "layer"},
                             **{f"param_{k}": v for k, v in b.items() if k != "layer"}}
                            for a, b in zip(grads, after)])
                if logger:
                    logger.log_weight_snapshot(epoch, stats.to_rows(_unstack(snapshots, j)))
                    logger.log_epoch_end(epoch, entry["test_accuracy"], entry["test_total"], duration,
                                         train_cost=entry["train_cost"], eval_seconds=eval_seconds,
                                         learning_rate=entry["learning_rate"], vmapped_runs=n_real)
                runs[i].history.append(entry)
                if on_epoch:
                    on_epoch({"run": i, **entry})
                if bad_step >= 0 and base.stop_on_nonfinite:
                    status[j] = "nonfinite"
                    active_np[j] = False
                    _finish(runs[i], logger, manifest["runs"][i], "nonfinite", start,
                            test_ds.labels if test_ds is not None else None)
            if interrupted.is_set():
                for j in range(n_real):
                    if status[j] == "running":
                        status[j] = "interrupted"
                break
        final = "completed"
    except KeyboardInterrupt:
        final = "interrupted"
        raise
    except BaseException:
        final = "error"
        raise
    finally:
        host_params = _to_host(params) if keep_params else None
        for j, i in enumerate(idx):
            if keep_params:
                runs[i].params = _unstack(host_params, j)
            if status[j] in ("running", "interrupted"):
                _finish(runs[i], loggers[j], manifest["runs"][i],
                        "interrupted" if status[j] == "interrupted" else final, start,
                        test_ds.labels if test_ds is not None else None)
        write_manifest()


def _finish(run: FitResult, logger: TrainingLogger | None, entry: dict, status: str, start: float,
            labels=None):
    run.status = status
    run.total_seconds = time.perf_counter() - start
    run.diagnosis = diagnose(run.history, status, labels)
    entry["status"] = status
    if logger:
        logger.log_training_complete(run.total_seconds, status, epochs_completed=len(run.history),
                                     diagnosis=run.diagnosis)
        logger.close()


__all__ = ["grid", "sweep", "SweepResult", "group_configs", "group_key", "varying_fields",
           "make_sweep_epoch", "make_sweep_evaluate", "init_group", "hidden_sizes", "BATCHED_FIELDS"]
