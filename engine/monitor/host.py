"""CPU, RAM and per-process memory through psutil."""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import psutil

MIB = 1024 * 1024


class CpuMeter:
    """System-wide CPU percent since the previous call.

    Kept per meter rather than psutil.cpu_percent(interval=None), whose
    "since last call" state is global: two samplers in one process (the
    Monitor page and the Train page's strip) would shorten each other's
    intervals.
    """

    def __init__(self) -> None:
        self._last = psutil.cpu_times()

    def percent(self) -> float:
        now = psutil.cpu_times()
        busy_now, total_now = self._busy_total(now)
        busy_then, total_then = self._busy_total(self._last)
        self._last = now
        dt = total_now - total_then
        if dt <= 0:
            return 0.0
        # Busy time over total time of all cores, as a percentage of the
        # whole machine (100 = every core busy), like psutil.cpu_percent().
        return max(0.0, min(100.0, 100.0 * (busy_now - busy_then) / dt))

    @staticmethod
    def _busy_total(t: Any) -> tuple[float, float]:  # t: psutil's scputimes
        total = sum(t)
        # guest time is already counted in user/nice on Linux.
        total -= getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)
        idle = t.idle + getattr(t, "iowait", 0.0)
        return total - idle, total


def ram_used_total_mb() -> tuple[float, float]:
    vm = psutil.virtual_memory()
    return vm.used / MIB, vm.total / MIB


class ProcessTree:
    """The watched pids and their children (DataLoader workers, ...).

    Finding children walks every process on the machine, so the tree is
    re-read at most every `refresh` seconds; RSS is read each call from the
    cached psutil.Process objects.
    """

    def __init__(self, refresh: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._refresh = refresh
        self._clock = clock
        self._procs: dict[int, psutil.Process] = {}
        self._children: dict[int, tuple[list[psutil.Process], float]] = {}

    def _process(self, pid: int) -> psutil.Process | None:
        proc = self._procs.get(pid)
        if proc is None or not proc.is_running():
            try:
                proc = psutil.Process(pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
                self._procs.pop(pid, None)
                return None
            self._procs[pid] = proc
        return proc

    def members(self, pid: int) -> list[psutil.Process]:
        """pid's process and its descendants (children at most `refresh` s old)."""
        root = self._process(pid)
        if root is None:
            self._children.pop(pid, None)
            return []
        now = self._clock()
        cached = self._children.get(pid)
        if cached is None or now - cached[1] >= self._refresh:
            try:
                kids = root.children(recursive=True)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                kids = []
            cached = (kids, now)
            self._children[pid] = cached
        return [root, *cached[0]]

    def pids(self, pid: int) -> set[int]:
        return {p.pid for p in self.members(pid)}

    def rss_mb(self, pids: Iterable[int]) -> dict[int, float]:
        """RSS in MB of each pid together with its descendants; gone pids are left out."""
        out: dict[int, float] = {}
        for pid in pids:
            members = self.members(pid)
            if not members:
                continue
            total = 0.0
            for proc in members:
                try:
                    total += proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue  # a child that ended since the tree was read
            out[pid] = total / MIB
        return out
