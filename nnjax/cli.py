"""The ``nnjax`` command: ``nnjax sweep ...`` and ``nnjax compare ...``.

User mistakes (unknown names, bad values, missing files or data) are one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from nnjax.sweep_cli import add_compare_parser, add_sweep_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnjax", description="Watch a neural network learn.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_sweep_parser(sub)
    add_compare_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from nnjax.data import DataError
    from nnjax.logger import LogDirError

    try:
        return args.handler(args)
    except (ValueError, TypeError, DataError, LogDirError, FileNotFoundError) as exc:
        print(f"nnjax {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nnjax {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
