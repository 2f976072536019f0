"""A stand-in for the `pynvml` module: two (or any) simulated GPUs whose
figures move from one sample to the next.

Used by tests (inject with `SystemSampler(nvml=FakeNvml())` or
`sys.modules["pynvml"] = FakeNvml()`) and by the demo screenshots, on
machines without an NVIDIA GPU. It answers the calls engine.monitor makes,
counts them, and can be told to answer NotSupported or to fail mid-run.
"""
from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace
from typing import Iterable

MIB = 1024 * 1024

_ERROR_TEXT = {3: "Not Supported", 9: "Driver Not Loaded", 12: "NVML Shared Library Not Found",
               15: "GPU is lost", 999: "Unknown Error"}


class NVMLError(Exception):
    """Like pynvml.NVMLError: `value` is the NVML return code."""

    def __init__(self, value: int = 999):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _ERROR_TEXT.get(self.value, f"NVML Error with code {self.value}")


class NVMLError_NotSupported(NVMLError):  # noqa: N801 - pynvml's name
    def __init__(self, value: int = 3):
        super().__init__(3)


# (name, memory in MiB, power limit in W): a data-centre card and a desktop one.
DEMO_GPUS = (("NVIDIA H100 80GB HBM3", 81559, 700.0), ("NVIDIA GeForce RTX 4090", 24564, 450.0))


class FakeNvml:
    """Simulated NVML. Every nvmlDeviceGetUtilizationRates call on a GPU
    advances that GPU's clock, so successive samples differ.

    gpus: (name, memory MiB, power limit W) per GPU.
    not_supported: names of nvml functions that answer NotSupported.
    init_error: NVML code nvmlInit raises (12: no library, 9: no driver).
    processes: GPU index -> [(pid, MiB)] for the process lists.
    """

    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported

    def __init__(self, gpus: Iterable[tuple[str, float, float]] = DEMO_GPUS, *,
                 not_supported: Iterable[str] = (), init_error: int | None = None,
                 processes: dict[int, list[tuple[int, float]]] | None = None):
        self.specs = list(gpus)
        self.not_supported = set(not_supported)
        self.init_error = init_error
        self.processes = processes or {}
        self.calls: Counter[str] = Counter()
        self.ticks = [0] * len(self.specs)
        self.failure: int | None = None  # set by fail(): every later call raises
        self.initialised = False

    def fail(self, code: int = 15) -> None:
        """From now on every call raises NVMLError(code) (15: the GPU is lost)."""
        self.failure = code

    # plumbing ----------------------------------------------------------------
    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.failure is not None:
            raise NVMLError(self.failure)
        if name in self.not_supported:
            raise NVMLError_NotSupported()

    def _wave(self, i: int, period: float, phase: float = 0.0) -> float:
        """0..1, moving with GPU i's clock."""
        return 0.5 + 0.5 * math.sin(self.ticks[i] / period + phase + i)

    # the pynvml calls engine.monitor makes -------------------------------------
    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        self.calls["nvmlInit"] += 1
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.calls["nvmlShutdown"] += 1
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self._call("nvmlDeviceGetCount")
        return len(self.specs)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:  # noqa: N802
        self._call("nvmlDeviceGetHandleByIndex")
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:  # noqa: N802
        self._call("nvmlDeviceGetName")
        return self.specs[h][0].encode()  # older bindings answer bytes

    def nvmlDeviceGetUUID(self, h: int) -> str:  # noqa: N802
        self._call("nvmlDeviceGetUUID")
        return f"GPU-00000000-0000-0000-0000-00000000000{h}"

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:  # noqa: N802
        self._call("nvmlDeviceGetUtilizationRates")
        self.ticks[h] += 1
        return SimpleNamespace(gpu=round(15 + 80 * self._wave(h, 6.0)), memory=round(40 * self._wave(h, 9.0)))

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:  # noqa: N802
        self._call("nvmlDeviceGetMemoryInfo")
        total = self.specs[h][1] * MIB
        used = int(total * (0.2 + 0.5 * self._wave(h, 25.0, 1.0)))
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:  # noqa: N802
        self._call("nvmlDeviceGetTemperature")
        return round(45 + 30 * self._wave(h, 30.0, 2.0))

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:  # noqa: N802
        self._call("nvmlDeviceGetPowerUsage")
        limit = self.specs[h][2]
        return round(1000 * limit * (0.15 + 0.75 * self._wave(h, 6.0)))  # mW, follows utilization

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:  # noqa: N802
        self._call("nvmlDeviceGetEnforcedPowerLimit")
        return round(1000 * self.specs[h][2])

    def nvmlDeviceGetClockInfo(self, h: int, kind: int) -> int:  # noqa: N802
        self._call("nvmlDeviceGetClockInfo")
        return round(1200 + 780 * self._wave(h, 6.0))

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[SimpleNamespace]:  # noqa: N802
        self._call("nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=pid, usedGpuMemory=int(mb * MIB)) for pid, mb in self.processes.get(h, [])]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: int) -> list[SimpleNamespace]:  # noqa: N802
        self._call("nvmlDeviceGetGraphicsRunningProcesses")
        return []
