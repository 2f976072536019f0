"""GPU figures through NVML (nvidia-ml-py, import name `pynvml`).

`pynvml` is imported in one place, `_load_nvml()`, so tests and demos inject
a fake module (`sys.modules["pynvml"] = fake` or `NvmlGpus(nvml=fake)`).
NVML is initialised once and device handles are cached: nvmlInit costs
tens of milliseconds and each handle lookup takes the driver lock.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)

MIB = 1024 * 1024
NO_GPU_MESSAGE = "No NVIDIA GPU detected — showing CPU and memory"

# NVML return codes that mean "this GPU never answers this question": the
# metric is switched off for good instead of failing every second.
_NOT_SUPPORTED = 3
_NO_PERMISSION = 4
_FUNCTION_NOT_FOUND = 13
_METRIC_OFF_CODES = {_NOT_SUPPORTED, _NO_PERMISSION, _FUNCTION_NOT_FOUND}
# Return codes of nvmlInit that mean "no NVIDIA GPU or driver here".
_NO_GPU_CODES = {9, 12}  # DRIVER_NOT_LOADED, LIBRARY_NOT_FOUND


def _load_nvml() -> Any | None:
    """The NVML binding, or None when nvidia-ml-py is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


@dataclass(frozen=True)
class GpuInfo:
    """What stays fixed about one GPU while we watch it."""

    index: int  # NVML index (PCI bus order), the i in gpu{i}/... keys
    name: str
    mem_total_mb: float
    uuid: str = ""


def _text(value: Any) -> str:
    # Older bindings return bytes, newer ones str.
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _metric_readers(nvml: Any) -> dict[str, Callable[[Any], list[tuple[str, float]]]]:
    """One reader per NVML call: handle -> [(key suffix, value)]."""
    temp_sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
    sm_clock = getattr(nvml, "NVML_CLOCK_SM", 1)

    def util(h: Any) -> list[tuple[str, float]]:
        return [("util_percent", float(nvml.nvmlDeviceGetUtilizationRates(h).gpu))]

    def memory(h: Any) -> list[tuple[str, float]]:
        info = nvml.nvmlDeviceGetMemoryInfo(h)
        return [("mem_used_mb", info.used / MIB), ("mem_total_mb", info.total / MIB)]

    def temperature(h: Any) -> list[tuple[str, float]]:
        return [("temp_c", float(nvml.nvmlDeviceGetTemperature(h, temp_sensor)))]

    def power(h: Any) -> list[tuple[str, float]]:
        return [("power_w", nvml.nvmlDeviceGetPowerUsage(h) / 1000.0)]  # NVML answers in mW

    def power_limit(h: Any) -> list[tuple[str, float]]:
        return [("power_limit_w", nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0)]

    def clock(h: Any) -> list[tuple[str, float]]:
        return [("sm_clock_mhz", float(nvml.nvmlDeviceGetClockInfo(h, sm_clock)))]

    return {"utilization": util, "memory": memory, "temperature": temperature,
            "power": power, "power limit": power_limit, "SM clock": clock}


class NvmlGpus:
    """All NVIDIA GPUs of this machine, sampled through one NVML session.

    Never raises after construction: no GPU, no driver or an NVML error
    leaves `gpus` empty or stops sampling, and `message` says so in words.
    """

    def __init__(self, nvml: Any | None = None, *, proc_interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self._nvml = nvml if nvml is not None else _load_nvml()
        self._proc_interval = proc_interval
        self._clock = clock
        self._handles: list[Any] = []
        self.gpus: list[GpuInfo] = []
        self.message: str | None = None
        self.active = False
        self._off: set[tuple[int, str]] = set()  # (gpu index, reader) that answered NotSupported
        self._procs_off = False
        self._procs: dict[int, float] = {}  # pid -> MB over all GPUs, from the last process list
        self._procs_at: float | None = None
        self._readers = _metric_readers(self._nvml) if self._nvml is not None else {}
        self._start()

    # set-up ----------------------------------------------------------------
    def _start(self) -> None:
        nvml = self._nvml
        if nvml is None:
            log.info("nvidia-ml-py is not installed; GPU monitoring is off")
            self.message = NO_GPU_MESSAGE
            return
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code in _NO_GPU_CODES:
                self.message = NO_GPU_MESSAGE
            else:
                self.message = f"GPU monitoring unavailable (NVML: {exc}) — showing CPU and memory"
            log.info("NVML did not start: %s", exc)
            return
        except OSError as exc:  # a broken driver install can fail while loading the library
            self.message = NO_GPU_MESSAGE
            log.info("NVML did not start: %s", exc)
            return
        try:
            for i in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                try:
                    uuid = _text(nvml.nvmlDeviceGetUUID(handle))
                except nvml.NVMLError:
                    uuid = ""
                self._handles.append(handle)
                self.gpus.append(GpuInfo(i, _text(nvml.nvmlDeviceGetName(handle)), mem.total / MIB, uuid))
        except nvml.NVMLError as exc:
            self.disable(exc, "while listing GPUs")
            self.gpus, self._handles = [], []
            return
        if not self.gpus:
            self.message = NO_GPU_MESSAGE
            self._shutdown()
            return
        self.active = True

    def disable(self, exc: Exception, when: str) -> None:
        """Stop GPU sampling for good after an unexpected NVML error; say so once."""
        self.active = False
        self.message = f"GPU monitoring stopped: NVML error {when} ({exc}) — showing CPU and memory"
        log.warning(self.message)
        self._shutdown()

    def _shutdown(self) -> None:
        if self._nvml is None:
            return
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down a failed session must not raise
            pass

    def close(self) -> None:
        if self.active:
            self.active = False
            self._shutdown()

    # sampling --------------------------------------------------------------
    def _off_code(self, exc: Exception) -> bool:
        return getattr(exc, "value", None) in _METRIC_OFF_CODES

    def sample(self) -> list[tuple[str, float]]:
        """gpu{i}/... figures of every GPU; [] once GPU sampling is off."""
        if not self.active:
            return []
        nvml = self._nvml
        assert nvml is not None  # active only once the binding has loaded
        out: list[tuple[str, float]] = []
        for gpu, handle in zip(self.gpus, self._handles):
            for name, read in self._readers.items():
                if (gpu.index, name) in self._off:
                    continue
                try:
                    pairs = read(handle)
                except nvml.NVMLError as exc:
                    if self._off_code(exc):
                        self._off.add((gpu.index, name))
                        log.info("GPU %d does not report %s (%s); not asking again", gpu.index, name, exc)
                        continue
                    self.disable(exc, f"reading {name} of GPU {gpu.index}")
                    return []
                out.extend((f"gpu{gpu.index}/{suffix}", value) for suffix, value in pairs)
        return out

    def process_memory(self) -> dict[int, float] | None:
        """GPU memory in MB per pid (summed over GPUs), from a process list at
        most `proc_interval` seconds old: listing takes milliseconds and the
        driver lock, so it is not done every second. None: unknown here."""
        if not self.active or self._procs_off:
            return None
        now = self._clock()
        if self._procs_at is not None and now - self._procs_at < self._proc_interval:
            return self._procs
        nvml = self._nvml
        assert nvml is not None  # active only once the binding has loaded
        procs: dict[int, float] = {}
        try:
            for handle in self._handles:
                listed = list(nvml.nvmlDeviceGetComputeRunningProcesses(handle))
                listed += list(nvml.nvmlDeviceGetGraphicsRunningProcesses(handle))
                seen: set[int] = set()  # a process listed as compute and graphics counts once per GPU
                for p in listed:
                    used = getattr(p, "usedGpuMemory", None)
                    if p.pid in seen or used is None:  # None: the driver cannot tell (WDDM, MIG)
                        continue
                    seen.add(p.pid)
                    procs[p.pid] = procs.get(p.pid, 0.0) + used / MIB
        except nvml.NVMLError as exc:
            if self._off_code(exc):
                self._procs_off = True
                log.info("GPU process lists are not available (%s); not asking again", exc)
                return None
            self.disable(exc, "listing GPU processes")
            return None
        self._procs, self._procs_at = procs, now
        return procs
