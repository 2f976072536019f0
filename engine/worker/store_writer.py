"""The worker's store writer: a thread that batches rows into the run store.

Metric points, system samples and checkpoint records are buffered and
written at most about once a second (and soon after each epoch), one
transaction per kind, so several workers share a SQLite file in WAL mode
without stalling each other. Nothing is ever dropped: a
failed write keeps its rows for the next round, and `close` writes the rest
before the worker sets its final status.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

from engine.training.callbacks import MetricPoint

if TYPE_CHECKING:
    from engine.store import RunStore

FLUSH_INTERVAL_S = 1.0
HEARTBEAT_EVERY_S = 5.0


class StoreWriter(threading.Thread):
    def __init__(self, store: RunStore, run_id: int, *, interval_s: float = FLUSH_INTERVAL_S):
        super().__init__(name="store-writer", daemon=True)
        self.store, self.run_id, self.interval_s = store, run_id, interval_s
        self._cond = threading.Condition()
        self._points: list[MetricPoint] = []
        self._system: list[tuple[str, float, float]] = []
        self._checkpoints: list[tuple[str, str, int, int, Optional[float]]] = []
        self._flush_now = False
        self._closing = False
        self._last_beat = 0.0
        self.error: Optional[BaseException] = None

    # --- producer side (the training thread, the sampler) ----------------------------
    def add_metrics(self, points: list[MetricPoint]) -> None:
        with self._cond:
            self._points.extend(points)

    def add_system(self, samples: list[tuple[str, float, float]]) -> None:
        with self._cond:
            self._system.extend(samples)

    def add_checkpoint(self, kind: str, path: str, step: int, epoch: int,
                       metric_value: Optional[float]) -> None:
        with self._cond:
            self._checkpoints.append((kind, path, step, epoch, metric_value))
            self._flush_now = True
            self._cond.notify()

    def flush_soon(self) -> None:
        """Write without waiting for the interval (epoch end)."""
        with self._cond:
            self._flush_now = True
            self._cond.notify()

    def close(self) -> None:
        """Write everything still buffered and stop; raises if the store refuses it."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self.is_alive():
            self.join()
        self._write_all()  # whatever the thread could not write (or if it never started)
        if self._pending():
            raise RuntimeError(f"could not write the run's last rows to the store: {self.error}")

    # --- the thread -------------------------------------------------------------------
    def _pending(self) -> bool:
        return bool(self._points or self._system or self._checkpoints)

    def run(self) -> None:
        while True:
            with self._cond:
                if not self._closing and not self._flush_now:
                    self._cond.wait(self.interval_s)
                self._flush_now = False
                closing = self._closing
            self._write_all()
            if closing:
                return
            if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY_S:
                self._last_beat = time.monotonic()
                self._guard(self.store.heartbeat, self.run_id)

    def _write_all(self) -> None:
        with self._cond:
            points, self._points = self._points, []
            system, self._system = self._system, []
            ckpts, self._checkpoints = self._checkpoints, []
        if points and not self._guard(self.store.add_metrics, self.run_id, points):
            with self._cond:
                self._points[:0] = points
        if system and not self._guard(self.store.add_system_metrics, self.run_id, system):
            with self._cond:
                self._system[:0] = system
        for i, (kind, path, step, epoch, value) in enumerate(ckpts):
            if not self._guard(self.store.add_checkpoint, self.run_id, kind, path, step, epoch, value):
                with self._cond:
                    self._checkpoints[:0] = ckpts[i:]
                break

    def _guard(self, fn: Any, *args: Any) -> bool:
        """Call a store write; a failure (a locked database past its timeout) is
        reported once per kind of error and retried on the next round."""
        try:
            fn(*args)
            return True
        except Exception as e:
            if repr(e) != repr(self.error):
                print(f"layerdeck worker: store write failed, will retry: {e}", file=sys.stderr)
            self.error = e
            return False
