"""The compiled training epoch: one ``jit`` over a ``lax.scan`` of mini-batch SGD steps.

Each step is the book's ``update_mini_batch``: the gradient of the mean cost over a mini-batch
(``jax.value_and_grad`` does backpropagation, BP1–BP4), then an optax update (plain SGD by default:
``w → w − η ∇C``). Shuffling comes from a PRNG ``key``; the data is passed in as arguments (never
closed over, never modified) and indexed inside the scan, so it stays on the device.

Logging is optional and lives at the edge: given ``on_stats``, every ``log_every`` steps an ordered
``io_callback`` hands the statistics of that step to the host. The epoch is then a scan over chunks
of ``log_every`` steps whose first step is the logged one and whose others are an inner scan of
plain steps — the same steps in the same order, with no per-step ``lax.cond`` (which cost ≈ 25 %
on CPU). Without ``on_stats``, nothing of the logging is traced.

Divergence is watched inside the step too: one finiteness check of loss and gradients per step; at
the first non-finite step the per-layer NaN/inf counts are kept in the carry and, by default, every
later update of the epoch is skipped so the caller keeps the last finite parameters.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
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
                     on_stats: StatsSink | None = None, stop_on_nonfinite: bool = True):
    """Build the compiled epoch ``train_epoch(params, opt_state, images, labels, key, epoch=0)``.

    ``images`` (n, n_in) float32 and ``labels`` (n,) int on the device; each epoch visits
    ``n // mini_batch_size`` mini-batches of a fresh permutation from ``key`` (the remainder is
    dropped, as the book's slicing would give a short last batch). ``epoch`` (int) numbers the
    records. ``l2`` is the book's λ, scaled by ``n_train`` (default: ``n``). ``on_stats`` receives,
    on the host, ``{"epoch", "batch_idx", "step", "stats": stats.step_stats(...)}`` with NumPy
    values every ``log_every`` steps (the first step of each epoch included). Without ``on_stats``
    the epoch has no host callback, so it can be ``jax.vmap``-ped (over parameters, optimizer
    states and keys: several networks at once); an ordered callback cannot be.

    Returns a jitted function giving an :class:`EpochResult`. Calls with new data shapes recompile;
    calls with new values (parameters, keys, epochs) do not.
    """
    if on_stats is not None and (log_every is None or log_every <= 0):
        raise ValueError(f"log_every must be a positive number of mini-batches, got {log_every}")
    sgd_step = make_step(activation=activation, output_activation=output_activation, cost=cost,
                         optimizer=optimizer, l2=l2)

    def emit(epoch, batch_idx, global_step, result: StepResult, old_params):
        tree = stats.step_stats(grads=result.grads, params=old_params, updates=result.updates)
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        shapes = [(leaf.shape, np.dtype(leaf.dtype)) for leaf in leaves]
        # one flat float32 array and one int32 triple: each leaf handed to the host costs ≈ 50 µs
        flat = jnp.concatenate([jnp.ravel(leaf).astype(jnp.float32) for leaf in leaves])
        ids = jnp.stack([epoch, batch_idx, global_step]).astype(jnp.int32)

        def host_sink(ids, flat):
            ids, flat = np.asarray(ids), np.asarray(flat)
            parts, offset = [], 0
            for shape, dtype in shapes:
                size = int(np.prod(shape))
                parts.append(flat[offset: offset + size].reshape(shape).astype(dtype))
                offset += size
            on_stats({"epoch": ids[0], "batch_idx": ids[1], "step": ids[2],
                      "stats": jax.tree_util.tree_unflatten(treedef, parts)})

        io_callback(host_sink, None, ids, flat, ordered=True)

    @jax.jit
    def train_epoch(params, opt_state, images, labels, key, epoch=0):
        n, n_out = images.shape[0], params[-1].w.shape[0]
        steps = n // mini_batch_size
        n_l2 = jnp.float32(n_train or n)
        batches = minibatches(n, mini_batch_size, key=key)
        epoch = jnp.asarray(epoch, jnp.int32)
        zero_counts = jax.tree_util.tree_map(jnp.zeros_like, stats.nonfinite_counts(params))

        def step(carry, xs, *, logged: bool = False):
            params, opt_state, bad = carry
            batch_idx, idx = xs
            x = images[idx]
            y = jax.nn.one_hot(labels[idx], n_out, dtype=x.dtype)
            result = sgd_step(params, opt_state, x, y, n_l2)
            global_step = epoch * steps + batch_idx
            if logged:
                emit(epoch, batch_idx, global_step, result, params)
            # one max |g| per gradient leaf; new params = old + update stay finite with them
            finite = jnp.isfinite(result.loss) & stats.all_finite(result.grads)
            first_bad = (bad.step < 0) & ~finite
            bad = jax.lax.cond(
                first_bad,
                lambda: Nonfinite(global_step, stats.nonfinite_counts(result.grads),
                                  stats.nonfinite_counts(result.params), result.loss),
                lambda: bad)
            new_params, new_opt_state = result.params, result.opt_state
            if stop_on_nonfinite:
                keep = bad.step >= 0
                new_params, new_opt_state = jax.tree_util.tree_map(
                    lambda old, new: jnp.where(keep, old, new),
                    (params, opt_state), (new_params, new_opt_state))
            return (new_params, new_opt_state, bad), result.loss

        def run(carry, xs):
            """Scan ``step`` over ``xs``; logged, the first step of every ``log_every`` is done
            outside an inner scan of the others, so no step pays for a per-step ``lax.cond``."""
            if on_stats is None:
                return jax.lax.scan(step, carry, xs)
            count = xs[0].shape[0]
            chunks, tail = divmod(count, log_every)
            pieces = []

            def chunk(carry, chunk_xs):
                first = jax.tree_util.tree_map(lambda a: a[0], chunk_xs)
                rest = jax.tree_util.tree_map(lambda a: a[1:], chunk_xs)
                carry, loss0 = step(carry, first, logged=True)
                carry, losses = jax.lax.scan(step, carry, rest)
                return carry, jnp.concatenate([loss0[None], losses])

            if chunks:
                head = jax.tree_util.tree_map(
                    lambda a: a[: chunks * log_every].reshape(chunks, log_every, *a.shape[1:]), xs)
                carry, losses = jax.lax.scan(chunk, carry, head)
                pieces.append(losses.reshape(-1))
            if tail:
                carry, losses = chunk(carry, jax.tree_util.tree_map(lambda a: a[chunks * log_every:], xs))
                pieces.append(losses)
            return carry, jnp.concatenate(pieces)

        init_bad = Nonfinite(jnp.int32(-1), zero_counts, zero_counts, jnp.float32(0.0))
        (params, opt_state, bad), losses = run(
            (params, opt_state, init_bad), (jnp.arange(steps, dtype=jnp.int32), batches))
        return EpochResult(params, opt_state, jnp.mean(losses), bad)

    return train_epoch


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
