"""`layerdeck sweeps list | show ID | pause ID | resume ID | stop ID`.

`show` lists a sweep's trials best first. pause / resume / stop act on the
sweep as a whole through its row, which its supervisor reads several times a
second (engine.sweeps.control).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, Sequence

from engine.cli.options import add_db_option
from engine.store import RunStore
from engine.store.paths import shown_url

CONTROL_HELP = {"pause": "Pause a sweep: its live trials pause and no new trial starts.",
                "resume": "Resume a paused sweep.",
                "stop": "Stop a sweep: its live trials stop with a checkpoint; `layerdeck sweep --resume ID` "
                        "continues it later."}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sweeps", help="List sweeps, show one's trials best first, pause, resume or stop one.",
                       description="Work with the sweeps in the store.")
    add_db_option(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_db_option(actions.add_parser("list", help="One line per sweep, newest first."))
    show = actions.add_parser("show", help="A sweep's settings and its trials, best first.")
    show.add_argument("sweep_id", type=int, metavar="ID")
    add_db_option(show)
    for action, text in CONTROL_HELP.items():
        c = actions.add_parser(action, help=text, description=text)
        c.add_argument("sweep_id", type=int, metavar="ID")
        add_db_option(c)


def run(args: argparse.Namespace) -> int:
    from engine.store import resolve_db_url
    from engine.store.entities import SweepNotFoundError

    try:
        store = RunStore(resolve_db_url(getattr(args, "db", None)))
    except ValueError as e:
        print(f"layerdeck sweeps: {e}", file=sys.stderr)
        return 1
    try:
        if args.action == "list":
            return list_sweeps(store)
        if args.action == "show":
            return show_sweep(store, args.sweep_id)
        from engine.sweeps.control import request

        print(request(store, args.sweep_id, args.action))
        return 0
    except SweepNotFoundError:
        print(f"layerdeck sweeps: there is no sweep {args.sweep_id} in {shown_url(store.url)} "
              "(see `layerdeck sweeps list`)", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"layerdeck sweeps: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()


def list_sweeps(store: RunStore) -> int:
    sweeps = store.list_sweeps()
    if not sweeps:
        print(f"No sweeps in {shown_url(store.url)}. Start one with `layerdeck sweep SWEEP.json`.")
        return 0
    rows = [("ID", "NAME", "STATUS", "METHOD", "TRIALS", "METRIC", "BEST")]
    for s in sweeps:
        best = (f"{format_value(s.state.get('best_value'))} (run {s.best_run_id})"
                if s.best_run_id is not None else "")
        rows.append((str(s.id), s.name, s.status, s.method,
                     f"{s.state.get('finished', 0)}/{s.state.get('planned', '?')}", f"{s.goal[:3]} {s.metric}", best))
    _table(rows)
    return 0


def show_sweep(store: RunStore, sweep_id: int) -> int:
    from engine.sweeps.trials import document, list_trials

    s = store.get_sweep(sweep_id)
    doc = document(store, sweep_id)
    print(f"sweep {s.id}: {s.name}")
    print(f"  status    {s.status}" + (f" (supervisor pid {s.pid} on {s.host})" if s.pid else ""))
    print(f"  method    {s.method}, {doc.parallel} at a time, pruner {doc.pruner}"
          + (f", max_failures {doc.max_failures}" if doc.max_failures is not None else ""))
    print(f"  metric    {s.goal} {s.metric}")
    print(f"  progress  {s.state.get('finished', 0)} of {s.state.get('planned', '?')} trials finished, "
          f"{s.state.get('failures', 0)} failed")
    if s.best_run_id is not None:
        print(f"  best      run {s.best_run_id}: {s.metric} {format_value(s.state.get('best_value'))}")
    print("  parameters:")
    for p in doc.parameters:
        print(f"    {p.path}: {json.dumps(p.to_dict())}")
    trials = list_trials(store, sweep_id, doc, best_first=True)
    if not trials:
        print("  no trials yet")
        return 0
    rows = [("TRIAL", "RUN", "STATUS", s.metric.upper(), "PARAMETERS")]
    for t in trials:
        retry = f" (retries run {t.retry_of})" if t.retry_of else ""
        rows.append((str(t.number), str(t.run_id), t.status, format_value(t.value), format_params(t.params) + retry))
    print()
    _table(rows)
    return 0


def format_value(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.4g}"


def format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
