"""Chapter 3 on the real MNIST files (small subsets): ReLU that learns, the book's monitors in the
log, early stopping and the learning-rate schedule ending a run, save → load → same predictions."""

import json

import jax
import numpy as np
import pytest

from nnjax import NeuralNetwork, TrainConfig, TrainingLogger, fit, network
from nnjax.checkpoint import load, save
from nnjax.costs import cross_entropy
from nnjax.logged_network import LoggedNeuralNetwork


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_relu_learns_with_he_init_a_sigmoid_output_and_a_small_rate(mnist):
    training, _, test = mnist
    sensible = fit(TrainConfig(activation="relu", learning_rate=0.5, epochs=1), training[:3000],
                   test[:1000])
    assert sensible.best_accuracy > 70.0  # ≈ 81 % measured; chance is 10 %
    # the seed project's set-up: ReLU on the output too, N(0, 1), η = 3 — dead units, near chance
    seed_setup = fit(TrainConfig(activation="relu", output_activation="relu", init="normal",
                                 learning_rate=3.0, epochs=1), training[:3000], test[:1000])
    assert seed_setup.best_accuracy < 20.0


def test_monitors_and_early_stopping_are_in_the_log(mnist, log_dir):
    training, validation = mnist[0][:200], mnist[1][:200]  # one shape: one compile of the monitor
    # a learning rate so small that nothing changes: no epoch improves on the first one
    config = TrainConfig(sizes=(784, 10, 10), cost="cross_entropy", l2=1.0, learning_rate=1e-9,
                         epochs=10, early_stopping_n=2, monitor_training_cost=True,
                         monitor_training_accuracy=True, monitor_evaluation_cost=True)
    logger = TrainingLogger(log_dir)
    result = fit(config, training, evaluation_data=validation, logger=logger)
    assert result.status == "early_stopped" and len(result.history) == 3
    assert result.best_evaluation_accuracy == result.history[0]["evaluation_accuracy_percent"]

    records = read(logger.log_file)
    ends = [r for r in records if r["type"] == "epoch_end"]
    assert len(ends) == 3
    # the monitored numbers are the cost and accuracy of the whole sets, L2 term with n = 200
    params = network.init_params(config.sizes, key=jax.random.split(jax.random.key(0))[0],
                                 init=config.init)
    for data, prefix in ((training, "training"), (validation, "evaluation")):
        y = jax.nn.one_hot(data.labels, 10)
        expected_cost = network.loss(params, data.images, y, cost=cross_entropy, l2=1.0, n_train=200)
        assert ends[0][f"{prefix}_cost"] == pytest.approx(float(expected_cost), rel=1e-4)
        assert ends[0][f"{prefix}_accuracy"] == int(network.accuracy(params, data.images, data.labels))
        assert ends[0][f"{prefix}_total"] == len(data)
    assert all(e["learning_rate"] == pytest.approx(1e-9) for e in ends)
    (stop,) = [r for r in records if r["type"] == "schedule"]
    assert (stop["event"], stop["epoch"], stop["epochs_without_improvement"]) == ("early_stop", 2, 2)
    assert records[-1]["type"] == "training_complete" and records[-1]["status"] == "early_stopped"


def test_learning_rate_schedule_halves_in_the_log_and_stops_at_one_128th(mnist, log_dir):
    training, validation, _ = mnist
    config = TrainConfig(sizes=(784, 10, 10), learning_rate=1e-9, epochs=20, lr_schedule_n=1)
    logger = TrainingLogger(log_dir)
    result = fit(config, training[:200], evaluation_data=validation[:200], logger=logger)
    records = read(logger.log_file)
    rates = [r["learning_rate"] for r in records if r["type"] == "epoch_end"]
    # epoch 0 sets the best; each later epoch fails to beat it and halves η for the next one
    assert rates == pytest.approx([1e-9] + [1e-9 / 2 ** k for k in range(7)])
    events = [r["event"] for r in records if r["type"] == "schedule"]
    assert events == ["halve_learning_rate"] * 6 + ["stop_min_learning_rate"]
    assert result.status == "early_stopped"


def test_schedule_without_evaluation_data_is_refused(mnist):
    with pytest.raises(ValueError, match="evaluation_data"):
        fit(TrainConfig(sizes=(784, 10, 10), early_stopping_n=3), mnist[0][:100])


def test_save_then_load_predicts_exactly_the_same(mnist, tmp_path):
    test = mnist[2][:1000]
    net = NeuralNetwork([784, 20, 10], activation="relu", cost="log_likelihood", seed=3, l2=2.0)
    path = net.save(tmp_path / "net")
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert json.loads(str(data["config_json"]))["config"]["activation"] == "relu"

    loaded = NeuralNetwork.load(path)
    assert loaded.config == net.config and loaded.sizes == [784, 20, 10]
    for a, b in zip(loaded.params, net.params):
        np.testing.assert_array_equal(a.w, b.w)
        np.testing.assert_array_equal(a.b, b.b)
    np.testing.assert_array_equal(loaded.predict(test.images), net.predict(test.images))
    np.testing.assert_array_equal(loaded.feedforward(test.images), net.feedforward(test.images))
    assert loaded.config.output_activation == "softmax"

    logged = LoggedNeuralNetwork.load(path, log_dir=tmp_path / "logs")
    np.testing.assert_array_equal(logged.predict(test.images), net.predict(test.images))

    params, config = load(save(tmp_path / "bare.npz", net.params))  # parameters only
    assert config is None and network.layer_sizes(params) == [784, 20, 10]
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz is not a network saved by nnjax"):
        load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match=r"no saved network at .*net \(did you mean net.npz"):
        NeuralNetwork.load(tmp_path / "net")


def test_reproduce_book_script_quick_mode(mnist_dir, tmp_path, capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_book.py"
    main = runpy.run_path(str(script))["main"]
    out = tmp_path / "book.json"
    assert main(["--quick", "--experiments", "ch3-ce-30-l2", "--data-dir", str(mnist_dir),
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert (result["name"], result["set"], result["book"], report["n_train"]) == \
        ("ch3-ce-30-l2", "test", 96.49, 500)
    assert result["runs"][0]["config"]["l2"] == 5.0 and result["runs"][0]["config"]["init"] == "normal"
    assert result["mean"] > 20.0  # 500 images, one epoch: above chance (10 %), nothing more
    assert "| ch3 [784,30,10] cross-entropy, eta=0.5, lambda=5 | test | 96.49 |" in capsys.readouterr().out
