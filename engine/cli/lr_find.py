"""`layerdeck lr-find SPEC.json [--device D] [--json]`: the learning-rate range test.

Runs in its own process (engine.training.probe_process), so nothing of the
spec or a model changes; prints the curve's summary, the steepest-descent
and valley suggestions, and as its last line `suggested lr: <value>`.
Exit 0 with a suggestion, 1 when the spec cannot train or the curve gives
none, 2 for a spec that does not load.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.cli.options import add_db_option


def add_parser(sub: Any) -> None:
    p = sub.add_parser("lr-find", help="Find a learning rate: the LR range test in a worker process.",
                       description="About 100 training steps with the learning rate growing from 1e-7 to 10 on "
                                   "the spec's data, model and optimizer; stops once the loss passes 4x its best. "
                                   "Prints the steepest-descent and valley learning rates; the last line reads "
                                   "'suggested lr: <value>'. The spec file is not changed.")
    p.add_argument("spec", metavar="SPEC.json", help="Run spec file.")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the spec's training.device).")
    p.add_argument("--json", action="store_true", help="Print the whole curve as JSON instead of the summary.")
    add_db_option(p)  # unused, accepted so one command line works for every sub-command


def run(args: argparse.Namespace) -> int:
    from engine.spec import SpecError, load_spec
    from engine.training.lr_finder import LRFinderResult, summary_lines
    from engine.training.probe_process import ProbeError, run_probe

    try:
        spec = load_spec(args.spec)
    except SpecError as e:
        for msg in e.errors:
            print(f"{args.spec}: {msg}", file=sys.stderr)
        return 2
    tty = sys.stderr.isatty()

    def progress(msg: dict[str, Any]) -> None:
        if tty:
            print(f"\rstep {msg['step']:>3}  lr {msg['lr']:.2e}  loss {msg['loss']:.4g}   ",
                  end="", file=sys.stderr, flush=True)

    try:
        raw = run_probe("lr_find", spec, device=args.device, on_progress=progress)
    except ProbeError as e:
        if tty:
            print(file=sys.stderr)
        print(f"{args.spec}: {e}", file=sys.stderr)
        return 1
    if tty:
        print(file=sys.stderr)
    result = LRFinderResult.from_dict(raw)
    if args.json:
        print(json.dumps({**raw, "suggested": result.suggested}, indent=2))
    else:
        print("\n".join(summary_lines(result)))
    return 0 if result.suggested is not None else 1
