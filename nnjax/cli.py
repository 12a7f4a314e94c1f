"""The ``nnjax`` command: ``nnjax train`` (a run from the shell, with live progress),
``nnjax report`` (the five figures and a markdown summary of logs, without Jupyter),
``nnjax sweep`` (a grid of configurations, vmapped where shapes agree) and ``nnjax compare``
(runs side by side; the last two live in :mod:`nnjax.sweep_cli`).

This is the front end: the one place that prints. A user mistake (a missing file, a bad value)
prints one line on stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

USER_ERROR = 2
INTERRUPTED = 130

TRAIN_EXAMPLES = """\
examples:
  nnjax train                                    # the book's chapter 1 run: [784, 30, 10], 30 epochs
  nnjax train --epochs 5 --subset 10000          # quicker: 5 epochs on the first 10,000 images
  nnjax train --sizes 784 100 10 --cost cross_entropy --init scaled_normal -lr 0.5
  nnjax train --sizes 784 30 30 30 10 --epochs 10 --report   # deep net, then the report
  nnjax train --no-log --data-dir ../shared/data/mnist

Data: --data-dir, else $NNJAX_DATA_DIR (a folder with the four MNIST IDX files).
The log goes to --log-dir (default logs/); --no-log trains without one.
"""

REPORT_EXAMPLES = """\
examples:
  nnjax report logs/training_20261203_171618.jsonl          # writes reports/training_20261203_171618/
  nnjax report logs/ --out reports/all                      # every log in a folder, overlaid
  nnjax report run_a.jsonl run_b.jsonl --threshold 0.05

Writes accuracy.png, weights.png, gradients.png, timing.png, summary.png and summary.md.
"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a mistake in one line (and where to get help), exit status 2."""

    def error(self, message: str):
        self.exit(USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value


def _float_above(minimum: float, *, inclusive: bool):
    """An argparse type: a finite number greater than ``minimum`` (or equal, if ``inclusive``)."""
    bound = f"{minimum:g} or more" if inclusive else f"greater than {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = value >= minimum if inclusive else value > minimum
        if not (ok and value < float("inf")):
            raise argparse.ArgumentTypeError(f"expected a finite number, {bound}, got {text}")
        return value

    return parse


_positive_float = _float_above(0.0, inclusive=False)
_non_negative_float = _float_above(0.0, inclusive=True)


def _sizes(values: list[str]) -> list[int]:
    """``784 30 10`` or ``784,30,10`` (or both mixed) → [784, 30, 10]."""
    out = []
    for value in values:
        for part in str(value).replace(",", " ").split():
            out.append(_positive_int(part))
    return out


def build_parser() -> ArgumentParser:
    from nnjax.activations import ACTIVATIONS
    from nnjax.analysis import DEFAULT_THRESHOLD
    from nnjax.config import OPTIMIZERS, TrainConfig
    from nnjax.costs import COSTS
    from nnjax.initializers import INITIALIZERS

    defaults = TrainConfig()
    parser = ArgumentParser(
        prog="nnjax", description="Train Nielsen's MNIST networks and see how they learn.",
        epilog="examples:\n  nnjax train --epochs 5\n  nnjax report logs/\n"
               "  nnjax sweep --learning-rate 0.3 1 3 --epochs 5\n  nnjax compare logs/sweep_*/\n\n"
               "Run 'nnjax COMMAND --help' for the options of each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from nnjax import __version__

    parser.add_argument("--version", action="version", version=f"nnjax {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{train,report,sweep,compare}")

    train = commands.add_parser(
        "train", help="train a network on MNIST with live progress and a log",
        description="Train a network on MNIST (mini-batch SGD by default), show a progress bar per "
                    "epoch with the last test accuracy, then a summary.",
        epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    net = train.add_argument_group("network")
    net.add_argument("--sizes", nargs="+", default=list(defaults.sizes), metavar="N",
                     help="layer sizes, input first (default: 784 30 10)")
    net.add_argument("--activation", choices=ACTIVATIONS.names(), default=defaults.activation,
                     help="hidden-layer activation (default: %(default)s)")
    net.add_argument("--output-activation", choices=ACTIVATIONS.names(), default=None,
                     help="output-layer activation (default: sigmoid; softmax with log_likelihood)")
    net.add_argument("--cost", choices=COSTS.names(), default=defaults.cost,
                     help="cost function (default: %(default)s)")
    net.add_argument("--init", choices=INITIALIZERS.names(), default=None,
                     help="weight initialiser (default: he for ReLU hidden layers, else normal, "
                          "the book's N(0, 1))")
    opt = train.add_argument_group("training")
    opt.add_argument("-lr", "--learning-rate", "--eta", type=_positive_float,
                     default=defaults.learning_rate, help="η (default: %(default)s)")
    opt.add_argument("--mini-batch-size", "--batch-size", type=_positive_int,
                     default=defaults.mini_batch_size, help="(default: %(default)s)")
    opt.add_argument("--epochs", type=_positive_int, default=defaults.epochs,
                     help="(default: %(default)s)")
    opt.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer,
                     help="(default: %(default)s)")
    opt.add_argument("--l2", type=float, default=defaults.l2,
                     help="L2 regularisation λ (default: %(default)s)")
    opt.add_argument("--seed", type=int, default=defaults.seed,
                     help="initialisation and shuffling seed (default: %(default)s)")
    data = train.add_argument_group("data")
    data.add_argument("--data-dir", default=None,
                      help="folder with the four MNIST IDX files (default: $NNJAX_DATA_DIR)")
    data.add_argument("--source", choices=("tfds", "idx"), default=None,
                      help="how to read the IDX files: through a cached tensorflow-datasets copy "
                           "or directly (default: $NNJAX_DATA_SOURCE, else tfds)")
    data.add_argument("--subset", type=_positive_int, default=None, metavar="N",
                      help="train on the first N training images only (default: all 50,000)")
    data.add_argument("--test-subset", type=_positive_int, default=None, metavar="N",
                      help="evaluate on the first N test images only (default: all 10,000)")
    data.add_argument("--no-test", action="store_true",
                      help="do not evaluate after each epoch (no test accuracy)")
    log = train.add_argument_group("log")
    log.add_argument("--log-dir", default="logs", help="where the JSONL log goes (default: logs/)")
    log.add_argument("--log-interval", type=_positive_int, default=defaults.log_interval, metavar="N",
                     help="gradient statistics every N mini-batches (default: %(default)s)")
    log.add_argument("--no-log", action="store_true", help="train without writing a log")
    log.add_argument("--report", action="store_true",
                     help="after training, write the report under reports/<log name>/")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    report = commands.add_parser(
        "report", help="write the figures and a markdown summary of logs (no Jupyter)",
        description="Read one or more learning-mode logs (files or folders) and write five PNG "
                    "figures plus summary.md.",
        epilog=REPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("logs", nargs="+", metavar="LOG", help="a log file or a folder of logs")
    report.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: reports/<name of the first log>)")
    report.add_argument("--threshold", type=_non_negative_float, default=DEFAULT_THRESHOLD, metavar="PP",
                        help="percentage points of test accuracy that count as still improving "
                             "(default: %(default)s)")

    from nnjax.sweep_cli import add_compare_parser, add_sweep_parser

    add_sweep_parser(commands)
    add_compare_parser(commands)
    return parser


class UserError(Exception):
    """A mistake the user can fix; main() prints it in one line."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nnjax`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("choose a command: train, report, sweep or compare")
    prog = f"nnjax {args.command}"
    from nnjax import compilation_cache
    from nnjax.data import DataError

    compilation_cache.enable()
    from nnjax.logger import LogDirError

    try:
        if args.command == "train":
            return _train(args)
        if args.command == "report":
            return _report(args)
        try:
            return args.handler(args)
        except (ValueError, TypeError, DataError, LogDirError, FileNotFoundError) as exc:
            raise UserError(str(exc)) from None
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED


# -- nnjax train ---------------------------------------------------------------------------------
def _train(args) -> int:
    from nnjax.config import TrainConfig
    from nnjax.data import DataError
    from nnjax.logger import LogDirError, TrainingLogger, check_writable
    from nnjax.network import check_sizes

    try:
        sizes = _sizes(args.sizes)
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"argument --sizes: {exc}") from None
    try:
        config = TrainConfig(sizes=tuple(sizes), activation=args.activation,
                             output_activation=args.output_activation, cost=args.cost, init=args.init,
                             learning_rate=args.learning_rate, mini_batch_size=args.mini_batch_size,
                             epochs=args.epochs, seed=args.seed, l2=args.l2, optimizer=args.optimizer,
                             log_interval=args.log_interval)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise UserError(f"--data-dir {args.data_dir}: no such folder")
    if not args.no_log:
        try:
            check_writable(args.log_dir)  # before loading data: fail fast
        except LogDirError as exc:
            raise UserError(str(exc)) from None

    start = time.perf_counter()
    try:
        training, _, test = _load_data(args.data_dir, args.source)
    except DataError as exc:
        raise UserError(str(exc)) from None
    if args.subset is not None:
        if args.subset > len(training):
            raise UserError(f"--subset {args.subset} is more than the {len(training)} training images")
        training = training[: args.subset]
    if args.test_subset is not None:
        test = test[: args.test_subset]
    if args.no_test:
        test = None
    try:
        check_sizes(config.sizes, n_inputs=training.n_inputs)  # before a log file is made
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        logger = None if args.no_log else TrainingLogger(args.log_dir)
        result = _fit_with_progress(config, training, test, logger=logger,
                                    progress=not args.no_progress)
    except (ValueError, TypeError) as exc:  # fit checks data against the config before training
        raise UserError(str(exc)) from None
    except OSError as exc:  # the log stopped being writable (a full disk, a removed folder)
        raise UserError(f"training stopped, the log could not be written: {exc}") from None
    _print_summary(result, time.perf_counter() - start)
    if logger is not None and logger.flags is not None:
        from nnjax.diagnose import summary_lines

        for line in summary_lines(logger.flags):
            print(f"diagnosis:      {line}")
    if args.report and result.log_file:
        written = _write_report([Path(result.log_file)], None)
        print(f"report:         {written}")
    return {"completed": 0, "interrupted": INTERRUPTED}.get(result.status, 1)


def _load_data(data_dir, source):
    from nnjax.data import load_mnist

    return load_mnist(data_dir, source=source)


def _fit_with_progress(config, training, test, *, logger, progress: bool):
    """:func:`nnjax.fit` with a tqdm bar that advances once per epoch and shows the last test
    accuracy, the best so far and the training cost."""
    from tqdm import tqdm

    from nnjax.runner import fit

    bar = tqdm(total=config.epochs, unit="epoch", desc="training", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    best = None

    def on_epoch(entry: dict) -> None:
        nonlocal best
        accuracy = entry.get("accuracy_percent")
        postfix = {}
        if accuracy is not None:
            best = accuracy if best is None else max(best, accuracy)
            postfix.update(acc=f"{accuracy:.2f}%", best=f"{best:.2f}%")
        postfix["cost"] = f"{entry['train_cost']:.4f}"
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)

    try:
        return fit(config, training, test, logger=logger, on_epoch=on_epoch)
    finally:
        bar.close()


def _print_summary(result, seconds: float) -> None:
    history = result.history
    print(f"status:         {result.status} after {len(history)} epoch{'s' if len(history) != 1 else ''}")
    scored = [h for h in history if h.get("accuracy_percent") is not None]
    if scored:
        best = max(scored, key=lambda h: h["accuracy_percent"])
        print(f"best accuracy:  {best['accuracy_percent']:.2f} % (epoch {best['epoch']})")
        print(f"final accuracy: {scored[-1]['accuracy_percent']:.2f} %")
    else:
        print("accuracy:       - (no test data)")
    if history:
        print(f"final cost:     {history[-1]['train_cost']:.4f} (mean mini-batch cost, training)")
    if result.status == "nonfinite":
        print("note:           the cost or a gradient became NaN/inf (the run diverged) and training "
              "stopped; try a smaller --learning-rate")
    print(f"time:           {seconds:.1f} s (data, compile, training, evaluation)")
    print(f"log:            {result.log_file or '- (--no-log)'}")


# -- nnjax report --------------------------------------------------------------------------------
def _report(args) -> int:
    from nnjax.analysis import LogError, find_logs

    try:
        files = find_logs(args.logs)
    except LogError as exc:
        raise UserError(str(exc)) from None
    out = _write_report(files, args.out, threshold=args.threshold)
    print(f"report:         {out}")
    return 0


def _write_report(files: list[Path], out, *, threshold: float | None = None) -> str:
    """Read ``files`` and write the report; warns about reading problems on stderr; returns the
    folder and the files written, as a line to print."""
    from nnjax import report
    from nnjax.analysis import DEFAULT_THRESHOLD, LogError, read_logs
    from nnjax.diagnostic_plots import test_images_from_env

    try:
        tables = read_logs(files)
    except LogError as exc:
        raise UserError(str(exc)) from None
    for problem in tables.problems:
        print(f"warning: {problem}", file=sys.stderr)
    out_dir = Path(out) if out else report.default_out_dir(files)
    try:
        written = report.write_report(tables, out_dir,
                                      threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                                      test_images=test_images_from_env())
    except OSError as exc:
        raise UserError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from None
    return f"{out_dir}{os.sep} ({', '.join(p.name for p in written.values())})"


if __name__ == "__main__":
    sys.exit(main())
