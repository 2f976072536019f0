"""`python -m app` / `layerdeck`: open the main window.

    layerdeck [SPEC.json] [--db URL] [--screenshots DIR]

Nothing here imports torch: the window paints first, then background work
(summaries, GPU detection) is released.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

# LAYERDECK_STARTUP_PROBE=1 (bench/startup.py): print when the window first paints, then quit.
PROBE_ENV = "LAYERDECK_STARTUP_PROBE"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layerdeck", description="Build, train and compare PyTorch models.")
    p.add_argument("spec", nargs="?", help="A run spec (.json) to open.")
    p.add_argument("--db", help="Run store URL or SQLite file (default: LAYERDECK_DB or the user data dir).")
    p.add_argument("--screenshots", metavar="DIR",
                   help="Render every page offscreen from a demo store into DIR/<page>.png and exit.")
    return p


class _FirstPaint(QObject):
    """Runs `then` once, right after the window's first paint."""

    def __init__(self, window, then):
        super().__init__(window)
        self._then = then
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Paint and self._then is not None:
            then, self._then = self._then, None
            obj.removeEventFilter(self)
            QTimer.singleShot(0, then)  # after this paint has reached the screen
        return False


def _resolve_store(cli_value: str | None) -> str:
    # engine.store loads SQLAlchemy lazily, so this costs no start-up time.
    from engine.store import resolve_db_url

    return resolve_db_url(cli_value)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshots:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed, none shown
    if QApplication.instance() is None:
        from app.platform_check import xcb_problem

        problem = xcb_problem()  # Qt's own message for this names no package to install
        if problem:
            print(problem, file=sys.stderr)
            return 1
    app = QApplication.instance() or QApplication([sys.argv[0]])
    if not QCoreApplication.organizationName():  # tests set their own (isolated QSettings)
        QCoreApplication.setOrganizationName("LayerDeck")
        QCoreApplication.setApplicationName("LayerDeck")
    from app import theme

    theme.apply(app)

    if args.screenshots:
        from app.screenshots import render_screenshots

        return render_screenshots(args.screenshots)

    try:
        store_url = _resolve_store(args.db)
    except ValueError as e:
        print(f"layerdeck: --db: {e}", file=sys.stderr)
        return 1

    from app.main_window import MainWindow
    from app.pages.build import summary
    from app.state import AppState

    summary.hold()  # torch loads after the first paint, not before
    state = AppState(store_url)
    window = MainWindow(state)
    spec_path = args.spec or window.settings.last_spec()
    if spec_path:
        window.files.open_path(spec_path, ask=False)

    def after_first_paint() -> None:
        if os.environ.get(PROBE_ENV):
            print(f"first_paint {time.time():.6f} torch_loaded={'torch' in sys.modules}", flush=True)
            app.quit()
            return
        summary.release()
        window.probe_device()
        window.start_monitor_history()

    def freeze_heap(_result=None) -> None:
        # Once torch is in (the first summary imports it), move everything
        # alive into the GC's permanent generation: full collections then skip
        # torch's hundreds of thousands of objects, which removed the UI
        # thread's longest stalls under a live metric stream (bench/gui_stream.py).
        window.build_page.summary_service.ready.disconnect(freeze_heap)
        gc.freeze()

    window.build_page.summary_service.ready.connect(freeze_heap)
    _FirstPaint(window, after_first_paint)
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
