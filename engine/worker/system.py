"""System samples recorded while the run trains."""
from __future__ import annotations

import os
import time
from typing import Optional

from engine.protocol import Heartbeat, System
from engine.worker.sender import EventSender
from engine.worker.store_writer import StoreWriter

SAMPLE_INTERVAL_S = 1.0
AGGREGATE_PERIOD_S = 5.0  # a day-long run writes ~17k system rows per key instead of 86k
HEARTBEAT_INTERVAL_S = 2.0


class SystemRecorder:
    """System samples every second: raw to the live stream, 5 s means to the
    store (engine.monitor.Aggregator), plus a heartbeat event every few seconds.

    A data-parallel run's ranks above 0 have no stream (`sender` None) and
    store their samples under their own keys (`prefix` "rank1/", ...)."""

    def __init__(self, run_id: int, writer: StoreWriter, sender: Optional[EventSender], prefix: str = ""):
        from engine.monitor import Aggregator, SamplerThread, SystemSampler

        self.run_id, self.writer, self.sender, self.prefix = run_id, writer, sender, prefix
        self.device: Optional[str] = None  # set once training has picked it
        self._agg = Aggregator(period=AGGREGATE_PERIOD_S)
        self._last_beat = 0.0
        self._thread = SamplerThread(SystemSampler(pids=[os.getpid()]), interval=SAMPLE_INTERVAL_S,
                                     on_samples=self._on_samples, name="system-sampler")

    def start(self) -> None:
        self._thread.start()

    def _on_samples(self, samples: list[tuple[str, float]]) -> None:
        if self.device and self.device.startswith("cuda"):
            from engine.monitor import torch_cuda_memory

            samples = samples + torch_cuda_memory(self.device)
        now = time.time()
        if self.prefix:
            samples = [(self.prefix + k, v) for k, v in samples]
        self.writer.add_system([(p.key, p.wall_time, p.value) for p in self._agg.add(samples, now)])
        if self.sender is None:
            return
        self.sender.send(System(self.run_id, [(k, now, float(v)) for k, v in samples]))
        if now - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self._last_beat = now
            self.sender.send(Heartbeat(self.run_id))

    def stop(self) -> None:
        self._thread.stop()
        self.writer.add_system([(p.key, p.wall_time, p.value) for p in self._agg.flush()])
        self._thread.sampler.close()
