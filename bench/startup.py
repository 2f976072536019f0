"""Time from process start to the main window's first paint (goal < 1.5 s),
and whether torch had been imported by then (it must not have been).

    python bench/startup.py [--runs 5]

Each run starts `python -m app` with LAYERDECK_STARTUP_PROBE=1, which prints
the wall time of the first paint and quits; HOME, settings and the store
point at a temporary folder. A bare `python -c pass` and `import torch` are
timed the same way for scale.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOAL_S = 1.5


def _env(home: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_DATA_HOME=os.path.join(home, ".local"),
               LAYERDECK_DB=f"sqlite:///{home}/runs.db", LAYERDECK_STARTUP_PROBE="1")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def first_paint(home: str) -> tuple[float, bool]:
    start = time.time()
    out = subprocess.run([sys.executable, "-m", "app"], env=_env(home), capture_output=True, text=True, timeout=120)
    line = next((s for s in out.stdout.splitlines() if s.startswith("first_paint ")), None)
    if line is None:
        raise SystemExit(f"no first paint reported (exit {out.returncode}):\n{out.stderr[-2000:]}")
    stamp, torch_flag = line.split()[1:3]
    return float(stamp) - start, torch_flag.endswith("True")


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        first_paint(home)  # warm the OS file cache once
        results = [first_paint(home) for _ in range(args.runs)]
    paints = [t for t, _ in results]
    torch_seen = any(flag for _, flag in results)
    bare = statistics.median(timed("pass") for _ in range(3))
    torch_s = statistics.median(timed("import torch") for _ in range(3))
    med = statistics.median(paints)
    print(f"first paint: median {med:.2f} s (min {min(paints):.2f}, max {max(paints):.2f}) over {args.runs} runs")
    print(f"goal {GOAL_S} s: ratio {med / GOAL_S:.2f} ({'met' if med < GOAL_S else 'NOT met'})")
    print(f"torch imported before first paint: {'YES (bad)' if torch_seen else 'no'}")
    print(f"for scale: bare python {bare:.2f} s, python -c 'import torch' {torch_s:.2f} s "
          f"(first paint / torch import = {med / torch_s:.2f})")
    return 1 if torch_seen else 0


if __name__ == "__main__":
    sys.exit(main())
