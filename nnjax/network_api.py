"""``NeuralNetwork``: the seed project's class-based front door over the functional core.

It holds parameters and a configuration and calls :func:`nnjax.fit`; no math of its own. Use it
as in the book::

    net = NeuralNetwork([784, 30, 10])
    net.train(training_data=training, epochs=30, mini_batch_size=10, learning_rate=3.0,
              test_data=test)

Ctrl-C during ``train`` stops after the current epoch and ``train`` returns normally with the
parameters trained so far (``net.status == "interrupted"``).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nnjax import compilation_cache, network
from nnjax.activations import get_activation
from nnjax.config import TrainConfig
from nnjax.data import as_dataset
from nnjax.runner import FitResult, fit


# one compiled program per network shape instead of one small compile per operation
_all_activations = jax.jit(network.all_activations, static_argnums=(2, 3))


class NeuralNetwork:
    """A feed-forward network of layer ``sizes`` (e.g. ``[784, 30, 10]``), trained without a log.

    Keyword arguments are those of :class:`nnjax.TrainConfig` (``activation``, ``cost``, ``init``,
    ``seed``, ``output_activation``, ...); ``train`` can override the training ones per call.
    """

    def __init__(self, sizes, **config):
        compilation_cache.enable()
        self.config = TrainConfig(sizes=tuple(sizes) if isinstance(sizes, list) else sizes, **config)
        self.sizes = list(self.config.sizes)
        self.num_layers = len(self.sizes)
        # the same key derivation as nnjax.fit, so one seed gives one network through either door
        init_key, _ = jax.random.split(jax.random.key(self.config.seed))
        self.params = network.init_params(self.sizes, key=init_key,
                                          init=self.config.init)
        self.history: list[dict] = []
        self.status: str | None = None
        self._activation = get_activation(self.config.activation)
        self._output_activation = get_activation(self.config.output_activation)

    # -- the book's attributes ---------------------------------------------------------------
    @property
    def weights(self) -> list[np.ndarray]:
        return [np.asarray(layer.w) for layer in self.params]

    @property
    def biases(self) -> list[np.ndarray]:
        return [np.asarray(layer.b) for layer in self.params]

    # -- training ----------------------------------------------------------------------------
    def _logger_for_run(self):
        return None

    def train(self, training_data, epochs: int = 30, mini_batch_size: int = 10,
              learning_rate: float = 3.0, test_data=None, *, evaluation_data=None,
              **overrides) -> FitResult:
        """Mini-batch SGD for ``epochs``; evaluates ``test_data`` after each epoch if given.

        ``overrides`` are other :class:`TrainConfig` fields (``seed``, ``l2``, ``optimizer``,
        ``monitor_training_cost``, ``early_stopping_n``, ...). ``evaluation_data`` (the validation
        set) is what the monitors, early stopping and the learning-rate schedule watch, as in the
        book's ``network2.py``. Continues from the current parameters. Returns the :class:`FitResult`.
        """
        optimizer = overrides.pop("optimizer", None)
        if optimizer is not None and not isinstance(optimizer, str):
            custom_optimizer, overrides_opt = optimizer, {}
        else:
            custom_optimizer, overrides_opt = None, ({"optimizer": optimizer} if optimizer else {})
        config = self.config.replace(epochs=epochs, mini_batch_size=mini_batch_size,
                                     learning_rate=learning_rate, **overrides_opt, **overrides)
        result = fit(config, training_data, test_data, logger=self._logger_for_run(),
                     optimizer=custom_optimizer, params=self.params, evaluation_data=evaluation_data)
        self.config, self.params = config, result.params
        self.history.extend(result.history)
        self.status = result.status
        return result

    SGD = train  # the book's name

    # -- using the network -------------------------------------------------------------------
    def _as_batch(self, x) -> jax.Array:
        x = jnp.asarray(x, jnp.float32)
        batch = x.reshape(1, -1) if self._is_single(x) else x
        n_in = self.params[0].w.shape[1]
        if batch.ndim != 2 or batch.shape[1] != n_in:
            raise ValueError(f"expected one image of {n_in} values or a batch of shape (n, {n_in}), "
                             f"got an array of shape {tuple(np.shape(x))}")
        return batch

    def _is_single(self, x) -> bool:
        """One image: a vector, a column (784, 1) or any shape with the input's number of values
        but a batch's leading 1 (a (1, 784) array is a batch of one)."""
        shape = np.shape(x)
        return len(shape) == 1 or (np.size(x) == self.params[0].w.shape[1] and shape[0] != 1)

    def feedforward(self, x) -> np.ndarray:
        """Output activations for one image (any shape with 784 values) or a batch (n, 784)."""
        out = network.forward(self.params, self._as_batch(x), self._activation, self._output_activation)
        return np.asarray(out[0] if self._is_single(x) else out)

    def predict(self, x) -> np.ndarray | int:
        """The predicted digit for one image, or an array of them for a batch."""
        out = self.feedforward(x)
        return int(np.argmax(out)) if out.ndim == 1 else np.argmax(out, axis=1)

    def evaluate(self, test_data) -> int:
        """How many examples of ``test_data`` the network classifies correctly (the book's count)."""
        ds = as_dataset(test_data, name="test_data")
        return int(network.accuracy(self.params, jnp.asarray(ds.images), jnp.asarray(ds.labels),
                                    self._activation, self._output_activation))

    def get_all_activations(self, x) -> list[np.ndarray]:
        """Activations of every layer, ``[input, hidden..., output]``: for one image each of shape
        (units,), for a batch (n, 784) each of shape (n, units)."""
        acts = _all_activations(self.params, self._as_batch(x), self._activation,
                                self._output_activation)
        return [np.asarray(a[0] if self._is_single(x) else a) for a in acts]

    # -- saving and loading --------------------------------------------------------------------
    def save(self, path) -> Path:
        """Save the parameters and configuration to ``path`` (``.npz``, no pickle; see
        :mod:`nnjax.checkpoint`). Returns the path written."""
        from nnjax import checkpoint

        return checkpoint.save(path, self.params, self.config)

    @classmethod
    def load(cls, path, **kwargs) -> "NeuralNetwork":
        """A network with the parameters and configuration saved at ``path``; it predicts exactly
        what the saved one did. ``kwargs`` go to the constructor (e.g. ``log_dir`` for a
        :class:`~nnjax.logged_network.LoggedNeuralNetwork`) or replace saved configuration fields."""
        import dataclasses

        from nnjax import checkpoint

        fields = {f.name for f in dataclasses.fields(TrainConfig) if f.init}
        params, config = checkpoint.load(path, **{k: v for k, v in kwargs.items() if k in fields})
        ctor = {k: v for k, v in kwargs.items() if k not in fields}
        record = ({k: v for k, v in dataclasses.asdict(config).items() if k in fields}
                  if config is not None else {})
        sizes = record.pop("sizes", None) or network.layer_sizes(params)
        net = cls(list(sizes), **record, **ctor)
        net.params = params
        return net

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sizes}, activation={self.config.as_record()['activation']!r})"
