"""The functional core on small synthetic arrays: shapes, initialisers, and gradients checked
against the book's hand-written backprop (BP1–BP4)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import costs, network
from tests.reference_backprop import batch_gradient


def test_params_are_a_list_of_layers_with_book_shapes():
    params = network.init_params([784, 30, 10], key=jax.random.key(0))
    assert [(p.w.shape, p.b.shape) for p in params] == [((30, 784), (30,)), ((10, 30), (10,))]
    assert all(p.w.dtype == jnp.float32 for p in params)
    assert network.layer_sizes(params) == [784, 30, 10]


@pytest.mark.parametrize("init, expected_std", [("normal", 1.0), ("scaled_normal", 1 / np.sqrt(784)),
                                                ("he", np.sqrt(2 / 784))])
def test_initialisers_have_their_stated_spread(init, expected_std):
    params = network.init_params([784, 100, 10], key=jax.random.key(1), init=init)
    assert float(jnp.std(params[0].w)) == pytest.approx(expected_std, rel=0.05)


def test_forward_and_all_activations_agree():
    params = network.init_params([6, 5, 4, 3], key=jax.random.key(2))
    x = jax.random.uniform(jax.random.key(3), (7, 6))
    acts = network.all_activations(params, x)
    assert [a.shape for a in acts] == [(7, 6), (7, 5), (7, 4), (7, 3)]
    np.testing.assert_allclose(acts[-1], network.forward(params, x), rtol=1e-6)
    np.testing.assert_array_equal(acts[0], x)


def test_accuracy_counts_correct_predictions():
    params = network.init_params([4, 3], key=jax.random.key(4))
    x = jax.random.uniform(jax.random.key(5), (20, 4))
    predicted = np.asarray(network.predict(params, x))
    labels = predicted.copy()
    labels[:5] = (labels[:5] + 1) % 3
    assert int(network.accuracy(params, x, jnp.asarray(labels))) == 15


def test_jax_grad_equals_book_backprop():
    sizes = [12, 7, 5, 4]
    params = network.init_params(sizes, key=jax.random.key(6))
    x = jax.random.uniform(jax.random.key(7), (9, 12))
    labels = np.asarray(jax.random.randint(jax.random.key(8), (9,), 0, 4))
    y = jax.nn.one_hot(labels, 4)
    grads = jax.grad(network.loss)(params, x, y, cost=costs.quadratic)
    ref_w, ref_b = batch_gradient([p.w for p in params], [p.b for p in params], np.asarray(x),
                                  labels, 4)
    for g, rw, rb in zip(grads, ref_w, ref_b):
        np.testing.assert_allclose(g.w, rw, atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(g.b, rb, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784], [], "784,30", [784, 0, 10], [784, -3, 10],
                                   [784, 30.5, 10], [784, True, 10]])
def test_bad_layer_sizes_are_refused_with_a_clear_message(sizes):
    with pytest.raises((ValueError, TypeError), match="size|layer"):
        network.check_sizes(sizes, n_inputs=783 if sizes == [784, 30, 10] else None)
