"""What system monitoring costs: CPU time per sample and per second of
monitoring, against the goal of < 1 % of one core at a 1 s interval.

    python bench/monitor_cost.py [--samples 300] [--seconds 5]

Measures with time.process_time (CPU time of this whole process, all
threads), so the figure includes psutil's /proc reads, NVML calls and
Python overhead. Real NVML is used when this machine has an NVIDIA GPU;
the fake NVML (two simulated GPUs) shows the Python side of the GPU path
on machines without one.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.monitor import SamplerThread, SystemSampler  # noqa: E402
from engine.monitor.fake_nvml import FakeNvml  # noqa: E402

GOAL = 0.01  # of one core at a 1 s interval


def per_sample(sampler: SystemSampler, n: int) -> float:
    """CPU seconds per sample, back to back (process lists refreshed as often as they expire)."""
    sampler.sample()  # warm caches
    t0 = time.process_time()
    for _ in range(n):
        sampler.sample()
    return (time.process_time() - t0) / n


def per_second(sampler: SystemSampler, seconds: float, interval: float = 1.0) -> float:
    """CPU seconds spent per wall second while a SamplerThread samples at `interval`."""
    thread = SamplerThread(sampler, interval=interval, on_samples=lambda s: None)
    w0, c0 = time.monotonic(), time.process_time()
    thread.start()
    time.sleep(seconds)  # the main thread sleeps: any CPU time is the sampler's
    thread.stop()
    return (time.process_time() - c0) / (time.monotonic() - w0)


def report(label: str, cpu_per_sample: float, cpu_per_s: float | None) -> None:
    pct = 100 * cpu_per_sample  # at one sample per second
    line = (f"{label:<44} {cpu_per_sample * 1e3:7.3f} ms/sample  {pct:6.3f} % of a core at 1 s  "
            f"ratio to goal {pct / (100 * GOAL):.3f}")
    print(line)
    if cpu_per_s is not None:
        print(f"{'':<44} measured over a 1 s SamplerThread: {100 * cpu_per_s:6.3f} % of a core"
              f"  ratio to goal {cpu_per_s / GOAL:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()

    # A worker-like watched tree: this process and one child.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        pids = [os.getpid()]
        real = SystemSampler(pids=pids)
        gpu_note = ", ".join(g.name for g in real.gpus) or (real.message or "no GPU")
        print(f"goal: < {100 * GOAL:.0f} % of one core at a 1 s interval; machine: {os.cpu_count()} cores, {gpu_note}")
        report("CPU + RAM + proc (psutil), real NVML if any", per_sample(real, args.samples),
               per_second(real, args.seconds))
        fake = SystemSampler(pids=pids, nvml=FakeNvml())
        report("same + fake NVML, 2 GPUs (Python side)", per_sample(fake, args.samples),
               per_second(fake, args.seconds))
        no_proc = SystemSampler(nvml=FakeNvml())
        report("GUI sampler: no pids + fake NVML, 2 GPUs", per_sample(no_proc, args.samples), None)
        # Process lists expire every 5 s; force a re-read on every sample to see their worst case.
        eager = SystemSampler(pids=pids, proc_interval=0.0)
        report("worst case: process tree re-read every sample", per_sample(eager, args.samples), None)
    finally:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
