"""Reproduce the MLP results of Nielsen's book (chapters 1 and 3) on real MNIST, over several seeds.

Each experiment trains on the 50,000 training images with mini-batch 10 and measures the test and
the validation accuracy after every epoch; the table gives, for the set the book reports, the mean
and spread over seeds of each run's *peak* accuracy, next to the book's figure. A JSON report with
every epoch of every run goes to ``reports/``.

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/reproduce_book.py [--seeds 0 1 2]
        [--experiments ch1-30 ch3-ce-100-l2] [--quick] [--out reports/book.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

from nnjax import TrainConfig, TrainingLogger, fit, load_mnist

# The book's runs. ch. 3 calls net.large_weight_initializer() before each of these, i.e. the
# chapter 1 init N(0, 1) ("normal"); network2's default N(0, 1/n_in) comes later in the chapter.
EXPERIMENTS = {
    "ch1-30": dict(title="ch1 [784,30,10] quadratic, eta=3", sizes=(784, 30, 10), cost="quadratic",
                   learning_rate=3.0, epochs=30, l2=0.0, init="normal", report="test", book=95.42),
    "ch1-100": dict(title="ch1 [784,100,10] quadratic, eta=3", sizes=(784, 100, 10), cost="quadratic",
                    learning_rate=3.0, epochs=30, l2=0.0, init="normal", report="test", book=96.59),
    "ch3-ce-30": dict(title="ch3 [784,30,10] cross-entropy, eta=0.5", sizes=(784, 30, 10),
                      cost="cross_entropy", learning_rate=0.5, epochs=30, l2=0.0, init="normal",
                      report="test", book=95.49),
    "ch3-ce-30-l2": dict(title="ch3 [784,30,10] cross-entropy, eta=0.5, lambda=5", sizes=(784, 30, 10),
                         cost="cross_entropy", learning_rate=0.5, epochs=30, l2=5.0, init="normal",
                         report="test", book=96.49),
    "ch3-ce-100-l2": dict(title="ch3 [784,100,10] cross-entropy, eta=0.1, lambda=5, 60 epochs",
                          sizes=(784, 100, 10), cost="cross_entropy", learning_rate=0.1, epochs=60,
                          l2=5.0, init="normal", report="validation", book=98.04),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS),
                        help="which experiments to run (default: all five)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override every experiment's epochs")
    parser.add_argument("--train-size", type=int, default=None,
                        help="use only the first N training images (default: all 50,000)")
    parser.add_argument("--eval-size", type=int, default=None,
                        help="use only the first N test and validation images (default: all)")
    parser.add_argument("--ch3-init", default="normal", choices=["normal", "scaled_normal"],
                        help="init of the chapter 3 runs: the book's large N(0,1) (default) or "
                             "network2's default N(0,1/n_in)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: seed 0, 1 epoch, 500 training and 500 evaluation images")
    parser.add_argument("--out", default=None, help="JSON report (default reports/book_<time>.json)")
    parser.add_argument("--log-dir", default=None, help="also write each run's JSONL log here")
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder (default $NNJAX_DATA_DIR)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds if args.seeds != [0, 1, 2] else [0]
        args.epochs = args.epochs or 1
        args.train_size = args.train_size or 500
        args.eval_size = args.eval_size or 500
    return args


def run_experiment(name: str, spec: dict, data, args) -> dict:
    training, validation, test = data
    init = args.ch3_init if name.startswith("ch3") else spec["init"]
    runs = []
    for seed in args.seeds:
        config = TrainConfig(sizes=spec["sizes"], cost=spec["cost"], learning_rate=spec["learning_rate"],
                             epochs=args.epochs or spec["epochs"], l2=spec["l2"], init=init,
                             mini_batch_size=10, seed=seed)
        logger = TrainingLogger(args.log_dir) if args.log_dir else None
        result = fit(config, training, test, evaluation_data=validation, logger=logger)
        curves = {"test": [h["accuracy_percent"] for h in result.history],
                  "validation": [h["evaluation_accuracy_percent"] for h in result.history]}
        reported = curves[spec["report"]]
        peak = max(reported)
        runs.append({"seed": seed, "status": result.status, "seconds": result.total_seconds,
                     "peak": peak, "peak_epoch": reported.index(peak), "final": reported[-1],
                     "peak_test": max(curves["test"]), "peak_validation": max(curves["validation"]),
                     "curves": curves, "config": config.as_record()})
        print(f"  {name} seed {seed}: peak {peak:.2f} % ({spec['report']}, epoch {reported.index(peak)}), "
              f"final {reported[-1]:.2f} %, {result.total_seconds:.0f} s", flush=True)
    peaks = [r["peak"] for r in runs]
    return {"name": name, "title": spec["title"], "set": spec["report"], "book": spec["book"],
            "init": init, "mean": statistics.fmean(peaks),
            "std": statistics.stdev(peaks) if len(peaks) > 1 else 0.0,
            "min": min(peaks), "max": max(peaks),
            "mean_final": statistics.fmean(r["final"] for r in runs), "runs": runs}


def table(results: list[dict]) -> str:
    lines = ["| experiment | set | book | mean peak ± std | min – max | mean final | seeds |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        seeds = ", ".join(f"{x['peak']:.2f}" for x in r["runs"])
        lines.append(f"| {r['title']} | {r['set']} | {r['book']:.2f} | {r['mean']:.2f} ± {r['std']:.2f} "
                     f"| {r['min']:.2f} – {r['max']:.2f} | {r['mean_final']:.2f} "
                     f"| {seeds} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    training, validation, test = load_mnist(args.data_dir, source="idx")
    if args.train_size:
        training = training[:args.train_size]
    if args.eval_size:
        validation, test = validation[:args.eval_size], test[:args.eval_size]
    results = []
    for name in args.experiments:
        print(f"{name}: {EXPERIMENTS[name]['title']}", flush=True)
        results.append(run_experiment(name, EXPERIMENTS[name], (training, validation, test), args))
    command = "python scripts/reproduce_book.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print()
    print(table(results))
    out = Path(args.out or f"reports/book_{dt.datetime.now(dt.timezone.utc):%Y%m%d_%H%M%S}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command.strip(), "seconds": time.perf_counter() - start,
                               "n_train": len(training), "n_test": len(test),
                               "n_validation": len(validation), "results": results}, indent=1))
    print(f"\nreport: {out}   ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
