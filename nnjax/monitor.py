"""The book's ``monitor_*`` measurements: total cost and accuracy of a network on a whole data set.

``network2.py`` can report, after every epoch, the cost and the accuracy on the training data and on
the evaluation data (``monitor_training_cost``, ``monitor_evaluation_accuracy``, ...). Watching
both is how chapter 3 shows overfitting: training cost still falling while evaluation accuracy
stalls. :func:`make_measure` compiles that measurement once.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nnjax import network
from nnjax.activations import get_activation, sigmoid
from nnjax.costs import get_cost, quadratic


class Measurement(NamedTuple):
    """``cost``: the mean cost per example plus the L2 term (λ/2n)Σw²; ``correct``: how many
    examples are classified correctly (int32)."""

    cost: jax.Array
    correct: jax.Array


def make_measure(*, activation=sigmoid, output_activation=None, cost=quadratic, l2: float = 0.0):
    """Compiled ``measure(params, images, labels, n_train) -> Measurement`` over a whole data set.

    ``images`` (n, n_in) float32, ``labels`` (n,) int. The cost is what training minimises: the mean
    cost over the set plus (λ/2n)Σw² with n = ``n_train``, the training-set size. (The book's
    ``total_cost`` divides λ by the size of the set being measured instead, so its evaluation cost
    carries a 5× larger L2 term for the 10,000 validation images; here both use the same n.)
    """
    activation = get_activation(activation)
    output_activation = activation if output_activation is None else get_activation(output_activation)
    cost = get_cost(cost)

    @jax.jit
    def measure(params, images, labels, n_train):
        z, a = network.forward_z(params, images, activation, output_activation)
        y = jax.nn.one_hot(labels, z.shape[-1], dtype=z.dtype)
        value = jnp.mean(cost(z, a, y))
        if l2:
            value = value + (l2 / (2.0 * n_train)) * sum(jnp.sum(layer.w ** 2) for layer in params)
        correct = jnp.sum(jnp.argmax(a, axis=-1) == labels)
        return Measurement(value, correct)

    return measure


__all__ = ["Measurement", "make_measure"]
