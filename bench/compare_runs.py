"""Runs page speed: compare long runs, and list/sort/filter many runs.

    python bench/compare_runs.py [--runs 20] [--steps 100000] [--many 10000] [--repeat 5]
    python bench/compare_runs.py --runs 50 --many 100000   # the sweep issue's scale

1. A store with --runs runs x --steps steps (train/loss_step at every step
   plus epoch metrics): time from selecting them to every compare chart
   drawn. Goal < 1 s. Measured first in the process, with the page's curve
   cache emptied, and with it.
2. A store with --many runs: time to open the Runs page (read the store off
   the UI thread, build rows, paint them) and to sort by a metric column
   (goals: 10,000 runs open and sort < 0.5 s each; 100,000 runs open + sort
   < 1 s), the time until every run is in the table, and the first filter
   expression over all of them (goal < 0.5 s).

Prints each figure (the median of --repeat tries, the spread beside it)
and its ratio to the goal (< 1.0 meets it), with the load average: on a
shared machine the figures scale with it.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

COMPARE_GOAL_S = 1.0
SORT_GOAL_S = 0.5  # 10,000 runs: open, and sort
MANY_GOAL_S = 1.0  # 100,000 runs: open + sort
FILTER_GOAL_S = 0.5
LABELS = {"open": "open (first rows painted)", "sort": "sort by best val (top rows painted)",
          "open + sort": "open + sort", "every run": "every run in the table (from opening)",
          "filter": "first filter expression (every run)"}


def spec(i: int) -> dict:
    return {
        "name": f"bench-{i}", "seed": i,
        "data": {"name": "digits", "path": None, "target": None, "val_fraction": 0.2, "test_fraction": 0.0,
                 "normalize": "standard", "image_size": None, "options": {}},
        "model": {"blocks": [{"type": "Conv2d", "out_channels": [8, 16, 32, 64][i % 4], "kernel_size": 3,
                              "padding": 1}, {"type": "ReLU"}, {"type": "Flatten"},
                             {"type": "Linear", "out_features": 10}]},
        "optimizer": {"type": ["AdamW", "SGD", "Adam"][i % 3], "lr": [1e-3, 3e-3, 1e-2, 3e-4][i % 4],
                      "weight_decay": 0.01},
        "scheduler": {"type": "none", "warmup_epochs": 0},
        "regularization": {"l1": 0.0, "label_smoothing": 0.0, "grad_clip_norm": None, "early_stopping": None},
        "training": {"epochs": 100, "batch_size": [16, 32, 64, 128, 256][i % 5], "device": "auto",
                     "precision": "fp32", "loss": None, "log_every_n_steps": 1, "compile": False,
                     "channels_last": False},
    }


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal, timeout_s: float = 120.0) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def build_long_store(url: str, n_runs: int, steps: int) -> list[int]:
    from engine.store import RunStore
    from engine.training.callbacks import MetricPoint

    store = RunStore(url)
    ids = []
    rng = np.random.default_rng(0)
    for i in range(n_runs):
        rid = store.create_run(spec(i))
        store.set_status(rid, "running")
        noise = rng.lognormal(0, 0.1, steps)
        loss = (0.05 + 2.3 * np.exp(-np.arange(1, steps + 1) / (steps / (4 + i % 5)))) * noise
        per_epoch = steps // 100
        for start in range(0, steps, 50_000):
            pts = [MetricPoint("train/loss_step", s + 1, s // per_epoch + 1, float(loss[s]), 1e9 + s * 0.01)
                   for s in range(start, min(steps, start + 50_000))]
            store.add_metrics(rid, pts)
        epoch_pts = []
        for e in range(1, 101):
            st = e * per_epoch
            for key, v in (("train/loss", float(loss[st - 1])), ("val/loss", float(loss[st - 1]) * 1.1),
                           ("val/accuracy", 0.97 - 0.8 * np.exp(-e / 10) - 0.002 * i), ("lr", 1e-3)):
                epoch_pts.append(MetricPoint(key, st, e, v, 1e9 + st * 0.01))
        store.add_metrics(rid, epoch_pts)
        store.set_status(rid, "completed")
        ids.append(rid)
    store.close()
    return ids


def build_many_store(url: str, n: int) -> None:
    """10,000 runs written straight into the `runs` table (the contract's
    table; creating them one transaction at a time would only time the setup)."""
    from sqlalchemy import insert

    from engine.store import RunStore
    from engine.store.db import create_db_engine, writer
    from engine.store.models import RunRow

    RunStore(url).close()  # migrations
    rnd = random.Random(0)
    now = datetime(2026, 11, 1)
    rows = []
    for i in range(n):
        acc = rnd.uniform(0.5, 0.99)
        summary = {"params": rnd.randint(1_000, 2_000_000), "metrics": {
            k: {"last": v, "best": v, "min": v, "max": v, "last_step": 100, "best_step": 90, "best_epoch": 9}
            for k, v in (("val/accuracy", acc), ("val/loss", 1 - acc), ("train/loss", 0.9 - acc * 0.8),
                         ("test/accuracy", acc - 0.01))}}
        start = now + timedelta(minutes=i)
        rows.append({"name": f"run-{i}", "status": rnd.choice(["completed", "stopped", "failed"]),
                     "spec": json.dumps(spec(i)), "created_at": start, "started_at": start,
                     "finished_at": start + timedelta(seconds=rnd.randint(10, 4000)),
                     "summary": json.dumps(summary), "notes": "", "tags": json.dumps(["bench"]),
                     "starred": i % 50 == 0})
    engine = create_db_engine(url)
    with writer(engine).begin() as conn:
        conn.execute(insert(RunRow.__table__), rows)
    engine.dispose()


def bench_compare(url: str, ids: list[int], repeat: int) -> dict[str, Any]:
    from app.pages.runs import RunsPage
    from app.state import AppState

    page = RunsPage(AppState(url))
    page.resize(1400, 900)
    page.show()
    wait_for(page.loaded)

    def select(run_ids: list[int]) -> float:
        t0 = time.perf_counter()
        page.select_runs(run_ids)
        wait_for(page.compare.charts_ready)
        page.compare.metrics_grid.repaint()  # paint the visible charts now, as the screen would
        dt = time.perf_counter() - t0
        page.select_runs([])
        wait(300)
        return dt

    out: dict[str, Any] = {"first": [select(ids)]}  # one-time warm-ups included
    out["uncached"], out["cached"] = [], []
    for _ in range(repeat):
        page.compare.cache = type(page.compare.cache)()  # forget the curves, keep the warmed code paths
        out["uncached"].append(select(ids))
        out["cached"].append(select(ids))  # finished runs: curves come from the page's cache
    out["charts"] = len(page.compare.charts)
    out["curves"] = sum(len(c.items) for c in page.compare.charts.values())
    page.worker.wait()
    page.close()
    return out


def spread(values: list[float]) -> str:
    """`median s (min-max, n=N)`."""
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.3f} s"
    return f"{med:.3f} s ({min(values):.3f}-{max(values):.3f}, n={len(values)})"


def bench_many(url: str) -> dict[str, float]:
    """One try: open the page, sort by best val, then wait for every run and filter.

    With more runs than the page's BIG_HISTORY, `open` and `sort` are the
    first screen (the top FIRST_SCREEN rows of the whole history in that
    order, sorted by the database) painted; `every run` is when the last of
    them is in the table (sortable, filterable, scrollable to the end)."""
    from app.pages.runs import RunsPage
    from app.pages.runs.table_model import COLUMN_INDEX
    from app.state import AppState

    QSettings().remove("runs/sort")  # every try opens newest-first, as the first one did
    t0 = time.perf_counter()
    page = RunsPage(AppState(url))
    page.resize(1400, 900)
    page.show()
    done: list[str] = []
    page.first_screen.connect(lambda: done.append("screen"))
    page.loaded.connect(lambda: done.append("loaded"))
    # Wait in the event loop, as the app does: a loop polling processEvents()
    # would take the GIL from the page's reader thread every millisecond.
    wait_until(lambda: bool(done))
    page.table.viewport().repaint()
    t_open = time.perf_counter() - t0
    t1 = time.perf_counter()
    n_done = len(done)
    page.table.sortByColumn(COLUMN_INDEX["best_val"], Qt.DescendingOrder)
    if page.count.text().startswith("Sorting"):  # a first screen: its new top rows come from the database
        wait_until(lambda: len(done) > n_done)
    page.table.viewport().repaint()
    t_sort = time.perf_counter() - t1
    top = page.proxy.index(0, COLUMN_INDEX["best_val"]).data()
    wait_until(lambda: "loaded" in done)
    page.table.viewport().repaint()
    t_all = time.perf_counter() - t0
    top_all = page.proxy.index(0, COLUMN_INDEX["best_val"]).data()
    t2 = time.perf_counter()
    page.filter_bar.use_filter('val/accuracy > 0.9 and optimizer.type == "AdamW"')
    page.table.viewport().repaint()
    t_filter = time.perf_counter() - t2
    print(f"    (top best val: {top} on the first screen, {top_all} with every run; "
          f"filter kept {page.proxy.rowCount()} rows)")
    page.worker.wait()
    page.close()
    page.deleteLater()  # gone before the next try: its idle work must not run beside it
    QCoreApplication.sendPostedEvents(None, 0)  # 0: QEvent.DeferredDelete
    QApplication.processEvents()
    return {"open": t_open, "sort": t_sort, "open + sort": t_open + t_sort, "every run": t_all,
            "filter": t_filter}


def wait_until(done, timeout_s: float = 120.0) -> None:
    """Run the event loop until done() (checked every 5 ms)."""
    end = time.perf_counter() + timeout_s
    while not done() and time.perf_counter() < end:
        wait(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--many", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5, help="tries per figure; medians are printed")
    ap.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                    help="skip the gc.freeze() the app does once torch is loaded (app/__main__.py); "
                         "without it the cyclic GC walks every module's objects on the UI thread")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841 - lives while the bench runs
    work = Path(tempfile.mkdtemp(prefix="layerdeck-compare-bench-"))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # ~130 MB of stores


def _run(args: argparse.Namespace, work: Path) -> int:
    QCoreApplication.setOrganizationName("LayerDeckBench")
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(work / "settings"))

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores (figures scale with it)")
    long_url = f"sqlite:///{work / 'long.db'}"
    t = time.perf_counter()
    ids = build_long_store(long_url, args.runs, args.steps)
    print(f"setup: {args.runs} runs x {args.steps:,} steps written in {time.perf_counter() - t:.1f} s")
    from app.pages.runs.compare import load_compare_data
    from engine.store import RunStore
    with RunStore(long_url) as store:
        runs = store.list_runs()
        t_read = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            load_compare_data(store, runs)  # no cache: what the store's reads cost
            t_read.append(time.perf_counter() - t)
    r = bench_compare(long_url, ids, args.repeat)
    print(f"compare {args.runs} runs x {args.steps:,} steps ({r['charts']} charts, {r['curves']} curves), "
          "select -> every chart drawn:")
    for label, key in (("first in the process", "first"), ("curves not cached", "uncached"),
                       ("curves cached", "cached")):
        med = statistics.median(r[key])
        print(f"  {label:22s} {spread(r[key])}  ratio to goal {med / COMPARE_GOAL_S:.2f}")
    print(f"  of which, measured alone: reading the curves {spread(t_read)}")

    many_url = f"sqlite:///{work / 'many.db'}"
    t = time.perf_counter()
    build_many_store(many_url, args.many)
    print(f"setup: {args.many:,} runs written in {time.perf_counter() - t:.1f} s")
    from app.pages.runs.table_model import TABLE_METRICS, build_rows
    t_list, t_full, t_rows = [], [], []
    with RunStore(many_url) as store:
        for _ in range(args.repeat):
            t = time.perf_counter()
            listings = store.list_run_rows(metrics=TABLE_METRICS)
            t_list.append(time.perf_counter() - t)
            t = time.perf_counter()
            build_rows(listings)
            t_rows.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.list_runs()
            t_full.append(time.perf_counter() - t)
    if args.gc_freeze:  # as the app does once its imports are done
        import gc

        import app.pages.runs  # noqa: F401 - the page's imports, as loaded in the app by now

        gc.collect()
        gc.freeze()
    from app.pages.runs.page import BIG_HISTORY, FIRST_SCREEN
    tries = [bench_many(many_url) for _ in range(args.repeat)]
    print(f"runs page with {args.many:,} runs (a new page each try; past {BIG_HISTORY:,} runs the "
          f"first {FIRST_SCREEN} in the table's sort come first):")
    for label, goal in (("open", SORT_GOAL_S), ("sort", SORT_GOAL_S), ("open + sort", MANY_GOAL_S),
                        ("every run", None), ("filter", FILTER_GOAL_S)):
        values = [t[label] for t in tries]
        ratio = f"  ratio to goal {statistics.median(values) / goal:.2f}" if goal else ""
        print(f"  {LABELS[label] + ':':42s} {spread(values)}{ratio}")
    print(f"  of which, measured alone: store.list_run_rows() {spread(t_list)}, "
          f"build_rows() {spread(t_rows)}")
    print(f"  (full Run entities, store.list_runs(), for comparison: {spread(t_full)})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
