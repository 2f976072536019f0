"""`layerdeck check SPEC.json`: validate a run spec against its dataset and
print the model's per-block table and totals.

Exit 0 when the spec is valid; exit 1 with every problem, one per line and
never a traceback, when it is not (missing file, bad JSON, bad spec, a block
that cannot take its input, a last layer that does not fit the dataset).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from engine.blocks import fmt_shape
from engine.cli.options import add_db_option
from engine.formatting import compact, nbytes
from engine.spec import RunSpec, SpecError, load_spec

if TYPE_CHECKING:
    from engine.model import ModelSummary


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("check", help="Validate a run spec and print its model summary.",
                       description="Validate a run spec: print each block's output shape and parameters, "
                                   "the totals, and every error. Exit 1 when the spec is not valid.")
    p.add_argument("spec", help="Run spec JSON file.")
    p.add_argument("--batch-size", type=int, default=None,
                   help="Batch size for the memory estimate (default: the spec's training.batch_size).")
    p.add_argument("--sanity", action="store_true",
                   help="Also run the checks before training (initial loss, overfit one batch, zeroed inputs) "
                        "in a worker process and print the checklist; exit 1 when one fails.")
    p.add_argument("--device", default=None, help="Device for --sanity (default: the spec's training.device).")
    add_db_option(p)  # the store where training.distill's teacher run is looked up


@dataclass
class Loaded:
    """A spec, its model's summary on its dataset, and how to name that dataset."""

    spec: RunSpec
    summary: "ModelSummary"
    input_shape: tuple[int, ...]
    dataset: str


def load(path: str, batch_size: int | None = None) -> Loaded:
    """The spec summarized on its dataset; raises SpecError with every problem found."""
    spec = load_spec(path)
    from engine.data import DataError
    from engine.model import summarize_spec

    try:
        summary, info = summarize_spec(spec, batch_size=batch_size)
    except DataError as e:
        raise SpecError([str(e)], path) from None
    desc = (f"{info.num_classes} classes" if info.task == "classification"
            else f"{info.num_targets} target{'s' if info.num_targets != 1 else ''}")
    return Loaded(spec, summary, tuple(info.input_shape), f"{info.name}: {desc}")


def print_table(summary, out: TextIO) -> None:
    rows = [("#", "block", "output shape", "params")]
    rows.append(("", "input", fmt_shape(summary.input_shape), ""))
    for r in summary.rows:
        name = "  " * r.depth + r.type + (f"  {r.label}" if r.label else "")
        shape = fmt_shape(r.out_shape) if r.out_shape is not None else ("error" if r.error else "?")
        rows.append((r.number, name, shape, f"{r.params:,}" if r.params is not None else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        out.write(f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>{widths[3]}}"
                  .rstrip() + "\n")


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load(args.spec, args.batch_size)
    except SpecError as e:
        for msg in e.errors:
            print(f"{args.spec}: {msg}", file=sys.stderr)
        return 1
    spec, summary, batch = loaded.spec, loaded.summary, loaded.summary.batch_size
    print(f"{spec.name} · {loaded.dataset}")
    print_table(summary, sys.stdout)
    print(f"params {summary.total_params:,} (trainable {summary.trainable_params:,}) · "
          f"MACs {compact(summary.total_macs, sep=' ')} per sample · "
          f"training memory at batch {batch} ≈ {nbytes(summary.memory_bytes)}")
    print(_memory_by_precision(spec, summary))
    from engine.data.csv_report import data_warnings

    for warning in data_warnings(spec.data):
        print(f"warning: {warning}")
    from engine.spec_augment import augment_problem

    misfit = augment_problem(spec)
    if misfit:
        sys.stdout.flush()
        print(f"{args.spec}: {misfit}", file=sys.stderr)
        return 1
    if not summary.valid:
        sys.stdout.flush()
        for msg in summary.errors:
            print(f"{args.spec}: {msg}", file=sys.stderr)
        return 1
    if spec.training.distill is not None and not _teacher_fits(spec, args):
        return 1
    if spec.model.init_from is not None and not _init_from_fits(spec, args):
        return 1
    if args.sanity:
        from engine.cli.sanity import run_sanity

        return run_sanity(spec, args.spec, args.device)
    return 0


def _init_from_fits(spec: RunSpec, args: argparse.Namespace) -> bool:
    """model.init_from looked up in the store (--db): which weights would be copied and why not the rest."""
    from engine.init_from import check_init_from
    from engine.store import RunStore, resolve_db_url

    try:
        with RunStore(resolve_db_url(getattr(args, "db", None))) as store:
            report = check_init_from(store, spec)
    except SpecError as e:
        sys.stdout.flush()
        for msg in e.errors:
            print(f"{args.spec}: {msg}", file=sys.stderr)
        return False
    for line in report.lines() if report is not None else []:
        print(line)
    return True


def _memory_by_precision(spec: RunSpec, summary: "ModelSummary") -> str:
    """The memory estimate in each precision: weights, gradients and optimizer
    state stay fp32 under mixed precision, only the activations shrink."""
    from engine.model import ACTIVATION_BYTES, BYTES_PER_VALUE, OPTIMIZER_STATE

    state = OPTIMIZER_STATE.get(spec.optimizer.type, 2)
    fixed = BYTES_PER_VALUE * (summary.total_params + summary.trainable_params * (1 + state))
    values = (summary.memory_bytes - fixed) / ACTIVATION_BYTES.get(summary.precision, BYTES_PER_VALUE)
    each = " · ".join(f"{p} {nbytes(fixed + b * values, 4)}" for p, b in ACTIVATION_BYTES.items())
    return (f"memory by precision at batch {summary.batch_size}: {each} "
            f"({nbytes(fixed, 4)} of it weights, gradients and optimizer state, fp32 in each)")


def _teacher_fits(spec: RunSpec, args: argparse.Namespace) -> bool:
    """training.distill's teacher looked up in the store (--db), as a launch would."""
    from engine.store import RunStore, resolve_db_url
    from engine.training.teacher import check_teacher

    distill = spec.training.distill
    assert distill is not None
    try:
        with RunStore(resolve_db_url(getattr(args, "db", None))) as store:
            check_teacher(store, spec)
    except SpecError as e:
        sys.stdout.flush()
        for msg in e.errors:
            print(f"{args.spec}: {msg}", file=sys.stderr)
        return False
    print(f"distilled from run #{distill.teacher_run} (temperature {distill.temperature:g}, alpha {distill.alpha:g})")
    return True
