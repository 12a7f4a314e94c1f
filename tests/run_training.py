"""A real, small training run in its own process, for the tests that interrupt, kill or multiply runs.

Trains a LoggedNeuralNetwork on the first ``--n`` real MNIST training images and writes what
``train`` returned as JSON to ``--out``; then leaves with ``os._exit`` at once — no interpreter
shutdown, no garbage collection — so the log must already be complete when ``train`` returns.

    python tests/run_training.py --log-dir DIR --out result.json [--n 1000 --epochs 3 ...]
"""

import argparse
import json
import os

import numpy as np

from nnjax import load_mnist
from nnjax.logged_network import LoggedNeuralNetwork


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--interval", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    training, _, test = load_mnist()
    net = LoggedNeuralNetwork([784, args.hidden, 10], log_dir=args.log_dir, seed=args.seed,
                              log_interval=args.interval)
    before = [np.array(w) for w in net.weights]
    result = net.train(training[: args.n], epochs=args.epochs, mini_batch_size=10,
                       learning_rate=3.0, test_data=test[: args.n_test])
    changed = any(not np.array_equal(a, b) for a, b in zip(before, net.weights))
    with open(args.out, "w") as f:
        json.dump({"status": result.status, "epochs_done": len(result.history),
                   "params_changed": changed, "log_file": result.log_file,
                   "run_id": net.logger.run_id}, f)
    os._exit(0)


if __name__ == "__main__":
    main()
