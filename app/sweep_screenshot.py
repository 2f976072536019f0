"""The Sweep view's picture for the README (docs/screenshots/sweep.png).

A store of its own holds one realistic sweep (engine/demo_sweep.py: 40
trials of the digits MLP, TPE, two still training), so the other pictures'
demo store stays as it is. Called by app/screenshots.py; alone:

    QT_QPA_PLATFORM=offscreen python -m app.sweep_screenshot docs/screenshots
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

SIZE = (1440, 900)


def render_sweep_screenshot(out_dir: str) -> Path:
    from PySide6.QtWidgets import QApplication

    from app.pages.runs.sweep_view import SweepView, read_report
    from app.pages.runs.tasks import Worker
    from engine.demo_sweep import create_demo_sweep
    from engine.store import RunStore

    app = QApplication.instance() or QApplication([])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layerdeck-sweep-shot-") as tmp:
        url = f"sqlite:///{tmp}/sweep.db"
        sweep_id = create_demo_sweep(url, trials=40, epochs=30, running=2)
        store = RunStore(url)
        worker = Worker()
        view = SweepView(lambda: store, worker)
        view.setWindowTitle("Sweep digits-mlp-tpe — LayerDeck")
        view.resize(*SIZE)
        view.show()
        view.show_sweep(sweep_id, read_report(store, sweep_id))
        end = time.monotonic() + 60
        while not view.importance.importances and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        view.parallel.top.setValue(50)  # the better half, as one reads it first
        app.processEvents()
        path = out / "sweep.png"
        view.grab().save(str(path))
        view.stop()
        view.close()
        worker.wait()
        store.close()
    return path


if __name__ == "__main__":
    print(render_sweep_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
