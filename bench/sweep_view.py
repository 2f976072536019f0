"""Sweep view speed: open a sweep of 50 trials x 100 epochs and draw every plot.

    python bench/sweep_view.py [--trials 50] [--epochs 100] [--repeat 5]

A store gets one sweep written directly (engine/demo_sweep.py: 50 trial runs,
4 parameters, 4 metrics per epoch, pruned and failed trials among them). Then,
per try, in this process: read the sweep's report from the store (the worker
thread's part: the sweep, its runs and every trial's metric per epoch), make
the Sweep view, draw the report and paint every tab (Overview: history,
intermediate values, importance bars, parallel coordinates; Slices: one plot
per parameter; Trials: the table). Goal: open + draw every plot < 1 s.
Parameter importance (Optuna's fANOVA) runs on its own thread and is timed
apart, as is Optuna's first import (once per app).

Prints the median of --repeat tries (spread beside it), the ratio to the goal
(< 1.0 meets it), the process's CPU time for the same work, and the load
average: on a shared machine the wall-clock figures scale with it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

GOAL_S = 1.0


def median_spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])

    from app.pages.runs.sweep_view import SweepView, read_report
    from app.pages.runs.tasks import Worker
    from engine.demo_sweep import create_demo_sweep
    from engine.store import RunStore
    from engine.sweep_report import param_importance

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/sweep.db"
        t = time.perf_counter()
        sweep_id = create_demo_sweep(url, trials=args.trials, epochs=args.epochs)
        print(f"store: 1 sweep, {args.trials} trials x {args.epochs} epochs written in "
              f"{time.perf_counter() - t:.1f} s")
        store = RunStore(url)
        worker = Worker()
        read_report(store, sweep_id)  # warm the store's connection pool, as an open page has it

        reads, opens, totals, cpus = [], [], [], []
        counts = ""
        for _ in range(args.repeat):
            c0, t0 = time.process_time(), time.perf_counter()
            report = read_report(store, sweep_id)
            t1 = time.perf_counter()
            view = SweepView(lambda: store, worker)
            view.resize(1400, 900)
            view.show()
            view._request_importance = lambda force=False: None  # timed apart below
            view.show_sweep(sweep_id, report)
            for i in range(view.tabs.count()):  # paint every tab: every plot drawn once
                view.tabs.setCurrentIndex(i)
                view.grab()
            app.processEvents()
            t2, c2 = time.perf_counter(), time.process_time()
            cpus.append(c2 - c0)
            reads.append(t1 - t0)
            opens.append(t2 - t1)
            totals.append(t2 - t0)
            epochs = sum(len(xs) for xs, _, _ in view.intermediate.drawn().values())
            counts = (f"history {view.history.point_count()} points, intermediate values "
                      f"{view.intermediate.line_count()} lines of {epochs} epochs, parallel coordinates "
                      f"{view.parallel.line_count()} lines, slices "
                      f"{sum(view.slices.point_counts().values())} points in {len(view.slices.plots)} plots, "
                      f"trials table {view.trials.rowCount()} rows")
            view.close()
            view.deleteLater()
            app.processEvents()

        t = time.perf_counter()
        import optuna  # noqa: F401 - its first import, once per app, on the importance thread

        first_import = time.perf_counter() - t
        imps = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            param_importance(report)
            imps.append(time.perf_counter() - t)
        worker.wait()
        store.close()

    print(f"drawn: {counts}")
    print(f"read the sweep from the store (worker thread): {median_spread(reads)}")
    print(f"make the view, draw and paint every tab:       {median_spread(opens)}")
    total = statistics.median(totals)
    print(f"open + draw every plot:                        {median_spread(totals)}  "
          f"ratio to the {GOAL_S:.0f} s goal: {total / GOAL_S:.2f}")
    print(f"  the same, CPU time of this process:          {median_spread(cpus)} (what load on a shared "
          f"machine does not inflate)")
    print(f"parameter importance, fANOVA (own thread):     {median_spread(imps)}; "
          f"Optuna's first import {first_import:.2f} s")
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
