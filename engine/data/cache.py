"""Caches: loaded datasets in memory (a second load is a copy, not a
re-read), and generated arrays on disk in the user cache dir (mnist1d takes
seconds to generate; a later process reads it back in milliseconds)."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Optional

import numpy as np

from engine.data.dataset import Dataset

MAX_ENTRIES = 8  # a GUI flips between a handful of datasets; keep them all warm


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


_lock = threading.Lock()  # the GUI loads from a worker thread while the page asks for info
_memory: "OrderedDict[Hashable, Dataset]" = OrderedDict()
stats = CacheStats()


def cached(key: Hashable, load: Callable[[], Dataset], copy: bool = True) -> Dataset:
    """The cached Dataset for key, loading it on a miss. Callers get a copy
    unless they promise not to touch the arrays (copy=False: info lookups)."""
    with _lock:
        hit = _memory.get(key)
        if hit is not None:
            _memory.move_to_end(key)
            stats.hits += 1
            return hit.copy() if copy else hit
        stats.misses += 1
    ds = load()
    with _lock:
        _memory[key] = ds
        _memory.move_to_end(key)
        while len(_memory) > MAX_ENTRIES:
            _memory.popitem(last=False)
    return ds.copy() if copy else ds


def clear_memory() -> None:
    with _lock:
        _memory.clear()
        stats.hits = stats.misses = 0


def cache_dir() -> Path:
    """Read at call time so a changed XDG_CACHE_HOME (tests) is honoured."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("layerdeck"))


def key_digest(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def read_arrays(name: str) -> Optional[dict[str, np.ndarray]]:
    """Arrays stored by write_arrays, or None when absent or unreadable
    (a damaged cache file is regenerated, never an error for the user)."""
    path = cache_dir() / name
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError):
        return None


def write_arrays(name: str, arrays: dict[str, np.ndarray]) -> None:
    """Atomic write; a read-only or full cache dir only costs speed."""
    path = cache_dir() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            # numpy's stub reads **arrays as possibly holding its allow_pickle flag.
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except OSError:
        pass
