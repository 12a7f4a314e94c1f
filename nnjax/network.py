"""The network as pure functions of a parameter pytree.

``params`` is a list of :class:`Layer` — one per weight layer — with ``w`` of shape (n_out, n_in)
and ``b`` of shape (n_out,). A batch ``x`` is rows, shape (batch, n_in); layer l computes
``z = x @ w.T + b`` and ``a = σ(z)`` (the book's ``a' = σ(w a + b)``, one example per row).
Hidden layers use ``activation``; the last layer uses ``output_activation`` (the same by default).
"""

from __future__ import annotations

import functools
import numbers
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from nnjax.activations import sigmoid
from nnjax.initializers import get_initializer

Activation = Callable[[jax.Array], jax.Array]


class Layer(NamedTuple):
    """One weight layer: ``w`` (n_out, n_in), ``b`` (n_out,)."""

    w: jax.Array
    b: jax.Array


Params = list  # list[Layer]


def check_sizes(sizes: Sequence[int], *, n_inputs: int | None = None,
                n_classes: int | None = None) -> list[int]:
    """Validate layer sizes such as ``[784, 30, 10]``; returns them as a list of ints.

    Raises ``ValueError``/``TypeError`` saying what was wrong: fewer than two layers, a size that is
    not a positive integer, or a first/last size that does not match the data.
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a list of layer sizes such as [784, 30, 10], got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least two layers (input and output), got {list(sizes)}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"every layer size must be an integer, got {s!r} in {list(sizes)}")
        if s <= 0:
            raise ValueError(f"every layer size must be positive, got {s} in {list(sizes)}")
    sizes = [int(s) for s in sizes]
    if n_inputs is not None and sizes[0] != n_inputs:
        raise ValueError(
            f"the first layer size is {sizes[0]} but the images have {n_inputs} pixels; "
            f"use sizes starting with {n_inputs}, e.g. [{n_inputs}, 30, {sizes[-1]}]")
    if n_classes is not None and sizes[-1] != n_classes:
        raise ValueError(
            f"the last layer size is {sizes[-1]} but the data has {n_classes} classes; "
            f"use sizes ending with {n_classes}")
    return sizes


def init_params(sizes: Sequence[int], *, key: jax.Array, init="normal") -> Params:
    """Random parameters for layer ``sizes``: weights from ``init``, biases N(0, 1) as in the book.

    Returns a list of :class:`Layer`, layer l with ``w`` (sizes[l+1], sizes[l]) and ``b``
    (sizes[l+1],), float32. The same ``key`` always gives the same parameters; ``jax.vmap`` over a
    batch of keys gives a stack of networks (a leading axis on every array).

    ``init`` is ``"normal"`` (the book's N(0, 1)), ``"scaled_normal"`` (N(0, 1/n_in)), ``"he"``
    (N(0, 2/n_in)) or a function ``(key, n_out, n_in) -> w``.
    """
    return _init_params(tuple(check_sizes(sizes)), get_initializer(init), key)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _init_params(sizes: tuple, init_fn, key: jax.Array) -> Params:
    # compiled once per (sizes, init): op-by-op random calls cost seconds of dispatch
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        key, kw, kb = jax.random.split(key, 3)
        w = jnp.asarray(init_fn(kw, n_out, n_in), jnp.float32)
        params.append(Layer(w, jax.random.normal(kb, (n_out,), jnp.float32)))
    return params


def layer_sizes(params: Params) -> list[int]:
    """The ``sizes`` list that built ``params``, e.g. ``[784, 30, 10]``."""
    return [int(params[0].w.shape[1])] + [int(layer.w.shape[0]) for layer in params]


def forward_z(params: Params, x: jax.Array, activation: Activation = sigmoid,
              output_activation: Activation | None = None) -> tuple[jax.Array, jax.Array]:
    """The output layer's weighted input ``z`` and activation ``a``, each (batch, n_out), for a
    batch ``x`` of shape (batch, n_in). Costs need both: see :mod:`nnjax.costs`."""
    output_activation = activation if output_activation is None else output_activation
    a = x
    for layer in params[:-1]:
        a = activation(a @ layer.w.T + layer.b)
    z = a @ params[-1].w.T + params[-1].b
    return z, output_activation(z)


def forward(params: Params, x: jax.Array, activation: Activation = sigmoid,
            output_activation: Activation | None = None) -> jax.Array:
    """Output activations for a batch ``x`` of shape (batch, n_in) → (batch, n_out)."""
    return forward_z(params, x, activation, output_activation)[1]


def all_activations(params: Params, x: jax.Array, activation: Activation = sigmoid,
                    output_activation: Activation | None = None) -> list[jax.Array]:
    """Every layer's activations for ``x`` (batch, n_in): ``[x, a_1, ..., a_L]``, ``a_l`` of shape
    (batch, n_l) — the input first, as in the book."""
    output_activation = activation if output_activation is None else output_activation
    acts = [x]
    for i, layer in enumerate(params):
        fn = output_activation if i == len(params) - 1 else activation
        acts.append(fn(acts[-1] @ layer.w.T + layer.b))
    return acts


def predict(params: Params, x: jax.Array, activation: Activation = sigmoid,
            output_activation: Activation | None = None) -> jax.Array:
    """The predicted class of each row of ``x`` (batch, n_in): the index of the most active output
    neuron, shape (batch,) int32."""
    return jnp.argmax(forward(params, x, activation, output_activation), axis=-1)


def accuracy(params: Params, x: jax.Array, labels: jax.Array, activation: Activation = sigmoid,
             output_activation: Activation | None = None) -> jax.Array:
    """The number of rows of ``x`` (batch, n_in) whose prediction equals ``labels`` (batch,) int: an
    int32 scalar, as the book's ``evaluate`` (divide by ``len(labels)`` for a fraction)."""
    return jnp.sum(predict(params, x, activation, output_activation) == labels)


def loss(params: Params, x: jax.Array, y: jax.Array, *, activation: Activation = sigmoid,
         output_activation: Activation | None = None, cost: Callable, l2: float = 0.0,
         n_train: int = 1) -> jax.Array:
    """Mean cost over the batch plus the book's L2 term (λ / 2n) Σ w² (n = training-set size).

    ``x`` is (batch, n_in), ``y`` one-hot (batch, n_out); returns a float32 scalar.
    ``cost`` is a function ``(z, a, y) -> (batch,)`` such as :func:`nnjax.quadratic`. Its gradient is what plain SGD needs: the book's update
    ``w → (1 − ηλ/n) w − (η/m) Σ ∂C_x/∂w`` is ``w − η ∇loss``.
    """
    z, a = forward_z(params, x, activation, output_activation)
    value = jnp.mean(cost(z, a, y))
    if l2:
        value = value + (l2 / (2.0 * n_train)) * sum(jnp.sum(layer.w ** 2) for layer in params)
    return value


def total_parameters(sizes: Sequence[int]) -> int:
    """How many weights and biases a network of ``sizes`` has."""
    return sum(n_out * n_in + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


__all__ = ["Layer", "Params", "check_sizes", "init_params", "layer_sizes", "forward_z", "forward",
           "all_activations", "predict", "accuracy", "loss", "total_parameters"]
