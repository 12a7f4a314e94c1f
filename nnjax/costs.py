"""Cost functions: the cost of each example in a batch, from the output layer.

A cost takes ``(z, a, y)``: the output layer's weighted input ``z`` and activation ``a``, both of
shape ``(batch, n_out)``, and the one-hot targets ``y``; it returns ``(batch,)``. Having ``z`` lets
the cross-entropy be computed stably: written from ``a`` it gives ``inf`` once ``sigmoid(z)`` rounds
to exactly 0 or 1 in float32 (``sigmoid(20.0) == 1.0``); written from ``z`` it never does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnjax._registry import Registry

COSTS: Registry = Registry("cost")


@COSTS.register
def quadratic(z: jax.Array, a: jax.Array, y: jax.Array) -> jax.Array:
    """C = ½‖y − a‖², the book's chapter 1 cost. Its output delta is (a − y) σ'(z): slow when saturated."""
    del z
    return 0.5 * jnp.sum((a - y) ** 2, axis=-1)


@COSTS.register
def cross_entropy(z: jax.Array, a: jax.Array, y: jax.Array) -> jax.Array:
    """C = −Σ [y ln a + (1 − y) ln(1 − a)] for a sigmoid output a = σ(z), computed from z.

    With ln σ(z) = −softplus(−z) and ln(1 − σ(z)) = −softplus(z) this is Σ softplus(z) − y z, finite
    for every z. Its output delta ∂C/∂z is exactly a − y (the book's eq. 66): no σ' slow-down.
    """
    del a
    return jnp.sum(jax.nn.softplus(z) - y * z, axis=-1)


@COSTS.register
def log_likelihood(z: jax.Array, a: jax.Array, y: jax.Array) -> jax.Array:
    """C = −ln a_y for a softmax output, computed from z as logsumexp(z) − z_y (chapter 3)."""
    del a
    return jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1)


# The output activation each cost assumes when computing from z (None: any).
OUTPUT_ACTIVATION_OF_COST = {"cross_entropy": "sigmoid", "log_likelihood": "softmax"}


def get_cost(name_or_fn):
    """The cost function for a name (``quadratic``, ``cross_entropy``, ...) or a callable."""
    return COSTS.get(name_or_fn)
