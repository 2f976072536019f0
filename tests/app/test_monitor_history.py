"""The Monitor page shows the machine from the app's start, not from when
the page was first opened (pages are built lazily)."""
from __future__ import annotations

from app.main_window import MainWindow
from app.state import AppState


def test_the_monitor_page_shows_samples_taken_before_it_was_opened(qtbot, db_url):
    state = AppState(db_url)
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.show()
    window.start_monitor_history()  # what app.__main__ does after the first paint
    history = state.monitor_history
    assert history is not None and window._pages["monitor"] is None  # sampling, page not built

    qtbot.waitUntil(lambda: len(history.snapshots) >= 2, timeout=10_000)
    before = [s.wall_time for s in history.snapshots]

    window.show_page("monitor")
    page = window.page("monitor")
    assert page.history is history
    times, _ = page.buffers["cpu/percent"].arrays()
    assert list(times[:len(before)]) == before  # the samples from before the page existed
    # ... and it follows the same stream afterwards, without a second sampler.
    with qtbot.waitSignal(page.sampled, timeout=5000):
        pass
    assert len(page.buffers["cpu/percent"]) > len(before)
    history.background.stop()
    history.background.wait()
