"""Weight initialisers: ``init(key, n_out, n_in) -> w`` of shape (n_out, n_in). Biases are N(0, 1)
in the book; :func:`nnjax.init_params` handles them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnjax._registry import Registry

INITIALIZERS: Registry = Registry("initializer")


@INITIALIZERS.register
def normal(key: jax.Array, n_out: int, n_in: int) -> jax.Array:
    """The book's chapter 1 init, N(0, 1). Large: z has std ≈ √n_in, so sigmoids start saturated."""
    return jax.random.normal(key, (n_out, n_in), jnp.float32)


@INITIALIZERS.register
def scaled_normal(key: jax.Array, n_out: int, n_in: int) -> jax.Array:
    """Chapter 3's init, N(0, 1/n_in): z starts with std ≈ 1, so learning starts at once."""
    return jax.random.normal(key, (n_out, n_in), jnp.float32) / jnp.sqrt(n_in)


@INITIALIZERS.register
def he(key: jax.Array, n_out: int, n_in: int) -> jax.Array:
    """He et al. (2015), N(0, 2/n_in): keeps the variance of ReLU layers from shrinking."""
    return jax.random.normal(key, (n_out, n_in), jnp.float32) * jnp.sqrt(2.0 / n_in)


def get_initializer(name_or_fn):
    """The initialiser for a name (``normal``, ``scaled_normal``, ``he``) or a callable."""
    return INITIALIZERS.get(name_or_fn)
