"""Where a run trains and at what precision.

GPU-only paths are short and guarded by `torch.cuda.is_available()` (this
machine has no GPU: the CPU paths are the tested ones).
"""
from __future__ import annotations

import contextlib
import random
from typing import Any, ContextManager, cast

import numpy as np
import torch

from engine.training.errors import TrainingError

# Share of free device memory the resident dataset may take: the rest is for
# the model, activations, gradients and optimizer state.
RESIDENT_FRACTION = 0.25


def resolve_device(requested: str) -> torch.device:
    """"auto" -> cuda, then mps, then cpu; "cuda" / "cuda:N" / "mps" / "cpu" as asked."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "mps":
        if not _mps_available():
            raise TrainingError("training.device is mps but this machine has no usable Apple GPU"
                                " — set it to auto or cpu")
        return torch.device("mps")
    if requested == "cuda" or requested.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise TrainingError(f"training.device is {requested} but no CUDA GPU is available — set it to auto or cpu")
        index = int(requested[5:]) if requested.startswith("cuda:") else torch.cuda.current_device()
        count = torch.cuda.device_count()
        if index >= count:
            raise TrainingError(f"training.device is {requested} but this machine has {count} GPU(s) "
                                f"(cuda:0 to cuda:{count - 1}) — pick one of those")
        return torch.device("cuda", index)
    raise TrainingError(f"training.device {requested!r} is not a device — use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def configure_backends(device: torch.device) -> None:
    """TF32 matmuls and cuDNN autotuning: free speed on NVIDIA GPUs, no effect elsewhere."""
    if device.type == "cuda" and torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        torch.cuda.set_device(device)


def autocast(device: torch.device, precision: str) -> ContextManager[Any]:
    """The forward-pass context for a precision (fp32: nothing)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """fp16 gradients underflow without loss scaling; bf16 and fp32 need none
    (a disabled scaler is a no-op, so the loop has one code path)."""
    return torch.amp.GradScaler(device.type, enabled=(precision == "fp16"))


def check_precision(device: torch.device, precision: str) -> str | None:
    """Refuse a precision the device cannot run; return a warning for one it runs slowly."""
    if precision == "bf16" and device.type == "cuda" and torch.cuda.is_available():
        if not torch.cuda.is_bf16_supported():
            raise TrainingError(f"training.precision bf16 is not supported by {torch.cuda.get_device_name(device)}"
                                " — use fp16 or fp32")
    if precision != "fp32" and device.type == "cpu":
        return f"training.precision {precision} on the CPU is emulated and usually slower than fp32"
    return None


def free_memory_bytes(device: torch.device) -> int | None:
    """Free memory on the device, or None when it cannot be known (then the
    data is kept resident: on the CPU it is in RAM already)."""
    if device.type == "cuda" and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return None


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    free = free_memory_bytes(device)
    return free is None or nbytes <= RESIDENT_FRACTION * free


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError)


def release_cached_memory(device: torch.device) -> None:
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so wall-clock timings mean something."""
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


# --- seeding and RNG state ------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too


def rng_state() -> dict[str, Any]:
    """Every global generator's state as tensors and plain numbers, so a
    checkpoint loads with torch.load(weights_only=True)."""
    version, mt, gauss = random.getstate()
    # The legacy (default) form is always this tuple; numpy's stub also allows the dict form.
    np_state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state())
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np_state
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": np_kind, "keys": torch.from_numpy(np_keys.astype(np.int64)),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "torch": torch.get_rng_state(),
        "cuda": [],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npst = state["numpy"]
    # .cpu(): a checkpoint loaded with map_location=cuda puts these tensors on the GPU.
    np.random.set_state((npst["kind"], npst["keys"].cpu().numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
