"""`layerdeck export SPEC.json | --run ID  (--code OUT.py | --onnx OUT.onnx | --pt2 OUT.pt2)`.

From a spec: the model with the initial weights a run of it starts from.
From a run: its best weights (last when it kept no best). ONNX and torch.export
files are loaded back and checked against PyTorch on a batch of another size
at once; the check is printed, kept with the run (document `export/onnx` or
`export/pt2`), and an export that disagrees beyond 1e-4 exits 1. Python
export from a run also writes the weights and an inference example.
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from engine.cli.options import add_db_option
from engine.spec import SpecError

if TYPE_CHECKING:
    from engine.export.check import ExportCheck
    from engine.export.source import ModelSource


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("export", help="Export a spec's or a run's model: Python code, ONNX or torch.export.",
                       description="Export the model of a run spec (initial weights) or of a run (--run ID, "
                                   "its best weights) as Python source, ONNX or a torch.export program. "
                                   "ONNX and .pt2 files are checked against PyTorch right after export.")
    p.add_argument("spec", nargs="?", help="Run spec JSON file (or use --run).")
    p.add_argument("--run", type=int, metavar="ID", help="Export this run's best weights instead of a spec.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--code", metavar="OUT.py", help="Write standalone PyTorch code (with --run: and weights).")
    what.add_argument("--onnx", metavar="OUT.onnx", help="Write ONNX with a dynamic batch axis, checked in "
                                                           "onnxruntime.")
    what.add_argument("--pt2", metavar="OUT.pt2", help="Write a torch.export program, reloaded and checked.")
    p.add_argument("--class-name", default="Net", help="Name of the generated class (default: Net).")
    add_db_option(p)


def run(args: argparse.Namespace) -> int:
    from engine.export import ExportError
    from engine.store import RunNotFoundError, StoreError

    if (args.spec is None) == (args.run is None):
        print("layerdeck export: give a spec file or --run ID (one of the two)", file=sys.stderr)
        return 2
    where = args.spec if args.spec is not None else f"run {args.run}"
    try:
        src = _source(args)
        if args.code:
            from engine.export.python import export_python_files

            print(export_python_files(src, args.code, args.class_name).describe())
            return 0
        check = _binary(src, args)
    except SpecError as e:
        for msg in e.errors:
            print(f"{where}: {msg}", file=sys.stderr)
        return 1
    except (ExportError, RunNotFoundError, StoreError, ValueError, OSError) as e:
        print(f"{where}: {e}", file=sys.stderr)
        return 1
    if src.run_id is not None:
        _keep(args, check)
    print(check.describe() + (f"; kept with run {src.run_id}" if src.run_id is not None else ""))
    if not check.passed:
        print(f"{where}: export failed: {check.error}", file=sys.stderr)
        return 1
    return 0


def _source(args: argparse.Namespace) -> "ModelSource":
    from engine.export import source

    if args.run is None:
        from engine.spec import load_spec

        return source.from_spec(load_spec(args.spec))
    with _store(args) as store:
        return source.from_run(store, args.run)


def _binary(src: "ModelSource", args: argparse.Namespace) -> "ExportCheck":
    if args.onnx:
        from engine.export.onnx import export_onnx

        return export_onnx(src, args.onnx)
    from engine.export.program import export_program

    return export_program(src, args.pt2)


def _store(args: argparse.Namespace):
    from engine.store import RunStore, resolve_db_url

    return RunStore(resolve_db_url(getattr(args, "db", None)))


def _keep(args: argparse.Namespace, check: "ExportCheck") -> None:
    from engine.export.store import keep_check

    with _store(args) as store:
        keep_check(store, args.run, check)
