"""torch's own view of CUDA memory, for workers that train on a GPU.

Workers only: importing this module is harmless, but calling
torch_cuda_memory() imports torch, and the GUI must never do that on the UI
thread nor touch CUDA at all (its GPU facts come from NVML).
"""
from __future__ import annotations

from typing import Any

MIB = 1024 * 1024


def torch_cuda_memory(device: Any, gpu_index: int | None = None) -> list[tuple[str, float]]:
    """[(key, MB)] for torch.cuda memory_allocated, max_memory_allocated and
    memory_reserved on `device` ("cuda:0", torch.device, int); [] when the
    device is not CUDA or CUDA is unavailable.

    Keys are gpu{i}/torch_allocated_mb, gpu{i}/torch_max_allocated_mb,
    gpu{i}/torch_reserved_mb with i = gpu_index when given, else torch's
    device index. Pass the NVML index when CUDA_VISIBLE_DEVICES renumbers
    devices, so torch's figures line up with the gpu{i}/mem_used_mb of the
    same card (match them with GpuInfo.uuid and
    torch.cuda.get_device_properties(i).uuid).
    """
    import torch

    if isinstance(device, int):
        device = torch.device("cuda", device)
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return []
    index = device.index if device.index is not None else torch.cuda.current_device()
    i = index if gpu_index is None else gpu_index
    return [
        (f"gpu{i}/torch_allocated_mb", torch.cuda.memory_allocated(index) / MIB),
        (f"gpu{i}/torch_max_allocated_mb", torch.cuda.max_memory_allocated(index) / MIB),
        (f"gpu{i}/torch_reserved_mb", torch.cuda.memory_reserved(index) / MIB),
    ]
