"""The ``nnjax sweep`` and ``nnjax compare`` subcommands (argparse front ends; the work is done by
:mod:`nnjax.sweep` and :mod:`nnjax.compare`).

``nnjax sweep`` takes the grid on the command line, in a TOML/JSON file, or both (the command line
wins). In the file, a key is a :class:`~nnjax.TrainConfig` field (or ``hidden``); a list is a grid
axis, a single value is fixed for every run; ``train_size``, ``test_size``, ``eval``, ``data_dir``
and ``log_dir`` set the data and the output. Example ``sweep.toml``::

    epochs = 5
    train_size = 10000
    learning_rate = [0.1, 0.3, 1.0, 3.0, 10.0]
    hidden = [10, 30, 100]        # or [[30], [30, 30]] for several hidden layers
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nnjax.config import TrainConfig

#: Keys of a sweep file that are not TrainConfig fields.
RUN_OPTIONS = ("train_size", "test_size", "eval", "data_dir", "log_dir")
AXES = (("learning_rate", float), ("hidden", str), ("activation", str), ("output_activation", str),
        ("cost", str), ("init", str), ("l2", float), ("seed", int))
FIXED = (("epochs", int), ("mini_batch_size", int), ("optimizer", str), ("momentum", float),
         ("log_interval", int))


class UsageError(ValueError):
    """A mistake in the command line or the sweep file: reported on one line, exit status 2."""


def add_sweep_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sweep", help="train a grid of configurations (vmapped where shapes agree)",
        description="Train every combination of the values given. Runs that differ only in learning "
                    "rate, seed, L2 or initialiser train together as one vmapped program; each run "
                    "writes its own log into LOG_DIR/sweep_<id>/.")
    p.add_argument("config_file", nargs="?", help="a TOML or JSON sweep file (optional)")
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", nargs="+", type=float, metavar="ETA")
    p.add_argument("--hidden", nargs="+", metavar="SIZES",
                   help="hidden-layer options: 30 100, or 30,30 for two hidden layers")
    p.add_argument("--activation", nargs="+", metavar="NAME")
    p.add_argument("--output-activation", dest="output_activation", nargs="+", metavar="NAME")
    p.add_argument("--cost", nargs="+", metavar="NAME")
    p.add_argument("--init", nargs="+", metavar="NAME")
    p.add_argument("--l2", nargs="+", type=float, metavar="LAMBDA")
    p.add_argument("--seed", nargs="+", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--mini-batch-size", dest="mini_batch_size", type=int)
    p.add_argument("--optimizer")
    p.add_argument("--momentum", type=float)
    p.add_argument("--log-interval", dest="log_interval", type=int)
    p.add_argument("--train-size", dest="train_size", type=int,
                   help="use the first N of the 50,000 training images")
    p.add_argument("--test-size", dest="test_size", type=int, help="evaluate on the first N images")
    p.add_argument("--eval", choices=("test", "validation"), help="evaluate on (default: test)")
    p.add_argument("--data-dir", dest="data_dir", help="folder of the MNIST IDX files ($NNJAX_DATA_DIR)")
    p.add_argument("--log-dir", dest="log_dir", help="where the sweep folder goes (default: logs)")
    p.add_argument("--shared-batches", dest="shared_batches", action="store_true",
                   help="runs with one seed share each mini-batch (faster; float32 sums reordered)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run_sweep)
    return p


def add_compare_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "compare", help="compare runs: table, accuracy curves, CSV",
        description="Read logs (files or folders, e.g. a sweep folder), print one row per run and "
                    "write runs.csv, epochs.csv (long format) and accuracy.png into --out.")
    p.add_argument("logs", nargs="+", metavar="LOGS", help="log files or folders of logs")
    p.add_argument("--out", default="reports/compare", help="output folder (default: reports/compare)")
    p.set_defaults(handler=run_compare)
    return p


def read_sweep_file(path: str) -> dict:
    """A sweep file's mapping (TOML by extension ``.toml``, else JSON)."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"sweep file not found: {file}")
    try:
        if file.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(file.read_text())
        else:
            data = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: not valid {'TOML' if file.suffix == '.toml' else 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{file}: expected a table of settings, got {type(data).__name__}")
    return data


def plan(args: argparse.Namespace) -> tuple[list[TrainConfig], dict]:
    """The configurations and the run options (data, log dir) the arguments describe."""
    from nnjax.sweep import GRID_ALIASES, grid

    settings = read_sweep_file(args.config_file) if getattr(args, "config_file", None) else {}
    settings = {GRID_ALIASES.get(k, k): v for k, v in settings.items()}
    for name, _ in AXES + FIXED:
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = value
    for name in RUN_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = value
    options = {k: settings.pop(k) for k in RUN_OPTIONS if k in settings}
    if isinstance(settings.get("hidden"), list):
        settings["hidden"] = [h for h in settings["hidden"]]
    fixed, axes = {}, {}
    for key, value in settings.items():
        is_axis = isinstance(value, list) and not (key == "sizes" and value and not isinstance(value[0], list))
        (axes if is_axis else fixed)[key] = value
    if "hidden" in fixed:
        axes["hidden"] = [fixed.pop("hidden")]
    try:
        base = TrainConfig(**{k: v for k, v in fixed.items()})
        configs = grid(base, **axes)
    except TypeError as exc:
        raise UsageError(str(exc)) from None
    return configs, options


def run_sweep(args: argparse.Namespace) -> int:
    from nnjax.data import load_mnist
    from nnjax.sweep import group_configs, sweep

    configs, options = plan(args)
    for key in ("train_size", "test_size"):
        if key in options and (not isinstance(options[key], int) or options[key] <= 0):
            raise UsageError(f"{key} must be a positive integer, got {options[key]!r}")
    training, validation, test = load_mnist(options.get("data_dir"))
    evaluation = validation if options.get("eval") == "validation" else test
    for key, data, name in (("train_size", training, "training"),
                            ("test_size", evaluation, options.get("eval", "test"))):
        if options.get(key, 0) > len(data):
            raise UsageError(f"{key} {options[key]} is more than the {len(data)} {name} images")
    if "train_size" in options:
        training = training[: options["train_size"]]
    if "test_size" in options:
        evaluation = evaluation[: options["test_size"]]
    groups = group_configs(configs)
    out = sys.stdout
    print(f"sweep: {len(configs)} run{'s' if len(configs) != 1 else ''} in {len(groups)} group(s) "
          f"({', '.join(str(len(g)) for g in groups)} trained together), "
          f"{len(training)} training images, evaluated on {len(evaluation)} "
          f"{options.get('eval', 'test')} images", file=out, flush=True)

    def progress(entry: dict) -> None:
        if not args.quiet and entry.get("accuracy_percent") is not None:
            print(f"  run {entry['run']:3d}  epoch {entry['epoch']:3d}  "
                  f"{entry['accuracy_percent']:6.2f} %", file=sys.stderr, flush=True)

    result = sweep(configs, training, evaluation, log_dir=options.get("log_dir", "logs"),
                   on_epoch=progress, keep_params=False, shared_batches=args.shared_batches)
    print(result.summary(), file=out)
    print(f"logs: {result.log_dir}", file=out)
    return 0 if all(r is not None and r.status in ("completed", "nonfinite") for r in result.runs) else 1


def run_compare(args: argparse.Namespace) -> int:
    from nnjax.compare import compare

    try:
        runs, written = compare(args.logs, args.out)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    for note in runs.notes:
        print(f"note: {note}")
    if runs.runs.empty:
        print("no nnjax training logs found in " + ", ".join(args.logs))
        return 1
    shown = ["label", "best_accuracy", "best_epoch", "final_accuracy", "epochs_completed",
             "time_seconds", "status"]
    print(runs.runs[shown].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    verdict = runs.winner()
    if verdict:
        print(verdict)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


__all__ = ["add_sweep_parser", "add_compare_parser", "run_sweep", "run_compare", "plan", "UsageError"]


def question_main(question: str, argv: list[str] | None = None) -> int:
    """Front end of ``scripts/sweep_*.py``: run the sweep that answers one of the seed's questions
    (:mod:`nnjax.questions`) on real MNIST and print the answer."""
    import time

    from nnjax.data import load_mnist
    from nnjax.questions import QUESTIONS, configurations, format_answer
    from nnjax.sweep import group_configs, sweep

    parser = argparse.ArgumentParser(description=QUESTIONS[question])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--train-size", type=int, default=50_000)
    parser.add_argument("--eval", choices=("validation", "test"), default="validation",
                        help="choose hyperparameters on the validation set (default), as the book does")
    parser.add_argument("--data-dir")
    parser.add_argument("--log-dir", default="logs")
    args = parser.parse_args(argv)
    try:
        base = TrainConfig(epochs=args.epochs)
        configs = configurations(question, base, seeds=args.seeds)
        start = time.perf_counter()
        training, validation, test = load_mnist(args.data_dir)
        evaluation = validation if args.eval == "validation" else test
        training = training[: args.train_size]
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{QUESTIONS[question]} {len(configs)} runs ({len(group_configs(configs))} group(s)), "
          f"{args.epochs} epochs on {len(training)} images, accuracy on the {len(evaluation)} "
          f"{args.eval} images", flush=True)
    result = sweep(configs, training, evaluation, log_dir=args.log_dir, keep_params=False)
    print(format_answer(question, result))
    print(f"time: {time.perf_counter() - start:.0f} s; logs: {result.log_dir} "
          f"(nnjax compare {result.log_dir} --out reports/{question})")
    return 0
