"""nnjax: a functional JAX library for learning how neural networks learn.

The functional core — parameters as pytrees, activations and costs as plain functions, a compiled
epoch — with the seed project's classes as the front door::

    from nnjax import NeuralNetwork, MNISTLoader
    from nnjax.logged_network import LoggedNeuralNetwork
"""

__version__ = "0.1.0"

from nnjax.activations import identity, relu, sigmoid, softmax, tanh
from nnjax.config import TrainConfig
from nnjax.costs import cross_entropy, log_likelihood, quadratic
from nnjax.data import (DataError, DataNotFoundError, Dataset, MNISTLoader, as_dataset, load_mnist,
                        load_mnist_pkl)
from nnjax.initializers import he, normal, scaled_normal
from nnjax.logger import TrainingLogger
from nnjax.network import (Layer, accuracy, all_activations, check_sizes, forward, forward_z,
                           init_params, layer_sizes, loss, predict)
from nnjax.network_api import NeuralNetwork
from nnjax.runner import FitResult, fit
from nnjax.stats import gradient_stats, weight_stats
from nnjax.train import make_evaluate, make_step, make_train_epoch
# the functional API in full (README: "Functional API")
from nnjax.network import Activation, Params, total_parameters
from nnjax.stats import step_stats
from nnjax.train import EpochResult, StepResult, minibatches


def __getattr__(name):
    if name == "LoggedNeuralNetwork":  # lazy: avoids a circular import at package load
        from nnjax.logged_network import LoggedNeuralNetwork

        return LoggedNeuralNetwork
    raise AttributeError(f"module 'nnjax' has no attribute {name!r}")


__all__ = [
    "NeuralNetwork", "LoggedNeuralNetwork", "MNISTLoader", "Dataset", "DataError", "DataNotFoundError",
    "as_dataset", "load_mnist", "load_mnist_pkl", "TrainConfig", "fit", "FitResult", "TrainingLogger",
    "Layer", "init_params", "forward", "forward_z", "all_activations", "predict", "accuracy", "loss",
    "check_sizes", "layer_sizes", "make_step", "make_train_epoch", "make_evaluate", "gradient_stats", "weight_stats",
    "sigmoid", "relu", "tanh", "identity", "softmax", "quadratic", "cross_entropy", "log_likelihood",
    "normal", "scaled_normal", "he",
    "Params", "Activation", "total_parameters", "step_stats", "minibatches", "EpochResult", "StepResult",
]
