"""Live plots side by side never redraw in the same frame: the UI thread's
longest stalls were four plots repainting their moved axes at once."""
from __future__ import annotations

import time

from app.widgets.live_plot import FRAME_GAP_S, LivePlot, SeriesBuffer


def test_a_second_plot_waits_for_the_next_frame_then_catches_up(qtbot):
    plots = [LivePlot(title, [("train/loss", "#1f77b4")]) for title in ("Loss", "Accuracy")]
    for p in plots:
        qtbot.addWidget(p)
        p.show()
        buf = SeriesBuffer()
        buf.extend([1, 2, 3], [0.9, 0.5, 0.3])
        p.set_buffers({"train/loss": buf})  # draws now, whatever the other did
        p.stop()  # the test drives redraws itself
    time.sleep(FRAME_GAP_S * 2)
    for p in plots:
        p._buffers["train/loss"].extend([4], [0.2])
    before = [p.redraws for p in plots]
    plots[0].redraw()
    plots[1].redraw()  # a moment after the first: deferred
    assert [p.redraws - b for p, b in zip(plots, before)] == [1, 0]
    time.sleep(FRAME_GAP_S * 2)
    plots[1].redraw()
    assert plots[1].redraws - before[1] == 1
    assert plots[1].curves["train/loss"].xData.tolist() == [1, 2, 3, 4]
