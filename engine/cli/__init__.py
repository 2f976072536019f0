"""`layerdeck` command line: one module per sub-command, each with
`add_parser(subparsers)` and `run(args) -> int` (the exit code).

With no sub-command the GUI opens. Errors a user can fix are printed as
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
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        # GUI: `layerdeck`, `layerdeck --db URL`, `layerdeck --screenshots DIR`.
        from app.__main__ import main as gui_main
        return gui_main(argv)
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(COMMANDS[args.command]).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
