"""SystemSampler (one sample of the whole machine) and SamplerThread (samples
it on an interval off the caller's thread)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable

from engine.monitor.host import CpuMeter, ProcessTree, ram_used_total_mb
from engine.monitor.nvml import GpuInfo, NvmlGpus

log = logging.getLogger(__name__)

Sample = list[tuple[str, float]]


class SystemSampler:
    """CPU, RAM, GPUs and the watched processes, one call per sample.

    pids: processes to follow (a worker passes [os.getpid()]); each counts
    with its children. None or [] leaves out the proc/* keys.
    nvml: an NVML module to use instead of importing `pynvml` (tests, demos).
    proc_interval: seconds between process-tree and GPU process-list reads.
    Not thread-safe: use one sampler from one thread at a time.
    """

    def __init__(self, pids: Iterable[int] | None = None, nvml: Any | None = None, *,
                 proc_interval: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.pids: list[int] = list(pids or [])
        self._cpu = CpuMeter()
        self._tree = ProcessTree(proc_interval, clock)
        self._gpus = NvmlGpus(nvml, proc_interval=proc_interval, clock=clock)

    @property
    def gpus(self) -> list[GpuInfo]:
        """The GPUs found at start (empty with no NVIDIA GPU)."""
        return list(self._gpus.gpus)

    @property
    def message(self) -> str | None:
        """Why GPU figures are missing, in words (None while all is well)."""
        return self._gpus.message

    def sample(self) -> Sample:
        """[(key, value)] for this instant: cpu/percent, ram/used_mb,
        ram/total_mb, proc/rss_mb and proc/gpu_mem_mb (with pids),
        gpu{i}/util_percent, mem_used_mb, mem_total_mb, temp_c, power_w,
        power_limit_w, sm_clock_mhz (each GPU, metrics it supports)."""
        used, total = ram_used_total_mb()
        out: Sample = [("cpu/percent", self._cpu.percent()), ("ram/used_mb", used), ("ram/total_mb", total)]
        if self.pids:
            out.append(("proc/rss_mb", sum(self._tree.rss_mb(self.pids).values())))
        out.extend(self._guarded(self._gpus.sample, []))
        if self.pids and self._gpus.active:
            gpu_mem = self.process_gpu_mem(self.pids)
            if gpu_mem:
                out.append(("proc/gpu_mem_mb", sum(gpu_mem.values())))
        return out

    def process_rss(self, pids: Iterable[int]) -> dict[int, float]:
        """RSS in MB per pid (with its children); pids that are gone are left out."""
        return self._tree.rss_mb(pids)

    def process_gpu_mem(self, pids: Iterable[int]) -> dict[int, float]:
        """GPU memory in MB per pid (with its children, over all GPUs).

        {} when GPU process lists are unavailable; 0.0 for a pid that holds
        no GPU memory. The list is re-read at most every proc_interval s.
        """
        by_pid = self._guarded(self._gpus.process_memory, None)
        if by_pid is None:
            return {}
        out: dict[int, float] = {}
        for pid in pids:
            members = self._tree.pids(pid)
            if members:
                out[pid] = sum(by_pid.get(p, 0.0) for p in members)
        return out

    def _guarded(self, fn: Callable[[], Any], empty: Any) -> Any:
        # NvmlGpus turns NVML errors into a message; anything else it raises
        # (a ctypes failure inside a broken driver) must not stop CPU and RAM.
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            self._gpus.disable(exc, "while sampling")
            return empty

    def close(self) -> None:
        """Release NVML (samples after this have CPU and RAM only)."""
        self._gpus.close()


class SamplerThread(threading.Thread):
    """Calls sampler.sample() every `interval` seconds and hands the result
    to on_samples(samples) on this thread. Keep the callback short (append
    to a buffer, feed an Aggregator); it never blocks sampling for long."""

    def __init__(self, sampler: SystemSampler, interval: float = 1.0,
                 on_samples: Callable[[Sample], None] | None = None, *, name: str = "layerdeck-monitor"):
        super().__init__(name=name, daemon=True)  # never keeps a finished worker alive
        if interval <= 0:
            raise ValueError(f"monitor interval must be > 0 seconds, got {interval}")
        self.sampler = sampler
        self.interval = interval
        self.on_samples = on_samples
        self._stop_event = threading.Event()
        self._callback_failed = False

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._stop_event.is_set():
            samples = self.sampler.sample()
            if self.on_samples is not None:
                try:
                    self.on_samples(samples)
                except Exception:  # noqa: BLE001 - a bad consumer must not end monitoring
                    if not self._callback_failed:  # once: a broken consumer would log every second
                        log.exception("system sample callback failed; later failures are not logged")
                    self._callback_failed = True
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (suspended machine): restart the beat, do not burst
                next_at, delay = time.monotonic(), 0.0
            self._stop_event.wait(delay)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Ask the thread to end and wait for it (at most `timeout` s)."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
