"""`layerdeck sweep SWEEP.json [--db URL] [--executor local|ray] [--resume ID]`.

Runs a hyperparameter sweep to its end in this terminal: one line per
finished trial (number, status, metric, parameters, run id) and a closing
line with the best run. Exit 0 when every trial has run; 1 when the sweep
failed past its max_failures or cannot start; 2 for a bad sweep document;
3 when it was stopped (Ctrl-C, or `layerdeck sweeps stop ID`): continue it
with `layerdeck sweep --resume ID`.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from engine.cli.options import add_db_option

EXIT_FAILED, EXIT_BAD_SWEEP, EXIT_STOPPED = 1, 2, 3


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sweep", help="Run a hyperparameter sweep (grid, random or tpe) to its end.",
                       description="Run every trial of a sweep document as a run in the store, "
                                   "`parallel` at a time, printing a line per finished trial.")
    p.add_argument("sweep", nargs="?", metavar="SWEEP.json",
                   help="The sweep document (its `base` may be a run spec path relative to it).")
    add_db_option(p)
    p.add_argument("--resume", type=int, metavar="ID",
                   help="Continue sweep ID (its supervisor died or it was stopped): finished trials "
                        "are kept, cut-short ones train again.")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="Where trials run: this machine (local) or a Ray cluster (ray; needs a PostgreSQL store).")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="The Ray cluster's address (host:6379); default LAYERDECK_RAY_ADDRESS, else Ray's own.")


def run(args: argparse.Namespace) -> int:
    from engine.cli.sweeps import format_params, format_value
    from engine.cli.train import executor_factory
    from engine.store import RunStore, resolve_db_url
    from engine.store.entities import SweepNotFoundError
    from engine.store.paths import shown_url
    from engine.sweeps import SweepError, load_sweep
    from engine.sweeps.control import SweepBusyError
    from engine.sweeps.supervisor import SweepSupervisor, TrialResult, start_sweep

    if (args.sweep is None) == (args.resume is None):
        print("layerdeck sweep: give a sweep file (layerdeck sweep SWEEP.json) or --resume ID, not both",
              file=sys.stderr)
        return EXIT_FAILED
    try:
        db_url = resolve_db_url(getattr(args, "db", None))
        executor = executor_factory(args, db_url)
        doc = load_sweep(args.sweep) if args.sweep else None
        with RunStore(db_url) as store:
            sweep_id = start_sweep(store, doc) if doc is not None else store.get_sweep(args.resume).id
            metric = store.get_sweep(sweep_id).metric

        def on_trial(t: TrialResult) -> None:
            value = f"{metric} {format_value(t.value)}" if t.value is not None else f"{metric} -"
            run = f"run {t.run_id}" if t.run_id else "no run"
            why = f"  ({t.error})" if t.error and t.status not in ("completed",) else ""
            print(f"trial {t.number:>3}  {t.status:<9}  {value:<24}  {format_params(t.params)}  {run}{why}",
                  flush=True)

        supervisor = SweepSupervisor(db_url, sweep_id, executor=executor, on_trial=on_trial,
                                     on_note=lambda text: print(f"  {text}", flush=True))
    except SweepError as e:
        print(f"layerdeck sweep: the sweep cannot be used{' (' + e.source + ')' if e.source else ''}:",
              file=sys.stderr)
        for err in e.errors:
            print(f"  {err}", file=sys.stderr)
        return EXIT_BAD_SWEEP
    except SweepNotFoundError as e:
        print(f"layerdeck sweep: {e} (see `layerdeck sweeps list`)", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError) as e:
        print(f"layerdeck sweep: {e}", file=sys.stderr)
        return EXIT_FAILED
    d = supervisor.doc
    verb = "resuming" if args.resume else "starting"
    print(f"sweep {sweep_id}: {verb} {d.name!r}, {d.method}, {supervisor.planned} trials, {d.parallel} at a time, "
          f"{d.goal} {d.metric}" + (f", {d.pruner} pruner" if d.pruner != "none" else "")
          + f" (store {shown_url(db_url)})", flush=True)
    # A plain `kill` stops the sweep like Ctrl-C: trials stop with a checkpoint, the row says stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        status = supervisor.run()
    except SweepBusyError as e:
        print(f"layerdeck sweep: {e}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # the store or an executor failed: one line (the traceback with LAYERDECK_DEBUG=1)
        if os.environ.get("LAYERDECK_DEBUG"):
            import traceback

            traceback.print_exc()
        print(f"layerdeck sweep: sweep {sweep_id} stopped: {type(e).__name__}: {e}; "
              f"continue it with `layerdeck sweep --resume {sweep_id}`", file=sys.stderr)
        return EXIT_STOPPED
    with RunStore(db_url) as store:
        sweep = store.get_sweep(sweep_id)
    best = (f"best run {sweep.best_run_id}: {sweep.metric} {format_value(sweep.state.get('best_value'))}"
            if sweep.best_run_id is not None else "no trial completed with a value")
    state = sweep.state
    print(f"sweep {sweep_id} {status}: {state.get('finished', 0)} of {state.get('planned', '?')} trials, "
          f"{state.get('failures', 0)} failed; {best}", flush=True)
    if status == "stopped":
        print(f"  continue it with `layerdeck sweep --resume {sweep_id}`", file=sys.stderr)
        return EXIT_STOPPED
    if status == "completed" and sweep.best_run_id is None:
        # Every trial ran, none gave a value: a script must not take that for success.
        print(f"layerdeck sweep: no trial of sweep {sweep_id} reported {sweep.metric}; the errors are on "
              f"the trial lines above and in `layerdeck runs list --sweep {sweep_id}`", file=sys.stderr)
        return EXIT_FAILED
    return 0 if status == "completed" else EXIT_FAILED
