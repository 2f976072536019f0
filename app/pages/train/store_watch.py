"""Runs read from the store: the ones that were queued or training when the
window opened (they train on in their own worker processes, or were started
by `layerdeck train`), polled until they end, and a final full read of a
finished run's curves (the live stream may have thinned its points; the
store has them all). With each active run comes whether this process
could stop it, and pause (running) or resume (paused) it, through its
worker's pid (engine.runner.external), checked here, off the UI thread: it
reads the row and asks psutil about the pid.

Every read runs on a background thread (a store read can wait on a
writer); results come back on the UI thread as signals.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal

from app.bridge import ENGINE_IMPORT_LOCK
from app.widgets.sampling import BackgroundCollector

ACTIVE = ["queued", "running", "paused"]
POLL_MS = 2000
CURVE_BUCKETS = 2000


class StoreWatch(QObject):
    found = Signal(list)
    """Runs read from the store (payload: [(engine.store Run, last epoch seen, stop problem,
    pause problem)]; the stop problem says in words why the run cannot be stopped from here,
    the pause problem why it cannot be paused (when running) or resumed (when paused); each
    None when it can, or when it has ended)."""
    curves = Signal(int, list)
    """A run's curves, read from the store (payload: run id, [engine.store Curve])."""
    _curves_read = Signal(object)

    def __init__(self, db_url: str, parent: Optional[QObject] = None,
                 open_store: Optional[Callable[[], Any]] = None):
        """open_store: returns the RunStore to read (called once, on the background
        thread); default RunStore(db_url). The page passes the runner's own store:
        opening a store runs Alembic, whose context is process-global, so two
        stores must not be opened at once in one process."""
        super().__init__(parent)
        self.db_url = db_url
        self._open_store = open_store
        self._store: Any = None
        self._store_lock = threading.Lock()
        self._watched: Optional[set[int]] = None  # None until the first look at the store
        self._collector = BackgroundCollector(self._collect, POLL_MS, self)
        self._collector.collected.connect(self._on_collected)
        self._curves_read.connect(lambda pair: self.curves.emit(*pair))

    def start(self) -> None:
        self._collector.start()

    def stop(self) -> None:
        self._collector.stop()

    def wait(self, msecs: int = 5000) -> bool:
        """Block until a read in progress is done (shutdown and tests)."""
        return self._collector.wait(msecs)

    def watched(self) -> set[int]:
        return set(self._watched or ())

    def _open(self) -> Any:
        with self._store_lock:
            if self._store is None and self._open_store is not None:
                self._store = self._open_store()
            if self._store is None:
                from engine.store import RunStore

                self._store = RunStore(self.db_url)
            return self._store

    # --- the background side --------------------------------------------------------------
    def _collect(self) -> list[tuple[Any, int, list, Optional[str], Optional[str]]]:
        store = self._open()
        with ENGINE_IMPORT_LOCK:  # engine.runner pulls in torch (engine.protocol)
            from engine.runner import external
        if self._watched is None:
            runs = store.list_runs(status=ACTIVE)
        else:
            runs = [store.get_run(rid) for rid in sorted(self._watched)]
        out = []
        for run in runs:
            curves = store.get_curves([run.id], buckets=CURVE_BUCKETS)
            epoch = max((int(c.epochs[-1]) for c in curves if len(c) and c.key == "train/loss"), default=0)
            problem = external.external_stop_problem(store, run.id) if run.status in ACTIVE else None
            toggle = {"running": "pause", "paused": "resume"}.get(run.status)  # what its button would ask
            pause_problem = external.external_problem(store, run.id, toggle) if toggle else None
            out.append((run, epoch, curves, problem, pause_problem))
        return out

    # --- the UI side ------------------------------------------------------------------------------
    def _on_collected(self, result: list) -> None:
        if self._watched is None:
            self._watched = {run.id for run, *_ in result}
        for run, _, curves, *_ in result:
            if run.status not in ACTIVE:
                self._watched.discard(run.id)
            self.curves.emit(run.id, curves)
        self.found.emit([(run, epoch, problem, pause_problem)
                         for run, epoch, _, problem, pause_problem in result])
        if not self._watched:
            self._collector.stop()

    def read_curves_once(self, run_id: int) -> None:
        """Read a run's curves in the background and emit `curves` for it."""
        def work() -> None:
            try:
                curves = self._open().get_curves([run_id], buckets=CURVE_BUCKETS)
            except Exception:  # the live curves stay; the store may be busy or gone
                return
            try:
                self._curves_read.emit((run_id, curves))
            except RuntimeError:  # the page closed meanwhile
                pass

        threading.Thread(target=work, name=f"curves-{run_id}", daemon=True).start()
