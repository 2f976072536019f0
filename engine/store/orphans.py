"""Is the worker of a running/paused run still there? (A run row
never stays `running` after its process is gone.)

A pid on this machine is checked with psutil and is the authority: alive
means the run is not orphaned, however quiet it has been (a paused worker
writes nothing). A pid on another machine (a shared PostgreSQL store), or no
pid at all, falls back to the heartbeat.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Optional

import psutil

# A worker refreshes its heartbeat with every metric batch (about once a
# second) and while paused; five silent minutes means it is gone.
STALE_AFTER_S = 300.0
# A process created this long after the run started cannot be its worker:
# the pid was reused (after a reboot, typically).
PID_REUSE_SLACK_S = 60.0


def pid_alive(pid: int, started_at: Optional[datetime] = None) -> bool:
    """True when `pid` runs, is not a zombie, and is not a newer process that reused the pid."""
    if pid == os.getpid():
        return True
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if started_at is not None:
            started = started_at.replace(tzinfo=timezone.utc).timestamp()
            if proc.create_time() > started + PID_REUSE_SLACK_S:
                return False
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's live process; it exists
    return True


def orphan_reason(pid: Optional[int], host: Optional[str], started_at: Optional[datetime],
                  heartbeat_at: Optional[datetime], now: datetime, this_host: str
                  ) -> Optional[str]:
    """Why the run's worker is gone, or None when it may still be running.
    Datetimes are naive UTC, as stored."""
    if pid is not None and (host is None or host == this_host):
        if pid_alive(pid, started_at):
            return None
        return (f"the worker process (pid {pid}) is gone: it ended without recording "
                f"how (killed, or the machine restarted)")
    last_sign = heartbeat_at or started_at
    if last_sign is None:
        return None
    silent = (now - last_sign).total_seconds()
    if silent > STALE_AFTER_S:
        where = f" on {host}" if host else ""
        return (f"no heartbeat from the worker{where} for {silent / 60:.0f} min "
                f"(since {last_sign:%Y-%m-%d %H:%M:%S} UTC): presumed dead")
    return None
