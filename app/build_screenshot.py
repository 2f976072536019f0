"""docs/screenshots/build_branch.png: the Build page with a branching model, a
small U-Net-style net for digits (a skip connection concatenated with a
down-and-up path, a residual-style `add` branch inside it, one frozen block).

`python -m app.build_screenshot DIR` renders it alone; `layerdeck
--screenshots DIR` renders it with the others. A throw-away store and
settings, never the user's.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

SIZE = (1600, 900)  # wider than the other pictures: branches stand side by side


def conv(out: int, k: int = 3, **kw) -> dict:
    return {"type": "Conv2d", "out_channels": out, "kernel_size": k, **kw}


UNET_SPEC = {
    "name": "digits-unet",
    "data": {"name": "digits"},
    "model": {"blocks": [
        conv(8, padding=1), {"type": "ReLU"},
        {"type": "Branch", "merge": "concat", "dim": 0, "blocks": [
            {"type": "Identity"},  # the skip: full resolution, concatenated with the way back up
            {"type": "Sequential", "blocks": [
                {"type": "MaxPool2d", "kernel_size": 2}, conv(16, padding=1), {"type": "ReLU"},
                {"type": "Branch", "merge": "add", "dim": 0, "blocks": [
                    {"type": "Sequential", "blocks": [conv(16, padding=1), {"type": "ReLU"}]},
                    {"type": "Identity"}]},
                {"type": "Upsample", "scale_factor": 2.0}, conv(8, 1)]}]},
        conv(8, padding=1, trainable=False), {"type": "ReLU"},
        {"type": "Flatten"}, {"type": "Linear", "out_features": 10},
    ]},
}


def render_build_branch(out_dir: str | Path) -> Path:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.state import AppState
    from engine.spec import parse_spec

    app = QApplication.instance() or QApplication(sys.argv[:1])
    work = Path(tempfile.mkdtemp(prefix="layerdeck-shot-build-"))
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(work / "settings"))
    state = AppState(f"sqlite:///{work / 'store.db'}")
    window = MainWindow(state)
    window.resize(*SIZE)
    window.show()
    window.show_page("build")
    page = window.build_page
    shown: list[bool] = []
    page.summary_shown.connect(lambda: shown.append(not page.summary_service.pending()))
    state.set_spec(parse_spec(UNET_SPEC), dirty=False)
    end = time.monotonic() + 60
    while not any(shown) and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    page.select([(2, 1, 3)])  # the inner add branch: its merge and dim in the inspector
    for _ in range(30):
        app.processEvents()
        time.sleep(0.01)
    path = Path(out_dir) / "build_branch.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    state.set_dirty(False)
    window.close()
    return path


if __name__ == "__main__":
    print(render_build_branch(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
