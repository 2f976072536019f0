"""System monitoring: CPU and RAM (psutil), NVIDIA GPUs (NVML). No Qt.

    from engine.monitor import SystemSampler, Aggregator, SamplerThread

    sampler = SystemSampler(pids=[os.getpid()])   # nvml=FakeNvml() in tests
    sampler.gpus      # [GpuInfo(index, name, mem_total_mb, uuid)], [] without NVIDIA GPU
    sampler.message   # None, or e.g. "No NVIDIA GPU detected — showing CPU and memory"
    sampler.sample()  # [("cpu/percent", 41.0), ("ram/used_mb", 8123.0), ...]
    sampler.process_gpu_mem([pid])  # {pid: MB}, pid counted with its children
    sampler.process_rss([pid])      # {pid: MB}

A worker records its run's system metrics as 5 s means of 1 s samples:

    agg = Aggregator(period=5.0)
    thread = SamplerThread(sampler, interval=1.0,
                           on_samples=lambda s: write(agg.add(s)))  # -> [SystemPoint]
    thread.start(); ...; thread.stop(); write(agg.flush())

and, on CUDA, adds torch's own figures with torch_cuda_memory("cuda:0").

Keys (docs/ARCHITECTURE.md, "The store"): cpu/percent, ram/used_mb, ram/total_mb, proc/rss_mb,
proc/gpu_mem_mb, gpu{i}/util_percent, gpu{i}/mem_used_mb,
gpu{i}/mem_total_mb, gpu{i}/temp_c, gpu{i}/power_w, gpu{i}/power_limit_w,
gpu{i}/sm_clock_mhz; from torch: gpu{i}/torch_allocated_mb,
gpu{i}/torch_max_allocated_mb, gpu{i}/torch_reserved_mb. Memory in MiB.

Failure is never an exception: without nvidia-ml-py, a driver or a GPU,
`gpus` is empty and `message` says so; a metric that answers NotSupported
is not asked again; any other NVML error mid-run stops GPU sampling (one
message) while CPU and RAM go on. pynvml is imported only in
engine.monitor.nvml._load_nvml. The GUI gets GPU facts from here, never
from torch.cuda (that would initialise CUDA in the GUI process).
"""
from __future__ import annotations

from engine.monitor.aggregate import Aggregator, SystemPoint
from engine.monitor.nvml import NO_GPU_MESSAGE, GpuInfo
from engine.monitor.sampler import Sample, SamplerThread, SystemSampler
from engine.monitor.torch_memory import torch_cuda_memory

__all__ = [
    "Aggregator", "GpuInfo", "NO_GPU_MESSAGE", "Sample", "SamplerThread", "SystemPoint",
    "SystemSampler", "describe_gpus", "torch_cuda_memory",
]


def describe_gpus(gpus: list[GpuInfo]) -> str:
    """A status-bar phrase: "NVIDIA RTX 4090 · 24 GB", "2 GPUs: A100, RTX 4090", or "CPU only"."""
    if not gpus:
        return "CPU only"
    if len(gpus) == 1:
        return f"{gpus[0].name} · {gpus[0].mem_total_mb / 1024:.0f} GB"
    return f"{len(gpus)} GPUs: " + ", ".join(g.name for g in gpus)
