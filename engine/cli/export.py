"""`layerdeck export SPEC.json --code OUT.py`: write the spec's model as a
standalone PyTorch module (same parameter names, so checkpoints load)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.options import add_db_option
from engine.spec import SpecError


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("export", help="Write a spec's model as standalone PyTorch code.",
                       description="Write the model of a run spec as a standalone .py file with one "
                                   "nn.Module class whose state_dict matches LayerDeck's checkpoints.")
    p.add_argument("spec", help="Run spec JSON file.")
    p.add_argument("--code", required=True, metavar="OUT.py", help="Where to write the Python file.")
    p.add_argument("--class-name", default="Net", help="Name of the generated class (default: Net).")
    add_db_option(p)  # unused by export, accepted so one command line works for every sub-command


def run(args: argparse.Namespace) -> int:
    from engine.cli.check import load
    from engine.model import ModelError, export_python

    try:
        loaded = load(args.spec)
        source = export_python(loaded.spec.model, loaded.input_shape, args.class_name)
    except SpecError as e:
        for msg in e.errors:
            print(f"{args.spec}: {msg}", file=sys.stderr)
        return 1
    except (ModelError, ValueError) as e:
        for msg in getattr(e, "errors", [str(e)]):
            print(f"{args.spec}: {msg}", file=sys.stderr)
        return 1
    out = Path(args.code)
    try:
        out.write_text(source, encoding="utf-8")
    except OSError as e:
        print(f"{out}: cannot write ({e.strerror})", file=sys.stderr)
        return 1
    print(f"wrote {out} (class {args.class_name}, input {loaded.input_shape})")
    return 0
