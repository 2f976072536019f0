"""Time each template as a user would run it: `layerdeck train TEMPLATE`
(a real worker process, start-up included) on a fresh store, then print the
wall time and the final metrics the store recorded.

    python bench/templates.py [NAME ...] [--device cpu] [--write]

NAME: template file stems (default: every template in the gallery index).
--write stores each measured time and result in resources/templates/gallery.toml's
`measured` lines, with the machine it was measured on; the gallery shows them.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.formatting import clock  # noqa: E402
from engine.gallery import GALLERY_FILE, TEMPLATES_DIR, read_index  # noqa: E402
from engine.store import RunStore  # noqa: E402

RESULT_KEYS = ("val/accuracy", "val/r2", "val/loss", "train/loss")


def measure(stem: str, device: str) -> tuple[float, str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "app.launch", "train", str(TEMPLATES_DIR / f"{stem}.json"),
                               "--db", db, "--device", device], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - t0
        with RunStore(db) as store:
            runs = store.list_runs()
            if not runs:
                raise SystemExit(f"{stem}: no run was recorded:\n{proc.stderr[-2000:]}")
            run = runs[0]
            metrics = {k: v.get("last") for k, v in (run.summary.get("metrics") or {}).items()}
        return wall, run.status, {k: metrics[k] for k in RESULT_KEYS if metrics.get(k) is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    names = args.names or list(read_index())
    machine = f"{os.cpu_count()}-core {platform.machine()} CPU" if args.device == "cpu" else args.device
    print(f"templates trained with `layerdeck train` on {machine} (torch threads: default)")
    for stem in names:
        wall, status, result = measure(stem, args.device)
        shown = ", ".join(f"{k} {v:.3f}" for k, v in result.items())
        print(f"{stem:24s} {status:10s} {clock(wall):>8s}  {shown}", flush=True)
        if args.write and status == "completed":
            record(stem, f"{clock(wall)} on a {machine}", shown)


def record(stem: str, took: str, result: str) -> None:
    """Rewrite the template's `measured_time` and `measured_result` lines in the gallery index."""
    text = GALLERY_FILE.read_text(encoding="utf-8")
    head = f"[{stem}]"
    start = text.index(head)
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end
    section = text[start:end]
    for key, value in (("measured_time", took), ("measured_result", result)):
        line = f'{key} = "{value}"'
        pattern = re.compile(rf"^{key} = .*$", re.M)
        section = pattern.sub(line, section) if pattern.search(section) else section.rstrip("\n") + "\n" + line + "\n"
    GALLERY_FILE.write_text(text[:start] + section + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
