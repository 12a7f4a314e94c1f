"""The book's backpropagation (equations BP1–BP4), written out in float64 NumPy as a reference.

One example at a time, column vectors as in ``network.py``; the mini-batch gradient is the mean
over examples. Used by tests to check ``jax.grad`` and the logged gradient statistics.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


def backprop(weights, biases, x, y):
    """∂C/∂w, ∂C/∂b for one example of the quadratic cost ½‖a − y‖², sigmoid everywhere."""
    activation = x.reshape(-1, 1)
    activations, zs = [activation], []
    for w, b in zip(weights, biases):
        z = w @ activation + b.reshape(-1, 1)
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = (activations[-1] - y.reshape(-1, 1)) * sigmoid_prime(zs[-1])  # BP1
    nabla_w = [None] * len(weights)
    nabla_b = [None] * len(weights)
    nabla_b[-1] = delta.ravel()  # BP3
    nabla_w[-1] = delta @ activations[-2].T  # BP4
    for layer in range(2, len(weights) + 1):
        delta = (weights[-layer + 1].T @ delta) * sigmoid_prime(zs[-layer])  # BP2
        nabla_b[-layer] = delta.ravel()
        nabla_w[-layer] = delta @ activations[-layer - 1].T
    return nabla_w, nabla_b


def batch_gradient(weights, biases, images, labels, n_out):
    """Mean gradient over a mini-batch (what one SGD step of ``update_mini_batch`` uses / m)."""
    weights = [np.asarray(w, np.float64) for w in weights]
    biases = [np.asarray(b, np.float64) for b in biases]
    sum_w = [np.zeros_like(w) for w in weights]
    sum_b = [np.zeros_like(b) for b in biases]
    for x, label in zip(np.asarray(images, np.float64), labels):
        y = np.eye(n_out)[int(label)]
        gw, gb = backprop(weights, biases, x, y)
        sum_w = [s + g for s, g in zip(sum_w, gw)]
        sum_b = [s + g for s, g in zip(sum_b, gb)]
    m = len(labels)
    return [s / m for s in sum_w], [s / m for s in sum_b]
