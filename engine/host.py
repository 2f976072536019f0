"""This machine's CPU cores as runs may use them (a light module: the app
asks it without importing the worker)."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on: a container or taskset may give us fewer than the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on macOS and Windows
        return os.cpu_count() or 1
