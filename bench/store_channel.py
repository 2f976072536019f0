"""How fast a worker obeys the store command channel alone (no stdin, no signals).

    python bench/store_channel.py [--rounds 10]

A real worker (`python -m engine.worker --no-stdin`, as a remote executor
starts it) trains iris; this script asks it to pause and resume through the
`run_commands` table only, `--rounds` times, and then to stop. Each latency
is the time from the request row being written to the worker's new status
being readable in the store. Goal: within 2 s. Prints the median and the
worst, and the ratio of the worst to the goal (< 1.0 meets it), with the
load average.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.store import RunStore  # noqa: E402

GOAL_S = 2.0
SPEC = {"name": "iris-store-channel", "data": {"name": "iris"},
        "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                             {"type": "Linear", "out_features": 3}]},
        "training": {"epochs": 100000, "batch_size": 2, "device": "cpu"}}


def until(store: RunStore, run_id: int, status: str, timeout: float = 60.0) -> float:
    """Seconds until the run's row reads `status` (polled every 5 ms)."""
    t0 = time.perf_counter()
    while store.get_run(run_id).status != status:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"run {run_id} did not become {status} in {timeout:.0f} s")
        time.sleep(0.005)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="pause/resume pairs (default 10)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="layerdeck-channel-"))
    url = f"sqlite:///{folder / 'runs.db'}"
    store = RunStore(url)
    run_id = store.create_run(SPEC)
    worker = subprocess.Popen([sys.executable, "-m", "engine.worker", "--run-id", str(run_id), "--db", url,
                               "--no-stdin"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    latencies: list[float] = []
    try:
        until(store, run_id, "running", timeout=120)
        time.sleep(1.0)  # training, not starting
        for _ in range(args.rounds):
            for command, status in (("pause", "paused"), ("resume", "running")):
                store.request_command(run_id, command)
                latencies.append(until(store, run_id, status))
                time.sleep(0.3)
        t0 = time.perf_counter()
        store.request_command(run_id, "stop")
        worker.wait(timeout=60)
        stop_s = time.perf_counter() - t0
        final = store.get_run(run_id).status
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    worst = max(latencies)
    print(f"store channel alone: {len(latencies)} pause/resume commands applied, median "
          f"{statistics.median(latencies) * 1000:.0f} ms, worst {worst * 1000:.0f} ms (goal {GOAL_S:.0f} s: "
          f"ratio {worst / GOAL_S:.2f}); stop to process exit {stop_s:.2f} s, final status {final}; "
          f"load {os.getloadavg()[0]:.1f}")
    return 0 if worst <= GOAL_S and final == "stopped" else 1


if __name__ == "__main__":
    sys.exit(main())
