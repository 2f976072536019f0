"""The Train page's compact GPU/CPU strip: fed sample dicts, or sampling by
itself with a fake NVML (two GPUs)."""
from __future__ import annotations

import sys

from app.widgets.system_strip import SystemStrip
from engine.monitor import SystemSampler
from engine.monitor.fake_nvml import FakeNvml


def test_one_line_per_gpu_with_bar_and_memory_and_a_cpu_line(qtbot):
    strip = SystemStrip()
    qtbot.addWidget(strip)
    strip.update_samples({"gpu0/util_percent": 87.0, "gpu0/mem_used_mb": 3174.4, "gpu0/mem_total_mb": 24564.0,
                          "gpu1/util_percent": 3.0, "gpu1/mem_used_mb": 512.0, "gpu1/mem_total_mb": 81559.0,
                          "cpu/percent": 41.2, "ram/used_mb": 8090.0, "ram/total_mb": 32000.0})
    assert strip.lines() == ["GPU 0 87 % mem 3.1 / 24.0 GB", "GPU 1 3 % mem 0.5 / 79.6 GB",
                             "CPU 41 % RAM 7.9 / 31.2 GB"]
    assert strip.gpu_rows[0].bar.value() == 87 and strip.cpu_row.bar.value() == 41


def test_gpu_lines_go_away_when_gpu_figures_stop(qtbot):
    strip = SystemStrip()
    qtbot.addWidget(strip)
    strip.update_samples({"gpu0/util_percent": 50.0, "cpu/percent": 10.0})
    strip.update_samples({"cpu/percent": 12.0, "ram/used_mb": 1024.0})
    assert strip.lines() == ["CPU 12 % RAM 1.0 GB"]


def test_from_sampler_samples_on_its_own_and_names_the_gpus(qtbot):
    strip = SystemStrip.from_sampler(SystemSampler(nvml=FakeNvml()), interval_ms=40)
    qtbot.addWidget(strip)
    qtbot.waitUntil(lambda: len(strip.gpu_rows) == 2 and strip.cpu_row.percent.text() != "—", timeout=5000)
    assert strip.gpu_rows[1].name.toolTip() == "NVIDIA GeForce RTX 4090"
    assert strip.lines()[0].startswith("GPU 0 ") and "/ 79.6 GB" in strip.lines()[0]
    strip.stop()
    assert not strip.collector.active


def test_from_sampler_without_gpu_shows_cpu_only(qtbot, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    strip = SystemStrip.from_sampler(interval_ms=40)
    qtbot.addWidget(strip)
    qtbot.waitUntil(lambda: strip.cpu_row.percent.text() != "—", timeout=5000)
    assert strip.gpu_rows == {} and strip.lines()[0].startswith("CPU ")
