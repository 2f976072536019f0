"""The worker's event sender: a thread that writes protocol lines on a pipe.

The training thread only appends to a bounded buffer and returns. Metric
batches are coalesced to at most `MAX_SENDS_PER_S` writes a second; when
the reader is slow (a busy GUI) the buffered per-step points are decimated
and stale system samples and heartbeats are replaced by the newest, so the
live stream degrades while the training loop never waits. The store gets
every point through its own writer; only the live view loses detail.

When the supervisor goes away (a broken pipe) or lets go of the run
(`detach`), sending stops silently and training goes on: the stream is a
live view, the store is the record.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque

from engine.protocol import Event, Heartbeat, Metrics, System, encode_event
from engine.training.callbacks import MetricPoint

MAX_SENDS_PER_S = 20
MAX_BUFFERED_POINTS = 20_000


def decimate(points: list[MetricPoint], limit: int) -> list[MetricPoint]:
    """Halve the per-step points until `limit` fits; epoch points (few, and what
    the plots' epoch axes show) are always kept."""
    while len(points) > limit:
        steps = [i for i, p in enumerate(points) if p.key.endswith("_step")]
        if len(steps) < 2:
            return points[-limit:]
        drop = set(steps[::2])
        points = [p for i, p in enumerate(points) if i not in drop]
    return points


class EventSender(threading.Thread):
    """Numbers and writes events on `fd`; `send` never blocks on the pipe."""

    def __init__(self, fd: int, *, max_points: int = MAX_BUFFERED_POINTS,
                 min_interval_s: float = 1.0 / MAX_SENDS_PER_S):
        super().__init__(name="event-sender", daemon=True)
        self.fd = fd
        self.max_points = max_points
        self.min_interval_s = min_interval_s
        self._cond = threading.Condition()
        self._events: deque[Event] = deque()  # in order; consecutive metric batches merged
        self._points = 0  # metric points buffered in _events
        self._seq = 0
        self._last_metrics = 0.0
        self._closing = False
        self._detached = False
        self.broken = False  # the reader is gone (or let go); later events are discarded
        self.dropped_points = 0

    # --- producer side (any thread) ---------------------------------------------
    def send(self, event: Event) -> None:
        with self._cond:
            if self._closing or self.broken:
                return
            if isinstance(event, Metrics):
                last = self._events[-1] if self._events else None
                if isinstance(last, Metrics) and last.run_id == event.run_id:
                    last.points.extend(event.points)  # coalesce with the batch not yet sent
                else:
                    self._events.append(Metrics(event.run_id, list(event.points)))
                self._points += len(event.points)
                if self._points > self.max_points:
                    self._decimate()
            elif isinstance(event, (System, Heartbeat)):
                # Only the newest one matters to a live view that fell behind.
                for old in [e for e in self._events if type(e) is type(event)]:
                    self._events.remove(old)
                self._events.append(event)
            else:
                self._events.append(event)
            self._cond.notify()

    def _decimate(self) -> None:
        before = self._points
        self._points = 0
        for e in self._events:
            if isinstance(e, Metrics):
                e.points[:] = decimate(e.points, max(1, self.max_points // 2 * len(e.points) // before))
                self._points += len(e.points)
        self.dropped_points += before - self._points

    def detach(self) -> None:
        """Stop streaming now: drop what is buffered and every later event, and
        close the stream, so the supervisor's reader sees its end at once."""
        with self._cond:
            self._detached = True
            self.broken = True
            self._events.clear()
            self._points = 0
            self._cond.notify()

    def close(self, timeout: float = 10.0) -> None:
        """Send what is buffered, then stop. A reader that never drains the pipe
        cannot keep the process alive past `timeout`: the thread is a daemon."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self.is_alive():
            self.join(timeout)

    # --- the thread -----------------------------------------------------------------
    def _take(self) -> list[Event]:
        """Wait for something to send, in order. Metric batches wait out the rate
        limit; any other event (rare: epoch, checkpoint, finished) flushes at once."""
        with self._cond:
            while not (self._closing or self._detached):
                if any(not isinstance(e, Metrics) for e in self._events):
                    break
                if self._events:
                    wait = self._last_metrics + self.min_interval_s - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            out = list(self._events)
            self._events.clear()
            self._points = 0
            if any(isinstance(e, Metrics) for e in out):
                self._last_metrics = time.monotonic()
            return out

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def run(self) -> None:
        while True:
            events = self._take()
            if events and not self.broken:
                data = b"".join(self._encode(e) for e in events)
                try:
                    self._write(data)
                except OSError:  # BrokenPipeError included: the supervisor is gone
                    self.broken = True
            with self._cond:
                if self._detached or (self._closing and not self._events):
                    break
        try:
            os.close(self.fd)
        except OSError:
            pass

    def _encode(self, event: Event) -> bytes:
        self._seq += 1
        try:
            return encode_event(event, self._seq)
        except (TypeError, ValueError) as e:  # a value JSON cannot hold: report, never crash the run
            print(f"layerdeck worker: cannot encode {event.KIND} event: {e}", file=sys.stderr)
            self._seq -= 1
            return b""
