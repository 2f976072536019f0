"""`layerdeck check SPEC.json --sanity`: after the static check, the quick
training checks of engine.training.sanity, run in their own process, as a
checklist with advice for each failure. Exit 1 when any check fails."""
from __future__ import annotations

import sys
from typing import Any

from engine.spec import RunSpec


def run_sanity(spec: RunSpec, source: str, device: str | None = None) -> int:
    from engine.training.probe_process import ProbeError, run_probe
    from engine.training.sanity import SanityReport, checklist_lines

    tty = sys.stderr.isatty()

    def progress(msg: dict[str, Any]) -> None:
        if tty:
            print(f"\roverfitting one batch: step {msg['step']}  loss {msg['loss']:.4g}   ",
                  end="", file=sys.stderr, flush=True)

    print("running the checks before training in a probe process (up to a minute)...", flush=True)
    try:
        report = SanityReport.from_dict(run_probe("sanity", spec, device=device, on_progress=progress))
    except ProbeError as e:
        print(f"{source}: {e}", file=sys.stderr)
        return 1
    finally:
        if tty:
            print(file=sys.stderr)
    print("\n".join(checklist_lines(report)))
    return 0 if report.passed else 1
