"""Chapter 3 (``network2.py``) on tiny arrays: the costs and their output deltas, L2 against a hand
computation, weight decay against L2, early stopping and the learning-rate schedule on made-up
accuracy sequences."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nnjax import TrainConfig, costs, network, schedule
from nnjax.network import Layer
from nnjax.train import make_step


def test_cross_entropy_stays_finite_when_the_sigmoid_saturates():
    z = jnp.array([[20.0, -20.0, 0.0]])
    y = jnp.array([[0.0, 1.0, 1.0]])
    a = jax.nn.sigmoid(z)
    assert float(a[0, 0]) == 1.0  # float32 sigmoid has saturated: ln(1 − a) = −inf
    # Σ softplus(z) − y·z = (20 + ε) + ε + ln 2 + 20, with ε = ln(1 + e^−20)
    expected = 40.0 + np.log(2.0) + 2 * np.log1p(np.exp(-20.0))
    value = costs.cross_entropy(z, a, y)
    assert float(value[0]) == pytest.approx(expected, rel=1e-6)
    assert float(value[0]) == pytest.approx(40.693, abs=1e-3)
    grad = jax.grad(lambda z: costs.cross_entropy(z, jax.nn.sigmoid(z), y).sum())(z)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[0], [1.0, -1.0, -0.5], atol=1e-6)
    # the same cost written from a, as in the book's formula, breaks in float32
    naive = -jnp.sum(y * jnp.log(a) + (1 - y) * jnp.log(1 - a))
    assert not np.isfinite(float(naive))


@pytest.mark.parametrize("cost, output", [("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")])
def test_output_layer_delta_is_a_minus_y(cost, output):
    """The book's eq. (66) and (84): with these costs ∂C/∂z^L = a^L − y, no σ'(z) factor."""
    params = network.init_params([6, 5, 4], key=jax.random.key(0), init="scaled_normal")
    x = jax.random.uniform(jax.random.key(1), (8, 6))
    y = jax.nn.one_hot(jnp.arange(8) % 4, 4)
    out_fn = jax.nn.sigmoid if output == "sigmoid" else jax.nn.softmax
    z, a = network.forward_z(params, x, jax.nn.sigmoid, out_fn)
    cost_fn = costs.get_cost(cost)
    delta = jax.grad(lambda z: cost_fn(z, out_fn(z), y).sum())(z)
    np.testing.assert_allclose(delta, a - y, atol=1e-6)
    # through the whole network: ∂C/∂b^L is the mean delta over the batch (BP3)
    grads = jax.grad(network.loss)(params, x, y, activation=jax.nn.sigmoid, output_activation=out_fn,
                                   cost=cost_fn)
    np.testing.assert_allclose(grads[-1].b, np.mean(a - y, axis=0), atol=1e-6)


def test_log_likelihood_is_minus_log_of_the_true_class_probability():
    z = jnp.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])  # the second would overflow exp(z)
    y = jax.nn.one_hot(jnp.array([0, 0]), 3)
    value = costs.log_likelihood(z, jax.nn.softmax(z), y)
    assert float(value[0]) == pytest.approx(-np.log(np.exp(1) / np.exp([1, 2, 3]).sum()), rel=1e-6)
    assert float(value[1]) == pytest.approx(0.0, abs=1e-6)


def _tiny():
    """A [3, 2] sigmoid network with weights chosen by hand, and two examples."""
    w = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], np.float32)
    b = np.array([0.1, -0.2], np.float32)
    x = np.array([[1.0, 0.0, 0.5], [0.2, 0.8, 0.0]], np.float32)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    return w, b, x, y


def test_l2_cost_and_update_match_a_hand_computation():
    w, b, x, y = _tiny()
    lam, n, eta = 5.0, 50, 0.5
    # by hand, in float64: C = (1/m) Σ_x ½‖a − y‖² + (λ/2n) Σ w²
    z = x.astype(np.float64) @ w.T + b
    a = 1 / (1 + np.exp(-z))
    c0 = np.mean(0.5 * np.sum((a - y) ** 2, axis=1))
    cost = c0 + lam / (2 * n) * np.sum(w.astype(np.float64) ** 2)
    delta = (a - y) * a * (1 - a)                     # BP1 for the quadratic cost
    grad_w0, grad_b = delta.T @ x / len(x), delta.mean(axis=0)
    new_w = (1 - eta * lam / n) * w - eta * grad_w0   # the book's eq. (93)
    new_b = b - eta * grad_b                          # biases are not regularised

    params = [Layer(jnp.asarray(w), jnp.asarray(b))]
    value = network.loss(params, x, y, cost=costs.quadratic, l2=lam, n_train=n)
    assert float(value) == pytest.approx(cost, rel=1e-6)
    tx = optax.sgd(eta)
    step = make_step(cost="quadratic", optimizer=tx, l2=lam)
    result = step(params, tx.init(params), x, y, n)
    np.testing.assert_allclose(result.params[0].w, new_w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result.params[0].b, new_b, rtol=1e-6, atol=1e-7)


def test_weight_decay_of_lambda_over_n_is_the_books_l2_for_plain_sgd():
    w, b, x, y = _tiny()
    lam, n, eta = 5.0, 50, 0.5
    params = [Layer(jnp.asarray(w), jnp.asarray(b))]
    l2_cfg = TrainConfig(sizes=(3, 2), learning_rate=eta, l2=lam)
    wd_cfg = TrainConfig(sizes=(3, 2), learning_rate=eta, weight_decay=lam / n)
    l2_step = make_step(optimizer=l2_cfg.build_optimizer(), l2=lam)
    wd_tx = wd_cfg.build_optimizer()
    wd_step = make_step(optimizer=wd_tx, l2=0.0)
    by_l2 = l2_step(params, l2_cfg.build_optimizer().init(params), x, y, n).params
    by_wd = wd_step(params, wd_tx.init(params), x, y, n).params
    np.testing.assert_allclose(by_wd[0].w, by_l2[0].w, rtol=1e-6)
    np.testing.assert_allclose(by_wd[0].b, by_l2[0].b, rtol=1e-6)  # biases not decayed by either


def test_relu_defaults_to_he_init_and_a_sigmoid_output():
    config = TrainConfig(activation="relu")
    assert (config.init, config.output_activation) == ("he", "sigmoid")
    assert TrainConfig().init == "normal"  # the book's chapter 1 default is unchanged


def test_derived_defaults_follow_a_changed_activation_or_cost_but_choices_stay():
    from nnjax.cli import build_parser
    from nnjax.sweep import grid

    assert TrainConfig().replace(activation="relu").init == "he"
    assert TrainConfig().replace(cost="log_likelihood").output_activation == "softmax"
    assert TrainConfig(init="normal").replace(activation="relu").init == "normal"  # chosen: kept
    assert TrainConfig(activation="relu").replace(init="scaled_normal").init == "scaled_normal"
    configs = grid(TrainConfig(epochs=1), activation=["relu", "sigmoid"])
    assert [c.init for c in configs] == ["he", "normal"]
    assert "_derived" not in TrainConfig().as_record()
    args = build_parser().parse_args(["train", "--activation", "relu"])
    assert TrainConfig(activation=args.activation, init=args.init).init == "he"


def test_early_stopping_on_a_constructed_accuracy_sequence():
    accuracies = [90.0, 92.0, 91.5, 92.0, 93.0, 92.9, 92.8, 93.0]
    assert [schedule.epochs_without_improvement(accuracies[:i + 1]) for i in range(8)] == \
        [0, 0, 1, 2, 0, 1, 2, 3]  # a tie (92.0, later 93.0) is no improvement
    stops = [schedule.should_stop_early(accuracies[:i + 1], 3) for i in range(8)]
    assert stops == [False] * 7 + [True]
    assert not any(schedule.should_stop_early(accuracies[:i + 1], 0) for i in range(8))  # off


def test_learning_rate_schedule_halves_on_plateaus_and_stops_at_one_128th():
    # improves for 3 epochs, then plateaus forever: with n = 2, a halving every second epoch
    accuracies = [90.0, 91.0, 92.0] + [92.0] * 14
    decisions = [schedule.halving_schedule(accuracies[:i + 1], learning_rate=0.8, n=2)
                 for i in range(len(accuracies))]
    rates = [d.learning_rate for d in decisions]
    assert rates[:3] == [0.8, 0.8, 0.8]
    assert rates[3:7] == [0.8, 0.4, 0.4, 0.2]
    assert [d.changed for d in decisions[3:7]] == [False, True, False, True]
    assert [d.stop for d in decisions].index(True) == 2 + 2 * 7  # the 7th halving reaches η/128
    assert decisions[16].learning_rate == pytest.approx(0.8 / 128)
    # an improvement after a halving resets the count, but does not undo the halving
    again = schedule.halving_schedule([90.0, 90.0, 90.0, 95.0, 94.0], learning_rate=1.0, n=2)
    assert (again.learning_rate, again.halvings, again.stop) == (0.5, 1, False)


def test_changing_the_injected_learning_rate_does_not_recompile(mnist):
    from nnjax.train import make_train_epoch

    training = mnist[0][:100]
    config = TrainConfig(sizes=(784, 10, 10), learning_rate=1.0, lr_schedule_n=1)
    tx = config.build_optimizer()
    params = network.init_params([784, 10, 10], key=jax.random.key(0))
    state = tx.init(params)
    epoch_fn = make_train_epoch(optimizer=tx, mini_batch_size=10)
    images, labels = jax.device_put(training.images), jax.device_put(training.labels)
    result = epoch_fn(params, state, images, labels, jax.random.key(1), 0)
    state = schedule.set_learning_rate(result.opt_state, 0.5)
    assert schedule.find_learning_rate(state) == 0.5
    epoch_fn(result.params, state, images, labels, jax.random.key(2), 1)
    assert epoch_fn._cache_size() == 1
    with pytest.raises(ValueError, match="inject_hyperparams"):
        schedule.set_learning_rate(optax.sgd(1.0).init(params), 0.5)
