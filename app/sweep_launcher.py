"""Runs sweeps from the app: each sweep's supervisor (engine.sweeps
SweepSupervisor: Optuna ask/tell, trials through a Runner, the pruner fed
every epoch) on its own background thread, its progress re-emitted as Qt
signals on the UI thread.

The supervisor's Runner starts the trials as ordinary worker processes; the
app's own Runner (app.bridge) adopts them from the store, so the Train page
shows every trial like any run, and the Runs page's sweep tree and Sweep
view read them from the store. Pause, resume and stop go through the
sweep's row (engine.sweeps.control.request), the same way as from a
terminal. One launcher per AppState (`get_launcher(state)`).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

_LAUNCHER_ATTR = "_layerdeck_sweep_launcher"


class SweepLauncher(QObject):
    started = Signal(int, str)
    """The sweep's row exists and its supervisor runs (payload: sweep id, name)."""
    trial_finished = Signal(int, object)
    """A trial ended (payload: sweep id, engine.sweeps.supervisor.TrialResult)."""
    note = Signal(int, str)
    """What the supervisor does, in words (pruning, pausing, ...)."""
    finished = Signal(int, str)
    """The supervisor returned (payload: sweep id, final status: completed | stopped | failed)."""
    failed = Signal(str)
    """The sweep could not start or its supervisor failed (payload: the reason in words)."""

    def __init__(self, db_url: str, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.db_url = db_url
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False

    def launch(self, document: dict[str, Any]) -> None:
        """Create the sweep and run it in the background (`started`, or `failed` with why)."""
        threading.Thread(target=self._run, args=(document,), name="sweep-supervisor", daemon=True).start()

    def _run(self, document: dict[str, Any]) -> None:
        from engine.spec import SpecError
        from engine.store import RunStore
        from engine.sweeps import parse_sweep
        from engine.sweeps.supervisor import SweepSupervisor, start_sweep

        sweep_id: Optional[int] = None
        try:
            doc = parse_sweep(document)
            store = RunStore(self.db_url)
            try:
                sweep_id = start_sweep(store, doc)
            finally:
                store.close()
            with self._lock:
                self._threads[sweep_id] = threading.current_thread()
            sid = sweep_id
            supervisor = SweepSupervisor(self.db_url, sid,
                                         on_trial=lambda result: self._emit(self.trial_finished, sid, result),
                                         on_note=lambda text: self._emit(self.note, sid, text))
            self._emit(self.started, sid, doc.name)
            status = supervisor.run()
            self._emit(self.finished, sid, status)
        except SpecError as e:
            self._emit(self.failed, "The sweep is not valid: " + "; ".join(e.errors))
        except Exception as e:  # noqa: BLE001 - said in words on the UI thread; the store keeps what ran
            where = f"sweep {sweep_id}" if sweep_id is not None else "the sweep"
            self._emit(self.failed, f"{where} stopped: {type(e).__name__}: {e}")
        finally:
            if sweep_id is not None:
                with self._lock:
                    self._threads.pop(sweep_id, None)

    def _emit(self, signal: Any, *args: Any) -> None:
        if self._closed:
            return
        try:
            signal.emit(*args)
        except RuntimeError:  # the launcher was deleted while a supervisor still ran
            pass

    def live(self) -> list[int]:
        """Sweeps whose supervisor runs in this process."""
        with self._lock:
            return list(self._threads)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Before the app quits: stop every sweep run here and give the supervisors
        `timeout` seconds in all to stop their trials. A trial whose supervisor is
        gone first stops by itself with a checkpoint (its stdin closes, engine.worker);
        the sweep's row already says stopped. `layerdeck sweep --resume ID` goes on later."""
        live = self.live()
        if not live:
            self._closed = True
            return
        from engine.store import RunStore
        from engine.sweeps.control import request

        store = RunStore(self.db_url)
        try:
            for sweep_id in live:
                try:
                    request(store, sweep_id, "stop")
                except ValueError:
                    pass  # it ended meanwhile
        finally:
            store.close()
        self._closed = True
        with self._lock:
            threads = list(self._threads.values())
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


def get_launcher(state: Any) -> SweepLauncher:
    """The one launcher of this AppState (created on first use, over state.store_url)."""
    launcher = getattr(state, _LAUNCHER_ATTR, None)
    if launcher is None:
        launcher = SweepLauncher(state.store_url, parent=state)
        setattr(state, _LAUNCHER_ATTR, launcher)
    return launcher
