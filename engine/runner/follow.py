"""Following adopted runs through the store: their rows become the same typed
events a worker streams to the Runner that started it.

A run this Runner did not start (left training by a closed app, started by
`layerdeck train` in a terminal, or running on another machine) sends its
events to nobody here, but its worker writes every fact to the store. One
thread reads the followed runs' rows about twice a second and emits what
changed: `Status` on a status change, `Started` once it trains, `Metrics`
for new points, `Epoch` when an epoch's values arrive, `Checkpoint` for a
new checkpoint row, and `Finished` once the row is final. Every few seconds
it also settles runs whose worker is gone (`RunStore.mark_orphans_crashed`),
so a followed run whose worker was killed still ends with `Finished`.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Optional

from engine.protocol import Checkpoint, Epoch, Event, Finished, Metrics, Started, Status
from engine.status import LIVE, TERMINAL
from engine.store import Run, RunNotFoundError, RunStore
from engine.training.callbacks import MetricPoint

POLL_S = 0.5
ORPHAN_CHECK_S = 5.0
FIRST_READ_BUCKETS = 2000  # an adopted run's history arrives reduced, like any plotted curve
LAST_STEP = 2 ** 31 - 1  # the metrics.step column is a 32-bit INTEGER on PostgreSQL


@dataclass
class _Followed:
    """What has been emitted for one followed run."""

    run_id: int
    status: Optional[str] = None
    started: bool = False
    first_read: bool = True
    last_step: int = -1  # the highest step read so far, over all keys
    keys_at_last_step: set[str] = field(default_factory=set)  # read already at last_step
    epoch: int = 0  # the newest epoch announced with Epoch
    epoch_values: dict[str, float] = field(default_factory=dict)
    checkpoints: set[tuple[str, int]] = field(default_factory=set)


class StoreFollower(threading.Thread):
    """Polls followed runs and calls `emit(event)` for what changed, on this thread."""

    def __init__(self, store: RunStore, emit: Callable[[Event], None], *, interval_s: float = POLL_S,
                 scan: Optional[Callable[[], None]] = None):
        """scan: called on every few polls to find more runs to follow (the
        Runner's auto-adoption); errors in it are reported, never fatal."""
        super().__init__(name="store-follower", daemon=True)
        self.store, self.emit, self.interval_s, self.scan = store, emit, interval_s, scan
        self._lock = threading.Lock()
        self._runs: dict[int, _Followed] = {}
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._last_orphan_check = 0.0

    def follow(self, run_id: int) -> None:
        with self._lock:
            self._runs.setdefault(run_id, _Followed(run_id))
        self._wake.set()

    def following(self) -> list[int]:
        with self._lock:
            return sorted(self._runs)

    def close(self) -> None:
        self._closed.set()
        self._wake.set()

    def run(self) -> None:
        last_error = ""
        while not self._closed.is_set():
            try:
                self.poll_once()
            except Exception as e:  # a busy or unreachable store: said once in the log, tried again
                if repr(e) != last_error:
                    print("layerdeck: reading adopted runs from the store failed (will retry):", file=sys.stderr)
                    traceback.print_exc()
                last_error = repr(e)
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def poll_once(self) -> None:
        if self.scan is not None:
            self.scan()
        now = time.monotonic()
        if now - self._last_orphan_check >= ORPHAN_CHECK_S:
            self._last_orphan_check = now
            self.store.mark_orphans_crashed()
        with self._lock:
            followed = list(self._runs.values())
        for f in followed:
            if self._closed.is_set():
                return
            if self._poll_run(f):
                with self._lock:
                    self._runs.pop(f.run_id, None)

    # --- one run -------------------------------------------------------------------------
    def _poll_run(self, f: _Followed) -> bool:
        """Emit what changed in the run's rows; True once it has ended (Finished sent)."""
        try:
            run = self.store.get_run(f.run_id)
        except RunNotFoundError:
            self.emit(Finished(f.run_id, status="failed", error="the run was deleted from the store"))
            return True
        if run.status != f.status and run.status not in TERMINAL:
            f.status = run.status
            self.emit(Status(run.id, run.status))
        if run.status in LIVE and not f.started and run.pid is not None:
            f.started = True
            self.emit(Started(run.id, pid=run.pid, device=run.device or "", num_params=_params(run),
                              total_epochs=total_epochs(run), steps_per_epoch=0))
        self._emit_metrics(run, f)
        self._emit_checkpoints(run, f)
        if run.status in TERMINAL:
            self.emit(Finished(run.id, status=run.status, error=run.error))
            return True
        return False

    def _emit_metrics(self, run: Run, f: _Followed) -> None:
        if f.first_read:
            curves = self.store.get_curves([run.id], buckets=FIRST_READ_BUCKETS)
            f.first_read = False
        else:
            curves = self.store.get_curves([run.id], buckets=None, step_range=(max(f.last_step, 0), LAST_STEP))
        points = [MetricPoint(c.key, int(s), int(e), float(v), float(t))
                  for c in curves for s, e, v, t in zip(c.steps, c.epochs, c.values, c.wall_times)
                  if s > f.last_step or (s == f.last_step and c.key not in f.keys_at_last_step)]
        if not points:
            return
        top = max(p.step for p in points)
        if top > f.last_step:
            f.last_step, f.keys_at_last_step = top, set()
        f.keys_at_last_step.update(p.key for p in points if p.step == top)
        self.emit(Metrics(run.id, points))
        self._emit_epochs(run, f, [p for p in points if not p.key.endswith("_step")])

    def _emit_epochs(self, run: Run, f: _Followed, points: list[MetricPoint]) -> None:
        newest = max((p.epoch for p in points), default=0)
        if newest < max(f.epoch, 1):
            return
        if newest > f.epoch:
            f.epoch, f.epoch_values = newest, {}
        f.epoch_values.update({p.key: p.value for p in points if p.epoch == newest})
        total = total_epochs(run)
        eta = None
        if run.started_at is not None and newest > 0:
            elapsed = (datetime.now(timezone.utc) - run.started_at).total_seconds()
            eta = max(elapsed / newest * max(total - newest, 0), 0.0)
        self.emit(Epoch(run.id, epoch=newest, total_epochs=total, metrics=dict(f.epoch_values), eta_s=eta))

    def _emit_checkpoints(self, run: Run, f: _Followed) -> None:
        for ck in self.store.checkpoints(run.id):
            if (ck.kind, ck.step) not in f.checkpoints:
                f.checkpoints.add((ck.kind, ck.step))
                self.emit(Checkpoint(run.id, kind=ck.kind, path=ck.path, step=ck.step, epoch=ck.epoch,
                                     metric_value=ck.metric_value))


def _params(run: Run) -> int:
    return int((run.summary or {}).get("params") or 0)


def total_epochs(run: Run) -> int:
    total = (run.summary or {}).get("total_epochs")
    if not total:
        total = ((run.spec or {}).get("training") or {}).get("epochs") or 0
    return int(total)

