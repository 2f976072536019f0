"""Live plots side by side never redraw in the same frame: the UI thread's
longest stalls were four plots repainting their moved axes at once."""
from __future__ import annotations

from types import SimpleNamespace

from app.widgets import live_plot
from app.widgets.live_plot import FRAME_GAP_S, LivePlot, SeriesBuffer


class Clock:
    """time.monotonic for the plots, moved only by the test: the frame gap is
    decided by the clock, never by how busy the machine is between two calls."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_second_plot_waits_for_the_next_frame_then_catches_up(qtbot, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(live_plot, "time", SimpleNamespace(monotonic=clock))
    monkeypatch.setattr(LivePlot, "_last_redraw_at", 0.0)  # whatever plots of other tests drew
    plots = [LivePlot(title, [("train/loss", "#1f77b4")]) for title in ("Loss", "Accuracy")]
    for p in plots:
        qtbot.addWidget(p)
        p.stop()  # the test drives redraws itself
        p.show()
        clock.now += FRAME_GAP_S * 2
        buf = SeriesBuffer()
        buf.extend([1, 2, 3], [0.9, 0.5, 0.3])
        p.set_buffers({"train/loss": buf})  # draws now: the other plot drew a frame ago
        assert p.curves["train/loss"].xData.tolist() == [1, 2, 3]
    clock.now += FRAME_GAP_S * 2
    for p in plots:
        p._buffers["train/loss"].extend([4], [0.2])
    before = [p.redraws for p in plots]
    plots[0].redraw()
    plots[1].redraw()  # in the same frame as the first: deferred
    assert [p.redraws - b for p, b in zip(plots, before)] == [1, 0]
    assert plots[1].curves["train/loss"].xData.tolist() == [1, 2, 3]
    clock.now += FRAME_GAP_S / 2
    plots[1].redraw()  # still within the first one's frame
    assert plots[1].redraws - before[1] == 0
    clock.now += FRAME_GAP_S
    plots[1].redraw()
    assert plots[1].redraws - before[1] == 1
    assert plots[1].curves["train/loss"].xData.tolist() == [1, 2, 3, 4]
