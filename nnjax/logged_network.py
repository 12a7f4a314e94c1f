"""``LoggedNeuralNetwork``: a :class:`NeuralNetwork` that writes the learning-mode log.

The same network and the same compiled training; the only difference is a :class:`TrainingLogger`
handed to :func:`nnjax.fit`. Each call of ``train`` is one run and one log file::

    net = LoggedNeuralNetwork([784, 30, 10])
    net.train(training_data=training[:1000], epochs=5, mini_batch_size=10, learning_rate=3.0,
              test_data=test)
    print(net.logger.get_summary())
"""

from __future__ import annotations

import os

from nnjax.logger import TrainingLogger, check_writable
from nnjax.network_api import NeuralNetwork


class LoggedNeuralNetwork(NeuralNetwork):
    """``NeuralNetwork`` plus a JSONL log under ``log_dir`` (default ``logs/``).

    ``log_interval`` (N, default 100) is how often, in mini-batches, gradient statistics are logged.
    The log folder is checked when the network is made, so an unwritable folder fails before any
    training. ``net.logger`` is the logger of the latest run.
    """

    def __init__(self, sizes, *, log_dir: str | os.PathLike = "logs", **config):
        super().__init__(sizes, **config)
        self.log_dir = check_writable(log_dir)
        self.logger = TrainingLogger(self.log_dir)
        self._logger_used = False

    def _logger_for_run(self) -> TrainingLogger:
        if self._logger_used:
            self.logger = TrainingLogger(self.log_dir)
        self._logger_used = True
        return self.logger

    def train(self, *args, **kwargs):
        """:meth:`NeuralNetwork.train`, logged; a run refused before it starts (bad data or
        hyperparameters) leaves no empty log file behind."""
        try:
            return super().train(*args, **kwargs)
        except BaseException:
            self.logger.discard_if_empty()
            raise

    SGD = train

    def log_activation_pattern(self, sample_idx, x, label) -> dict:
        """Log how image ``x`` (with its true ``label``) activates each layer."""
        record = self.config.as_record()
        return self.logger.log_activation_pattern(
            sample_idx, self.get_all_activations(x), label, self.predict(x),
            activation=record["activation"], output_activation=record["output_activation"])
