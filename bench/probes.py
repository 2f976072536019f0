"""Wall time of the LR finder and the check before training as a user runs
them (`layerdeck lr-find SPEC`, `layerdeck check SPEC --sanity`: a probe
process each, start-up included), and what they found.

    python bench/probes.py [TEMPLATE ...]      # default: digits_mlp digits_cnn

Prints one line per probe and template; the figures go to docs/BENCHMARKS.md.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.spec import parse_spec  # noqa: E402
from engine.training.lr_finder import LRFinderResult  # noqa: E402
from engine.training.probe_process import run_probe  # noqa: E402
from engine.training.sanity import SanityReport  # noqa: E402


def main(names: list[str]) -> None:
    for name in names or ["digits_mlp", "digits_cnn"]:
        spec = parse_spec(json.loads((ROOT / "resources" / "templates" / f"{name}.json").read_text()))
        t0 = time.perf_counter()
        lr = LRFinderResult.from_dict(run_probe("lr_find", spec, device="cpu"))
        t1 = time.perf_counter()
        report = SanityReport.from_dict(run_probe("sanity", spec, device="cpu"))
        t2 = time.perf_counter()
        print(f"{name}: lr-find {t1 - t0:.1f} s ({len(lr.lrs)} steps; suggested {lr.suggested:.3g}, "
              f"steepest {lr.steepest:.3g}) · check --sanity {t2 - t1:.1f} s "
              f"({', '.join(i.outcome for i in report.items)})")


if __name__ == "__main__":
    main(sys.argv[1:])
