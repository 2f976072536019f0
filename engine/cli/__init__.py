"""`layerdeck` command line: one module per sub-command, each with
`add_parser(subparsers)` and `run(args) -> int` (the exit code).

The console script is app.launch:main, which sends sub-commands here and
opens the GUI otherwise (the engine never imports the app). Errors a user can fix are printed as
one line each and exit 1; a traceback is never shown for them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> module under engine.cli; each module owns its parser and run().
COMMANDS = {
    "check": "engine.cli.check",
    "export": "engine.cli.export",
    "train": "engine.cli.train",
    "runs": "engine.cli.runs",
    "lr-find": "engine.cli.lr_find",
    "sweep": "engine.cli.sweep",
    "sweeps": "engine.cli.sweeps",
    "predict": "engine.cli.predict",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerdeck",
        description="Build, train and compare PyTorch models. With no command, opens the app.",
    )
    parser.add_argument("--db", help="Run store URL (default: LAYERDECK_DB or the user data dir).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(importlib.import_module(COMMANDS[args.command]).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
