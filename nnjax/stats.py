"""Statistics of parameters and gradients: pure functions of pytrees, safe on NaN and inf.

Each returns a dict of arrays with one row per layer, so it can be computed inside compiled code
and handed to the host in one piece. Nothing here raises on non-finite values: a NaN in the input
is a NaN in the output, which the logger writes as ``null`` and counts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nnjax.network import Params


def gradient_stats(grads: Params) -> dict[str, jax.Array]:
    """Per layer: mean |g| and max |g| of the weight and the bias gradients, each shape (L,).

    Keys as in the seed project's log: ``weight_mean`` is mean |∂C/∂w|, ``weight_max`` max |∂C/∂w|,
    ``bias_mean`` and ``bias_max`` the same for biases.
    """
    return {
        "weight_mean": jnp.stack([jnp.mean(jnp.abs(g.w)) for g in grads]),
        "weight_max": jnp.stack([jnp.max(jnp.abs(g.w)) for g in grads]),
        "bias_mean": jnp.stack([jnp.mean(jnp.abs(g.b)) for g in grads]),
        "bias_max": jnp.stack([jnp.max(jnp.abs(g.b)) for g in grads]),
    }


def update_stats(*, grads: Params, params: Params, updates: Params) -> dict[str, jax.Array]:
    """Per layer, how hard this step pushed the weights, each shape (L,).

    ``weight_update_ratio`` is ‖Δw‖ / ‖w‖ (Frobenius norms) of the update the optimizer actually
    applied, against the weights before the step; a common rule of thumb wants it near 1e-3 —
    much smaller and the layer barely moves (stuck), much larger and it is being thrown around.
    ``weight_grad_norm`` is ‖∂C/∂w‖ and ``weight_update_norm`` ‖Δw‖, ``weight_norm`` ‖w‖;
    ``bias_update_ratio`` and ``bias_grad_norm`` the same for biases.
    """
    def norm(x):
        return jnp.sqrt(jnp.sum(jnp.square(x)))

    w_norm = jnp.stack([norm(p.w) for p in params])
    b_norm = jnp.stack([norm(p.b) for p in params])
    uw_norm = jnp.stack([norm(u.w) for u in updates])
    ub_norm = jnp.stack([norm(u.b) for u in updates])
    return {
        "weight_update_ratio": uw_norm / w_norm,
        "bias_update_ratio": ub_norm / b_norm,
        "weight_grad_norm": jnp.stack([norm(g.w) for g in grads]),
        "bias_grad_norm": jnp.stack([norm(g.b) for g in grads]),
        "weight_update_norm": uw_norm,
        "weight_norm": w_norm,
    }


def step_stats(*, grads: Params, params: Params, updates: Params) -> dict[str, dict]:
    """What a ``mini_batch`` record holds, computed inside the compiled step: a dict of named
    groups, each a dict of per-layer arrays. ``params`` are the parameters before the step and
    ``updates`` the optimizer's update (new = params + updates).

    Groups: ``gradient_stats`` (:func:`gradient_stats`) and ``update_stats`` (:func:`update_stats`).
    """
    return {"gradient_stats": gradient_stats(grads),
            "update_stats": update_stats(grads=grads, params=params, updates=updates)}


def weight_stats(params: Params) -> dict[str, jax.Array]:
    """Per layer: weight mean, std, min, max and bias mean, std, each shape (L,)."""
    return {
        "weight_mean": jnp.stack([jnp.mean(p.w) for p in params]),
        "weight_std": jnp.stack([jnp.std(p.w) for p in params]),
        "weight_min": jnp.stack([jnp.min(p.w) for p in params]),
        "weight_max": jnp.stack([jnp.max(p.w) for p in params]),
        "bias_mean": jnp.stack([jnp.mean(p.b) for p in params]),
        "bias_std": jnp.stack([jnp.std(p.b) for p in params]),
    }


def nonfinite_counts(tree: Params) -> dict[str, jax.Array]:
    """Per layer: how many weights and biases are NaN and how many are ±inf, each shape (L,) int32."""
    return {
        "w_nan": jnp.stack([jnp.sum(jnp.isnan(p.w)) for p in tree]).astype(jnp.int32),
        "w_inf": jnp.stack([jnp.sum(jnp.isinf(p.w)) for p in tree]).astype(jnp.int32),
        "b_nan": jnp.stack([jnp.sum(jnp.isnan(p.b)) for p in tree]).astype(jnp.int32),
        "b_inf": jnp.stack([jnp.sum(jnp.isinf(p.b)) for p in tree]).astype(jnp.int32),
    }


def all_finite(*trees) -> jax.Array:
    """True when every floating-point entry of every tree is finite: one max |x| per leaf (NaN and
    inf propagate through it; unlike a sum, huge finite values cannot overflow into a false alarm).
    Integer and empty leaves (an optimizer's step count, say) are skipped."""
    leaves = [leaf for tree in trees for leaf in jax.tree_util.tree_leaves(tree)
              if jnp.issubdtype(leaf.dtype, jnp.inexact) and leaf.size]
    if not leaves:
        return jnp.bool_(True)
    return jnp.isfinite(jnp.stack([jnp.max(jnp.abs(leaf)) for leaf in leaves])).all()


def to_lists(stats: dict) -> dict[str, list]:
    """Host side: ``{"weight_mean": array(L), ...}`` → ``{"weight_mean": [float per layer], ...}``."""
    return {name: np.asarray(values).tolist() for name, values in stats.items()}


def to_rows(stats: dict) -> list[dict]:
    """Host side: ``{"weight_mean": array(L), ...}`` → ``[{"layer": 0, "weight_mean": float, ...}]``."""
    lists = to_lists(stats)
    n_layers = len(next(iter(lists.values())))
    return [{"layer": i, **{name: values[i] for name, values in lists.items()}} for i in range(n_layers)]
