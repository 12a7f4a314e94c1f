"""Training on the real MNIST files: it learns, the seed's Quick Start runs, errors come early."""

import jax
import numpy as np
import optax
import pytest

from nnjax import NeuralNetwork, TrainConfig, fit, network
from nnjax.logged_network import LoggedNeuralNetwork


def test_one_epoch_on_the_full_training_set_learns(mnist):
    training, _, test = mnist
    # scaled init: the book's N(0, 1) reaches 64–91 % after one epoch depending on the seed
    result = fit(TrainConfig(epochs=1, seed=0, init="scaled_normal"), training, test)
    assert result.status == "completed"
    assert result.history[0]["accuracy_percent"] >= 90.0


def test_seed_quick_start_runs_on_a_subset(mnist, log_dir):
    training_data, validation_data, test_data = mnist
    net = LoggedNeuralNetwork([784, 30, 10], log_dir=log_dir)
    net.train(training_data=training_data[:1000], epochs=3, mini_batch_size=10, learning_rate=3.0,
              test_data=test_data)
    summary = net.logger.get_summary()
    assert summary["total_epochs"] == 3
    assert summary["best_accuracy"] > 50.0  # 1,000 images, 3 epochs: well above chance (10 %)
    assert summary["log_file"].startswith(str(log_dir))
    x, label = test_data[0]
    record = net.logger.log_activation_pattern(
        sample_idx=np.int64(0), activations=net.get_all_activations(x), label=np.int32(label),
        prediction=jax.numpy.asarray(net.predict(x)))
    assert [layer["layer"] for layer in record["layers"]] == [1, 2]  # the input is not a layer


def test_wrong_input_size_is_refused_before_any_training(mnist, log_dir):
    training, _, test = mnist
    net = LoggedNeuralNetwork([783, 30, 10], log_dir=log_dir)
    with pytest.raises(ValueError, match=r"783.*784|784.*783"):
        net.train(training_data=training[:100], epochs=1, mini_batch_size=10, learning_rate=3.0,
                  test_data=test)
    assert not net.logger.log_file.exists()  # nothing was trained or logged


def test_training_never_modifies_the_callers_data(mnist):
    training = mnist[0][:500]
    before = training.images.copy(), training.labels.copy()
    NeuralNetwork([784, 10, 10]).train(training, epochs=1, mini_batch_size=10, learning_rate=1.0)
    np.testing.assert_array_equal(training.images, before[0])
    np.testing.assert_array_equal(training.labels, before[1])


def test_same_seed_same_result_and_shuffling_differs_by_seed(mnist):
    training = mnist[0][:2000]
    runs = [fit(TrainConfig(sizes=(784, 10, 10), epochs=1, seed=s), training).params for s in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0][0].w, runs[1][0].w)
    assert not np.array_equal(runs[0][0].w, runs[2][0].w)


def test_any_optax_optimizer_is_accepted(mnist):
    training, _, test = mnist
    net = NeuralNetwork([784, 30, 10], init="scaled_normal")
    result = net.train(training[:5000], epochs=2, mini_batch_size=20, learning_rate=0.01,
                       test_data=test[:2000], optimizer=optax.adam(1e-3))
    assert result.best_accuracy > 50.0  # chance is 10 %


def test_a_second_epoch_call_does_not_recompile(mnist):
    from nnjax.train import make_train_epoch

    training = mnist[0][:200]
    epoch_fn = make_train_epoch(optimizer=optax.sgd(3.0), mini_batch_size=10)
    params = network.init_params([784, 10, 10], key=jax.random.key(0))
    state = optax.sgd(3.0).init(params)
    images, labels = jax.device_put(training.images), jax.device_put(training.labels)
    result = epoch_fn(params, state, images, labels, jax.random.key(1), 0)
    epoch_fn(result.params, result.opt_state, images, labels, jax.random.key(2), 1)
    assert epoch_fn._cache_size() == 1


def test_all_activations_of_one_image_or_a_batch(mnist):
    _, _, test = mnist
    net = NeuralNetwork([784, 16, 10], seed=1)
    batch = test.images[:5]
    acts = net.get_all_activations(batch)
    assert [a.shape for a in acts] == [(5, 784), (5, 16), (5, 10)]
    np.testing.assert_allclose(acts[-1], net.feedforward(batch), rtol=1e-6)
    for i in range(5):
        for whole, single in zip(acts, net.get_all_activations(batch[i]), strict=True):
            np.testing.assert_allclose(whole[i], single, rtol=1e-4, atol=1e-7)
    assert [a.shape for a in net.get_all_activations(batch[0].reshape(784, 1))] == [(784,), (16,), (10,)]
    assert net.feedforward(batch[0].reshape(28, 28)).shape == (10,)
    assert net.feedforward(batch[:1]).shape == (1, 10)  # a batch of one stays a batch
    for wrong in (np.zeros(100), np.zeros((3, 100)), np.zeros((2, 28, 28))):
        with pytest.raises(ValueError, match=r"expected one image of 784 values .* got an array"):
            net.predict(wrong)
