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


def full_batch_sgd(params, images, labels, n_out, *, eta, steps):
    """The book's SGD with the whole of ``images`` as the one mini-batch, ``steps`` times from the
    nnjax ``params``: yields, per step, the weights before it and the step's gradient,
    ``(weights, gw, gb)`` (lists per layer, float64)."""
    weights = [np.asarray(p.w, np.float64) for p in params]
    biases = [np.asarray(p.b, np.float64) for p in params]
    for _ in range(steps):
        gw, gb = batch_gradient(weights, biases, images, labels, n_out)
        yield weights, gw, gb
        weights = [w - eta * g for w, g in zip(weights, gw)]
        biases = [b - eta * g for b, g in zip(biases, gb)]


def logged_full_batch_run(data, log_dir, *, field: str, init_key: int, **config):
    """Two epochs of ``fit`` with the 100-image ``data`` as the one mini-batch, logging every step:
    pairs of (the ``mini_batch`` records' ``field``, ``full_batch_sgd``'s step) for the two steps."""
    import json

    import jax

    from nnjax import TrainConfig, TrainingLogger, fit, network

    logger = TrainingLogger(log_dir)
    config = TrainConfig(sizes=(784, 16, 10), epochs=2, mini_batch_size=len(data), log_interval=1,
                         learning_rate=3.0, **config)
    params0 = network.init_params(config.sizes, key=jax.random.key(init_key))
    fit(config, data, logger=logger, params=params0)
    records = [json.loads(line) for line in logger.log_file.read_text().splitlines()]
    logged = [r[field] for r in records if r["type"] == "mini_batch"]
    assert len(logged) == 2
    steps = full_batch_sgd(params0, data.images, data.labels, 10, eta=3.0, steps=2)
    return list(zip(logged, steps, strict=True))
