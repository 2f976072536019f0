"""`layerdeck runs list | show ID | export ID --csv FILE | delete ID [--yes] | pause | resume | stop ID | eval ID`.

Reads and edits the same store the GUI and `layerdeck train` write. `--db`
works before or after the sub-command.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from engine.cli import evaluate, run_control
from engine.store import RunStore
from engine.store.paths import shown_url

if TYPE_CHECKING:
    from engine.store.listing import RunListing

# Shown in `runs list`, first one a run has wins: what people sort runs by.
HEADLINE_KEYS = ("val/accuracy", "test/accuracy", "val/loss", "val/r2", "train/loss")


def _db_arg(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: a default here would overwrite `layerdeck --db URL runs ...`.
    p.add_argument("--db", default=argparse.SUPPRESS,
                   help="Run store URL or file (default: LAYERDECK_DB or the user data dir).")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("runs", help="List, show, export, delete, pause, resume or stop runs.",
                       description="Work with the run history in the store.")
    _db_arg(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    ls = actions.add_parser("list", help="One line per run, newest first.")
    ls.add_argument("--status", help="Only runs with this status (running, completed, failed, ...).")
    ls.add_argument("--limit", type=int, default=50, help="At most this many runs (default 50; 0 = all).")
    ls.add_argument("--sweep", type=int, metavar="ID", help="Only the trials of sweep ID (see `layerdeck sweeps`).")
    _db_arg(ls)

    show = actions.add_parser("show", help="Everything about one run: status, metrics, checkpoints, spec.")
    show.add_argument("run_id", type=int, metavar="ID")
    _db_arg(show)

    export = actions.add_parser("export", help="Write a run's metrics to a CSV file.")
    export.add_argument("run_id", type=int, metavar="ID")
    export.add_argument("--csv", required=True, metavar="FILE", help="The CSV file to write.")
    _db_arg(export)

    delete = actions.add_parser("delete", help="Delete a run, its metrics and its checkpoint files.")
    delete.add_argument("run_id", type=int, metavar="ID")
    delete.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
    _db_arg(delete)

    run_control.add_parsers(actions, _db_arg)
    evaluate.add_parser(actions, _db_arg)


def run(args: argparse.Namespace) -> int:
    from engine.store import RunNotFoundError, resolve_db_url
    from engine.store.entities import SweepNotFoundError

    try:
        store = RunStore(resolve_db_url(getattr(args, "db", None)))
    except ValueError as e:
        print(f"layerdeck runs: {e}", file=sys.stderr)
        return 1
    try:
        return ACTIONS[args.action](store, args)
    except RunNotFoundError:
        print(f"layerdeck runs: there is no run {args.run_id} in {shown_url(store.url)} "
              "(see `layerdeck runs list`)", file=sys.stderr)
        return 1
    except SweepNotFoundError:
        print(f"layerdeck runs: there is no sweep {args.sweep} in {shown_url(store.url)} "
              "(see `layerdeck sweeps list`)", file=sys.stderr)
        return 1
    except (ValueError, OSError) as e:
        print(f"layerdeck runs: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()


# --- actions ----------------------------------------------------------------------

def list_runs(store: RunStore, args: argparse.Namespace) -> int:
    # Light listings: a store with thousands of runs lists without decoding every spec.
    trial_numbers: dict[int, Optional[int]] = {}
    if getattr(args, "sweep", None) is not None:
        store.get_sweep(args.sweep)  # SweepNotFoundError: said in words by run()
        trial_numbers = {r.id: r.trial_number for r in store.list_runs(sweep_id=args.sweep)}
    runs = store.list_run_rows(status=args.status, limit=args.limit or None,
                               metrics=[(k, "best") for k in HEADLINE_KEYS],
                               run_ids=list(trial_numbers) if getattr(args, "sweep", None) is not None else None)
    if not runs:
        where = f" with status {args.status}" if args.status else ""
        where += f" in sweep {args.sweep}" if getattr(args, "sweep", None) is not None else ""
        print(f"No runs{where} in {shown_url(store.url)}. Train one with `layerdeck train SPEC.json`.")
        return 0
    rows: list[tuple[str, ...]] = [("ID", "NAME", "STATUS", "CREATED", "DURATION", "DEVICE", "RESULT")]
    if trial_numbers:
        rows = [("ID", "TRIAL", *rows[0][1:])]
    for r in runs:
        trial = (str(trial_numbers.get(r.id) or ""),) if trial_numbers else ()
        rows.append((str(r.id), *trial, r.name, r.status, _when(r.created_at), _duration(r.duration_s),
                     r.device or "", _headline(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def show_run(store: RunStore, args: argparse.Namespace) -> int:
    from engine.runner.paths import log_path

    r = store.get_run(args.run_id)
    print(f"run {r.id}: {r.name}")
    fields = [
        ("status", r.status),
        ("error", r.error),
        ("created", _when(r.created_at)),
        ("started", _when(r.started_at)),
        ("finished", _when(r.finished_at)),
        ("duration", _duration(r.duration_s)),
        ("device", r.device),
        ("pid", r.pid),
        ("parent", f"run {r.parent_id}" if r.parent_id is not None else None),
        ("params", f"{r.summary['params']:,}" if isinstance(r.summary.get("params"), int) else None),
        ("tags", ", ".join(r.tags) or None),
        ("notes", r.notes or None),
    ]
    for label, value in fields:
        if value not in (None, ""):
            text = str(value).replace("\n", "\n" + " " * 12)
            print(f"  {label:<9} {text}")
    metrics = r.summary.get("metrics") or {}
    if metrics:
        print("  metrics:")
        width = max(len(k) for k in metrics)
        for key in sorted(metrics):
            m = metrics[key]
            best = (f"  best {_num(m.get('best'))} at epoch {m.get('best_epoch')}"
                    if m.get("best") is not None and m.get("best_epoch") is not None else "")
            print(f"    {key:<{width}}  last {_num(m.get('last'))}{best}")
    ckpts = store.checkpoints(r.id)
    if ckpts:
        print("  checkpoints:")
        for c in ckpts:
            value = f", metric {_num(c.metric_value)}" if c.metric_value is not None else ""
            print(f"    {c.kind:<5} epoch {c.epoch}, step {c.step}{value}: {c.path}")
    print(evaluate.headline(store, r.id))
    log = log_path(store.url, r.id)
    if log.exists():
        print(f"  log       {log}")
    print("  spec:")
    print("    " + json.dumps(r.spec, indent=2).replace("\n", "\n    "))
    return 0


def export_run(store: RunStore, args: argparse.Namespace) -> int:
    n = store.export_csv(args.run_id, args.csv)
    print(f"wrote {n} metric rows of run {args.run_id} to {args.csv}")
    return 0


def delete_run(store: RunStore, args: argparse.Namespace) -> int:
    from engine.runner.paths import log_path

    r = store.get_run(args.run_id)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"layerdeck runs: not deleting run {r.id} without confirmation; add --yes",
                  file=sys.stderr)
            return 1
        answer = input(f"Delete run {r.id} ({r.name}, {r.status}), its metrics and checkpoint files? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    store.delete_run(r.id)
    log_path(store.url, r.id).unlink(missing_ok=True)
    print(f"deleted run {r.id} ({r.name})")
    return 0


ACTIONS = {"list": list_runs, "show": show_run, "export": export_run, "delete": delete_run,
           "pause": run_control.control, "resume": run_control.control, "stop": run_control.control,
           "eval": evaluate.run_eval}


# --- formatting ------------------------------------------------------------------------

def _when(t: Optional[datetime]) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t is not None else ""


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _num(v: Any) -> str:
    return "nan" if v is None else f"{v:.4g}"


def _headline(run: RunListing) -> str:
    for key in HEADLINE_KEYS:
        best = run.metric(key, "best")
        if isinstance(best, (int, float)):
            return f"{key} {best:.4g}"
    return ""
