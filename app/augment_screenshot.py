"""The Data page's Augmentation tab for the README (docs/screenshots/augment.png):
the digits with a padded crop, a small rotation and random erasing, each of
four training samples drawn six times.

    QT_QPA_PLATFORM=offscreen python -m app.augment_screenshot docs/screenshots
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

SIZE = (1300, 800)
TRANSFORMS = [{"type": "random_crop", "padding": 1}, {"type": "rotation", "degrees": [-15, 15]},
              {"type": "erasing", "p": 0.5, "area": [0.05, 0.15]}]


def render_augment_screenshot(out_dir: str) -> Path:
    from PySide6.QtWidgets import QApplication

    from app.pages.data import DataPage
    from app.state import AppState
    from engine.spec import parse_spec

    app = QApplication.instance() or QApplication([])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layerdeck-augment-shot-") as tmp:
        spec = parse_spec({"name": "digits-cnn", "data": {"name": "digits", "augment": TRANSFORMS}})
        page = DataPage(AppState(f"sqlite:///{tmp}/runs.db", spec))
        page.resize(*SIZE)
        page.show()
        _wait(app, lambda: not page.loader.pending() and page.shown() is not None)
        page.tabs.setCurrentWidget(page.augment)
        _wait(app, lambda: "drawn 6 times" in page.augment.preview.caption.text()
              and not page.augment.preview.worker.pending())
        path = out / "augment.png"
        page.grab().save(str(path))
        page.close()
    return path


def _wait(app, ready, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while not ready() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


if __name__ == "__main__":
    print(render_augment_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
