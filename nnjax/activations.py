"""Activation functions ``z -> a``, applied elementwise (softmax: along the last axis).

They are plain functions: pass any ``jax.numpy`` function of the same shape in their place. Their
derivatives come from ``jax.grad``; nothing here needs a hand-written ``sigmoid_prime``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnjax._registry import Registry

ACTIVATIONS: Registry = Registry("activation")


@ACTIVATIONS.register
def sigmoid(z: jax.Array) -> jax.Array:
    """The book's logistic neuron, 1 / (1 + e^-z); output in (0, 1)."""
    return jax.nn.sigmoid(z)


@ACTIVATIONS.register
def relu(z: jax.Array) -> jax.Array:
    """Rectified linear unit, max(0, z); units stuck at z < 0 get no gradient ("dead")."""
    return jax.nn.relu(z)


@ACTIVATIONS.register
def tanh(z: jax.Array) -> jax.Array:
    """Hyperbolic tangent; output in (-1, 1), a rescaled sigmoid centred on zero."""
    return jnp.tanh(z)


@ACTIVATIONS.register
def identity(z: jax.Array) -> jax.Array:
    """Linear output, a = z."""
    return z


@ACTIVATIONS.register
def softmax(z: jax.Array) -> jax.Array:
    """Softmax over the last axis: outputs are positive and sum to one (chapter 3)."""
    return jax.nn.softmax(z, axis=-1)


ACTIVATIONS.register(identity, "linear")

# What "active"/"saturated" means per activation, for diagnostics: the bounds of the output range.
BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
# An output of a bounded activation within this distance of a bound counts as saturated.
SATURATION_DISTANCE = 0.01
# When a unit counts as "active": ReLU and tanh above zero, sigmoid (and unknown ones) above 0.5.
ACTIVE_THRESHOLD = {"relu": 0.0, "tanh": 0.0, "identity": 0.0, "linear": 0.0, "sigmoid": 0.5,
                    "softmax": 0.5}


def get_activation(name_or_fn):
    """The activation function for a name (``sigmoid``, ``relu``, ...) or a callable."""
    return ACTIVATIONS.get(name_or_fn)
