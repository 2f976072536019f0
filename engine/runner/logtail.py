"""The last lines of a worker's log file, for the error of a run that crashed.

The worker writes its stderr straight into the file (the supervisor opens it
and hands it over as the child's stderr), so a worker outlives the app that
started it without a pipe to break. The supervisor reads the end of the
file only when it has to explain a crash.
"""
from __future__ import annotations

import os
from pathlib import Path

TAIL_BYTES = 64 * 1024  # far more than 20 lines of traceback; a runaway printer costs one read


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def tail_lines(path: Path, count: int, start: int = 0) -> list[str]:
    """Up to `count` last lines of `path`, reading only what was written from
    byte `start` on (this worker's part of a log that earlier attempts share)."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            begin = max(start, end - TAIL_BYTES)
            f.seek(begin)
            data = f.read(end - begin)
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if begin > start and lines:
        lines = lines[1:]  # cut mid-line
    return [line.rstrip() for line in lines if line.strip()][-count:]
