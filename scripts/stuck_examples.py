"""Why is it stuck? Three runs on real MNIST whose diagnostics tell three stories, with figures.

  main     the book's main job (sigmoid, N(0, 1) init, η = 3): no flag expected
  lr1e6    the same with η = 1e6: saturated and at chance
  relu     ReLU everywhere (hidden and output) with the book's N(0, 1) init: dead units

Each run writes its JSONL log under ``--log-dir`` (probe batch: 1,000 validation images) and its
diagnostic figures under ``--out``; the diagnosis of each is printed.

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/stuck_examples.py [--epochs 3] [--n-train 50000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nnjax import TrainConfig, TrainingLogger, fit, load_mnist
from nnjax.diagnostic_plots import save_diagnostic_figures
from nnjax.diagnose import summary_lines

RUNS = {"main": {}, "lr1e6": {"learning_rate": 1e6},
        "relu": {"activation": "relu", "output_activation": "relu", "init": "normal"}}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--log-dir", default="logs/stuck")
    parser.add_argument("--out", default="reports/stuck")
    args = parser.parse_args(argv)

    training, validation, test = load_mnist()
    logs = {}
    for name in args.runs:
        logger = TrainingLogger(args.log_dir, prefix=name)
        result = fit(TrainConfig(epochs=args.epochs, **RUNS[name]), training[:args.n_train], test,
                     logger=logger, probe_data=validation)
        save_diagnostic_figures(logger.log_file, Path(args.out), test_images=test.images,
                                prefix=f"{name}_")
        logs[name] = str(logger.log_file)
        print(f"{name}: {result.status}, final accuracy {result.final_accuracy:.2f} %, log {logger.log_file}")
        for line in summary_lines(logger.get_summary()["flags"] or []):
            print(f"  {line}")
    print(f"figures: {args.out}")
    return logs


if __name__ == "__main__":
    main()
