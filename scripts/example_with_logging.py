"""The main job: Nielsen's chapter 1 network on real MNIST, with the learning-mode log.

[784, 30, 10], sigmoid, quadratic cost, plain SGD, mini-batch 10, η = 3.0, 30 epochs on the 50,000
training images, evaluated on the 10,000 test images after every epoch. Writes
``logs/training_*.jsonl``, then the report for that log — its PNG figures (the learning curves,
weights, gradients, timings and a summary; the diagnostics' histograms, saturation, update ratios,
confusion matrix and misclassified digits) and ``summary.md``
under ``reports/<log name>/`` — and prints a short summary. Written with the seed project's API.

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/example_with_logging.py [--epochs 30]
"""

import argparse
import time
from pathlib import Path

from nnjax import MNISTLoader, analysis, report
from nnjax.diagnose import summary_lines
from nnjax.logged_network import LoggedNeuralNetwork


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-dir", default="logs")
    parser.add_argument("--report-dir", default="reports",
                        help="the report goes to REPORT_DIR/<log name>/ (default: reports)")
    parser.add_argument("--no-report", action="store_true", help="train and log only (benchmarks)")
    args = parser.parse_args()

    start = time.perf_counter()
    training_data, validation_data, test_data = MNISTLoader.load_data()
    net = LoggedNeuralNetwork([784, 30, 10], log_dir=args.log_dir, seed=args.seed)
    net.train(training_data=training_data, epochs=args.epochs, mini_batch_size=10,
              learning_rate=3.0, test_data=test_data)

    x, label = test_data[0]
    net.logger.log_activation_pattern(sample_idx=0, activations=net.get_all_activations(x),
                                      label=label, prediction=net.predict(x))
    summary = net.logger.get_summary()
    print(f"status:         {summary['status']} after {summary['total_epochs']} epochs")
    print(f"best accuracy:  {summary['best_accuracy']:.2f} % (epoch {summary['best_epoch']})")
    print(f"final accuracy: {summary['final_accuracy']:.2f} %")
    print(f"time:           {time.perf_counter() - start:.1f} s (data, compile, training, evaluation)")
    print(f"log:            {summary['log_file']}")
    for line in summary_lines(summary["flags"] or []):
        print(f"diagnosis:      {line}")

    if args.no_report:
        return
    log = Path(summary["log_file"])
    written = report.write_report(analysis.read_logs(log), Path(args.report_dir) / log.stem,
                                  test_images=test_data.images)  # for the misclassified digits
    print(f"report:         {written['summary.md'].parent}/ ({len(written) - 1} figures + summary.md)")


if __name__ == "__main__":
    main()
