"""docs/screenshots/lr_finder.png and sanity.png: the LR finder on the
digits MLP template and the check before training on the same template with
a learning rate of 10 (so the checklist shows a failure with its advice).
Both probes really run, each in its own process.

`python -m app.probe_screenshots DIR`. A throw-away store, never the user's.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

SIZE = (900, 600)
TEMPLATE = Path(__file__).resolve().parents[1] / "resources" / "templates" / "digits_mlp.json"


def render(out_dir: str) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from app.pages.train.lr_finder import LRFinderDialog
    from app.pages.train.sanity_view import SanityDialog
    from engine.spec import parse_spec

    app = QApplication.instance() or QApplication(sys.argv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = parse_spec(json.loads(TEMPLATE.read_text()))
    broken = json.loads(TEMPLATE.read_text())
    broken["optimizer"]["lr"] = 10
    written = []
    for dialog, s, name in ((LRFinderDialog(), spec, "lr_finder.png"),
                            (SanityDialog(), parse_spec(broken), "sanity.png")):
        dialog.resize(*SIZE)
        dialog.show()
        dialog.start(s)
        end = time.monotonic() + 600
        while dialog.job.running and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)
        path = out / name
        dialog.grab().save(str(path))
        written.append(path)
        dialog.close()
    return written


if __name__ == "__main__":
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("LAYERDECK_DB", f"sqlite:///{tempfile.mkdtemp()}/runs.db")
    for p in render(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"):
        print(p)
