"""app.background: results and errors on the UI thread, latest wins, no delivery to the dead."""
from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread

from app.background import Background, describe_error


def test_result_arrives_on_the_ui_thread(qtbot):
    bg = Background()
    got: list[tuple[int, bool]] = []
    bg.submit(lambda: 6 * 7, lambda r: got.append((r, QThread.currentThread() is bg.thread())))
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    assert got == [(42, True)] and not bg.pending()


def test_an_error_arrives_as_words_and_a_traceback(qtbot):
    bg = Background()
    errors: list[tuple[str, str]] = []

    def broken() -> None:
        raise ValueError("no such run\nsecond line")

    bg.submit(broken, lambda r: None, lambda message, trace: errors.append((message, trace)))
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    message, trace = errors[0]
    assert message == "no such run" and "Traceback" in trace and "broken" in trace


def test_latest_only_drops_the_waiting_and_the_stale(qtbot):
    bg = Background(latest_only=True)
    started, gate = threading.Event(), threading.Event()
    ran: list[int] = []
    got: list[int] = []

    def job(n: int) -> int:
        if n == 0:
            started.set()
            gate.wait(5)
        ran.append(n)
        return n

    bg.submit(lambda: job(0), got.append)
    assert started.wait(5)
    for n in (1, 2, 3):  # 0 runs (held at the gate); 1 and 2 are replaced before they start
        bg.submit(lambda n=n: job(n), got.append)
    gate.set()
    qtbot.waitUntil(lambda: not bg.pending(), timeout=5000)
    assert ran == [0, 3] and got == [3]  # 0 finished, but a newer request existed


def test_wait_blocks_until_idle_and_times_out():
    bg = Background()
    gate = threading.Event()
    bg.submit(lambda: gate.wait(5))
    assert not bg.wait(50)
    gate.set()
    assert bg.wait(5000)


def test_nothing_is_delivered_to_a_deleted_owner(qtbot):
    page = QObject()
    bg = Background(page)
    gate = threading.Event()
    got: list[object] = []
    bg.submit(lambda: gate.wait(5), got.append)
    bg.submit(lambda: "queued", got.append)
    page.deleteLater()
    qtbot.waitUntil(lambda: not _valid(bg), timeout=5000)
    gate.set()
    assert bg.wait(5000)  # both jobs ran and emitted: their deliveries are queued, if any
    QCoreApplication.sendPostedEvents()
    assert got == []


def test_describe_error_uses_the_first_line_or_the_type():
    assert describe_error(RuntimeError("disk full\ndetails")) == "disk full"
    assert describe_error(KeyError()) == "KeyError"


def _valid(obj: QObject) -> bool:
    from shiboken6 import isValid
    return isValid(obj)
