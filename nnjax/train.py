"""The compiled training epoch: one ``jit`` over a ``lax.scan`` of mini-batch SGD steps.

Each step is the book's ``update_mini_batch``: the gradient of the mean cost over a mini-batch
(``jax.value_and_grad`` does backpropagation, BP1–BP4), then an optax update (plain SGD by default:
``w → w − η ∇C``). Shuffling comes from a PRNG ``key``; the data is passed in as arguments (never
closed over, never modified) and indexed inside the scan, so it stays on the device.

Logging is optional and lives at the edge: given ``on_stats``, every ``log_every`` steps the step's
statistics are packed into one row, and an ordered ``io_callback`` hands blocks of rows to the host
(≈ every 1,000 steps; each callback has a fixed cost). The epoch is then a scan over chunks of
``log_every`` steps whose first step is the logged one and whose others are an inner scan of plain
steps — the same steps in the same order, with no per-step ``lax.cond`` (which cost ≈ 25 % on
CPU). Given ``epoch_stats``, the parameters the epoch ends with are measured inside the same
compiled program (weight statistics, the diagnostics' probe batch) and handed out by one more call
of the same ordered callback. Without them, nothing of the logging is traced.

Divergence costs nothing per step: the epoch ends with one finiteness check of its parameters,
optimizer state and mean cost, and only when that fails is the epoch replayed from its start by a
watched scan (finiteness of loss and gradients every step), which records the first non-finite
step with per-layer NaN/inf counts and, by default, skips every later update so the caller keeps
the last finite parameters.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.custom_batching
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import io_callback

from nnjax import network, stats
from nnjax.activations import get_activation, sigmoid
from nnjax.costs import get_cost, quadratic
from nnjax.network import Params


class Nonfinite(NamedTuple):
    """Where an epoch first met a non-finite value: global ``step`` (−1 if never), the mini-batch
    cost at that step (inf/NaN when the cost itself overflowed) and per-layer NaN/inf counts of the
    gradients and of the parameters after that step."""

    step: jax.Array
    grad_counts: dict
    param_counts: dict
    loss: jax.Array


class EpochResult(NamedTuple):
    """What :func:`train_epoch` returns: new parameters and optimizer state, the mean mini-batch
    cost of the epoch, and the :class:`Nonfinite` record."""

    params: Params
    opt_state: optax.OptState
    mean_loss: jax.Array
    nonfinite: Nonfinite


StatsSink = Callable[[dict], None]
EpochStatsSink = Callable[[int, dict], None]


class StepResult(NamedTuple):
    """One SGD step: new parameters and optimizer state, the mini-batch cost, the true gradients
    and the update the optimizer applied."""

    params: Params
    opt_state: optax.OptState
    loss: jax.Array
    grads: Params
    updates: Params


def make_step(*, activation=sigmoid, output_activation=None, cost=quadratic,
              optimizer: optax.GradientTransformation, l2: float = 0.0):
    """A pure mini-batch step ``step(params, opt_state, x, y, n_train=None) -> StepResult``.

    ``x`` (batch, n_in) float32, ``y`` (batch, n_out) one-hot; ``n_train`` scales the L2 term
    (the book's λ/n) and is needed only when ``l2`` is not zero. This is the building block of
    :func:`make_train_epoch` and of vmapped sweeps; jit it, scan it or vmap it as you like.
    """
    activation = get_activation(activation)
    output_activation = activation if output_activation is None else get_activation(output_activation)
    cost = get_cost(cost)

    def loss_fn(params, x, y, n_train):
        return network.loss(params, x, y, activation=activation, output_activation=output_activation,
                            cost=cost, l2=l2, n_train=n_train)

    def step(params, opt_state, x, y, n_train=None):
        if n_train is None:
            if l2:
                raise ValueError("with l2 > 0 the step needs n_train, the training-set size "
                                 "(the book's n in λ/2n Σw²)")
            n_train = 1
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, n_train)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return StepResult(optax.apply_updates(params, updates), opt_state, loss, grads, updates)

    return step


def make_train_epoch(*, activation=sigmoid, output_activation=None, cost=quadratic,
                     optimizer: optax.GradientTransformation, mini_batch_size: int,
                     l2: float = 0.0, n_train: int | None = None, log_every: int | None = None,
                     on_stats: StatsSink | None = None, stop_on_nonfinite: bool = True,
                     epoch_stats: Callable[[Params, object], dict] | None = None,
                     on_epoch_stats: EpochStatsSink | None = None):
    """Build the compiled epoch
    ``train_epoch(params, opt_state, images, labels, key, epoch=0, probe=None)``.

    ``images`` (n, n_in) float32 and ``labels`` (n,) int on the device; each epoch visits
    ``n // mini_batch_size`` mini-batches of a fresh permutation from ``key`` (the remainder is
    dropped, as the book's slicing would give a short last batch). ``epoch`` (int) numbers the
    records. ``l2`` is the book's λ, scaled by ``n_train`` (default: ``n``). ``on_stats`` receives,
    on the host, ``{"epoch", "batch_idx", "step", "stats": stats.step_stats(...)}`` with NumPy
    values every ``log_every`` steps (the first step of each epoch included), in step order.
    ``epoch_stats(params, probe)`` (traced, inside the compiled epoch) measures the parameters the
    epoch ends with — ``probe`` is whatever ``train_epoch`` got, e.g. a fixed batch of images —
    and the same ordered callback hands its result (NumPy) to ``on_epoch_stats(epoch, result)``
    after the epoch's last ``on_stats`` row. Without ``on_stats`` and ``on_epoch_stats`` the epoch
    has no host callback, so it can be ``jax.vmap``-ped (over parameters, optimizer states and keys:
    several networks at once); an ordered callback cannot be.
    Vmapped, the replay below runs only in an epoch where some network went non-finite.

    Non-finite values: the epoch runs without any per-step check; at its end one finiteness check
    of the parameters, optimizer state and mean cost decides. If something went NaN/inf, the epoch
    is replayed from the same start and key by a watched scan that finds the first bad step, counts
    the NaN/inf entries per layer, and (``stop_on_nonfinite``) keeps the last finite parameters.

    Returns a jitted function giving an :class:`EpochResult`. Calls with new data shapes recompile;
    calls with new values (parameters, keys, epochs) do not.
    """
    if on_stats is not None and (log_every is None or log_every <= 0):
        raise ValueError(f"log_every must be a positive number of mini-batches, got {log_every}")
    if (epoch_stats is None) != (on_epoch_stats is None):
        raise ValueError("epoch_stats and on_epoch_stats go together: the first measures the "
                         "parameters at the end of the epoch, the second receives the result")
    sgd_step = make_step(activation=activation, output_activation=output_activation, cost=cost,
                         optimizer=optimizer, l2=l2)
    hand_over = _StatsHandOver(on_stats) if on_stats is not None else None

    def setup(params, images, labels, key):
        """The epoch's mini-batch schedule and its step on ``images[idx]``."""
        n, n_out = images.shape[0], params[-1].w.shape[0]
        steps = n // mini_batch_size
        n_l2 = jnp.float32(n_train or n)
        xs = (jnp.arange(steps, dtype=jnp.int32), minibatches(n, mini_batch_size, key=key))

        def sgd(params, opt_state, idx):
            x = images[idx]
            y = jax.nn.one_hot(labels[idx], n_out, dtype=x.dtype)
            return sgd_step(params, opt_state, x, y, n_l2)

        return sgd, xs, steps

    def clean(params) -> Nonfinite:
        zero_counts = jax.tree_util.tree_map(jnp.zeros_like, stats.nonfinite_counts(params))
        return Nonfinite(jnp.int32(-1), zero_counts, zero_counts, jnp.float32(0.0))

    def fast(params, opt_state, images, labels, key, epoch):
        """The epoch with no per-step check; returns the result and whether all of it is finite."""
        sgd, xs, steps = setup(params, images, labels, key)

        def plain(carry, xs):
            result = sgd(*carry, xs[1])
            return (result.params, result.opt_state), result.loss

        def logged(carry, xs):
            """A plain step that also returns its statistics as one row for the host."""
            batch_idx, idx = xs
            result = sgd(*carry, idx)
            ids = jnp.stack([epoch, batch_idx, epoch * steps + batch_idx])
            row = hand_over.pack(stats.step_stats(grads=result.grads, params=carry[0],
                                                  updates=result.updates))
            return (result.params, result.opt_state), (result.loss, ids, row)

        if hand_over is None:
            (new_params, new_opt_state), losses = jax.lax.scan(plain, (params, opt_state), xs)
        else:
            (new_params, new_opt_state), losses = _logged_scan(
                plain, logged, (params, opt_state), xs, log_every, hand_over)
        mean_loss = jnp.mean(losses)
        finite = jnp.isfinite(mean_loss) & stats.all_finite(new_params, new_opt_state)
        return EpochResult(new_params, new_opt_state, mean_loss, clean(params)), finite

    def replay(params, opt_state, images, labels, key, epoch):
        """The same epoch, watched: the first non-finite step is recorded and, with
        ``stop_on_nonfinite``, every later update is skipped."""
        sgd, xs, steps = setup(params, images, labels, key)

        def watched(carry, xs):
            params, opt_state, bad = carry
            batch_idx, idx = xs
            result = sgd(params, opt_state, idx)
            ok = jnp.isfinite(result.loss) & stats.all_finite(result.grads)
            bad = jax.lax.cond(
                (bad.step < 0) & ~ok,
                lambda: Nonfinite(epoch * steps + batch_idx, stats.nonfinite_counts(result.grads),
                                  stats.nonfinite_counts(result.params), result.loss),
                lambda: bad)
            new = (result.params, result.opt_state)
            if stop_on_nonfinite:
                new = jax.tree_util.tree_map(lambda old, new: jnp.where(bad.step >= 0, old, new),
                                             (params, opt_state), new)
            return (*new, bad), result.loss

        (p, s, bad), losses = jax.lax.scan(watched, (params, opt_state, clean(params)), xs)
        return EpochResult(p, s, jnp.mean(losses), bad)

    @jax.jit
    def train_epoch(params, opt_state, images, labels, key, epoch=0, probe=None):
        epoch = jnp.asarray(epoch, jnp.int32)
        args = (params, opt_state, images, labels, key, epoch)
        result, finite = fast(*args)
        result = _replay_unless_finite(replay, finite, result, args)
        if epoch_stats is not None:
            io_callback(lambda e, tree: on_epoch_stats(int(e), jax.tree_util.tree_map(np.asarray, tree)),
                        None, epoch, epoch_stats(result.params, probe), ordered=True)
        return result

    return train_epoch


# a logged epoch hands its statistics to the host in batches of this many steps' worth: each
# callback costs ≈ 0.4 ms on CPU whatever its size, so one per log interval slowed an epoch by ≈ 10 %
HAND_OVER_STEPS = 1000


class _StatsHandOver:
    """Packs one step's statistics into a flat float32 row inside the compiled epoch, and unpacks
    a block of rows on the host into one ``on_stats`` call per row, in order."""

    def __init__(self, on_stats: StatsSink):
        self.on_stats = on_stats
        self.layout = None  # (treedef, [(shape, dtype)]) of the statistics tree, set at trace time

    def pack(self, tree) -> jax.Array:
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        self.layout = (treedef, [(leaf.shape, np.dtype(leaf.dtype)) for leaf in leaves])
        return jnp.concatenate([jnp.ravel(leaf).astype(jnp.float32) for leaf in leaves])

    def emit(self, ids: jax.Array, rows: jax.Array) -> None:
        """Ordered host callback with ``ids`` (k, 3) int32 (epoch, batch, step) and ``rows`` (k, F)."""
        treedef, shapes = self.layout

        def host_sink(ids, rows):
            for (epoch, batch_idx, step), row in zip(np.asarray(ids), np.asarray(rows)):
                parts, offset = [], 0
                for shape, dtype in shapes:
                    size = int(np.prod(shape))
                    parts.append(row[offset: offset + size].reshape(shape).astype(dtype))
                    offset += size
                self.on_stats({"epoch": epoch, "batch_idx": batch_idx, "step": step,
                               "stats": jax.tree_util.tree_unflatten(treedef, parts)})

        io_callback(host_sink, None, ids.astype(jnp.int32), rows, ordered=True)


def _logged_scan(plain, logged, carry, xs, log_every: int, hand_over: _StatsHandOver):
    """``lax.scan`` of ``plain`` over ``xs`` where every ``log_every``-th step (the first included)
    is ``logged`` instead: a scan over chunks of ``log_every`` steps (the first logged, the others
    an inner plain scan, so no step pays for a per-step ``lax.cond``), grouped so that one host
    callback carries the rows of ≈ :data:`HAND_OVER_STEPS` steps. Returns ``(carry, losses)``."""

    def chunk(carry, chunk_xs):
        first = jax.tree_util.tree_map(lambda a: a[0], chunk_xs)
        rest = jax.tree_util.tree_map(lambda a: a[1:], chunk_xs)
        carry, (loss0, ids, row) = logged(carry, first)
        carry, losses = jax.lax.scan(plain, carry, rest)
        return carry, (jnp.concatenate([loss0[None], losses]), ids, row)

    def group(carry, group_xs):
        """Chunks of equal length, then one callback with all their rows."""
        carry, (losses, ids, rows) = jax.lax.scan(chunk, carry, group_xs)
        hand_over.emit(ids, rows)
        return carry, losses.reshape(-1)

    def split(xs, start, stop, *shape):
        return jax.tree_util.tree_map(lambda a: a[start:stop].reshape(*shape, *a.shape[1:]), xs)

    count = xs[0].shape[0]
    chunks, tail = divmod(count, log_every)
    per_group = max(1, HAND_OVER_STEPS // log_every)
    groups, rest = divmod(chunks, per_group)
    pieces, done = [], 0
    if groups:
        size = groups * per_group * log_every
        carry, losses = jax.lax.scan(group, carry, split(xs, 0, size, groups, per_group, log_every))
        pieces.append(losses.reshape(-1))
        done = size
    if rest:
        size = rest * log_every
        carry, losses = group(carry, split(xs, done, done + size, rest, log_every))
        pieces.append(losses)
        done += size
    if tail:
        carry, losses = group(carry, split(xs, done, count, 1, tail))
        pieces.append(losses)
    return carry, jnp.concatenate(pieces)


def _replay_unless_finite(replay, finite, result, args):
    """``result`` when ``finite``, else ``replay(*args)``, as a ``lax.cond``. Under ``jax.vmap`` a
    cond on a batched predicate would run both branches (the replay every epoch); here the
    replay runs, for all networks at once, only when some network's epoch was not finite, and each
    network keeps its own fast result where it was."""

    @jax.custom_batching.custom_vmap
    def choose(finite, result, args):
        return jax.lax.cond(finite, lambda: result, lambda: replay(*args))

    @choose.def_vmap
    def choose_batched(axis_size, in_batched, finite, result, args):
        finite_b, result_b, args_b = in_batched
        finite = finite if finite_b else jnp.broadcast_to(finite, (axis_size,))
        result = jax.tree_util.tree_map(
            lambda x, b: x if b else jnp.broadcast_to(x, (axis_size, *x.shape)), result, result_b)
        in_axes = jax.tree_util.tree_map(lambda b: 0 if b else None, args_b)

        def replay_all():
            replayed = jax.vmap(replay, in_axes=tuple(in_axes))(*args)
            return jax.tree_util.tree_map(
                lambda r, x: jnp.where(finite.reshape(-1, *[1] * (x.ndim - 1)), r, x),
                result, replayed)

        out = jax.lax.cond(jnp.all(finite), lambda: result, replay_all)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return choose(finite, result, args)


def minibatches(n: int, mini_batch_size: int, *, key: jax.Array) -> jax.Array:
    """One epoch's shuffled mini-batches: example indices of shape (n // mini_batch_size,
    mini_batch_size), int32, from a permutation of ``range(n)`` drawn with ``key``.

    The remainder of ``n`` that does not fill a mini-batch is left out of this epoch (a fresh
    permutation next epoch picks others). Row ``i`` indexes the data of step ``i``, as
    ``images[batches[i]]``: the book's ``random.shuffle`` and slicing, without touching the data.
    """
    if mini_batch_size <= 0 or mini_batch_size > n:
        raise ValueError(f"mini_batch_size must be between 1 and n = {n}, got {mini_batch_size}")
    steps = n // mini_batch_size
    order = jax.random.permutation(key, n)[: steps * mini_batch_size]
    return order.reshape(steps, mini_batch_size).astype(jnp.int32)


def make_evaluate(*, activation=sigmoid, output_activation=None):
    """Compiled ``evaluate(params, images, labels) -> number correct`` (int32 scalar), as the
    book's; ``images`` (n, n_in) float32, ``labels`` (n,) int."""
    activation = get_activation(activation)
    output_activation = activation if output_activation is None else get_activation(output_activation)

    @jax.jit
    def evaluate(params, images, labels):
        return network.accuracy(params, images, labels, activation, output_activation)

    return evaluate


def sgd(learning_rate: float) -> optax.GradientTransformation:
    """Plain SGD, the book's update ``w → w − η ∇C`` (``optax.sgd``)."""
    return optax.sgd(learning_rate)


weight_stats = jax.jit(stats.weight_stats)
