"""Pause, resume and stop a sweep as a whole, from anywhere that reaches the store.

A request is the sweep row's status: its supervisor reads the row several
times a second and applies it to the sweep's live trials (pausing pauses
them and launches no new ones; stopping stops them with a checkpoint). A
sweep whose supervisor is gone can still be stopped (the row says so at
once); pausing or resuming it needs a supervisor: `layerdeck sweep --resume ID`.
"""
from __future__ import annotations

import os
import socket
from datetime import timedelta, timezone
from typing import Literal

import psutil

from engine.store import RunStore
from engine.store.convert import utcnow
from engine.store.entities import Sweep

STALE_S = 30.0  # a supervisor on another host with no heartbeat for this long is gone
SweepAction = Literal["pause", "resume", "stop"]


class SweepBusyError(ValueError):
    """The sweep cannot be taken over (finished, or its supervisor is alive); the message says why."""


def supervisor_alive(sweep: Sweep) -> bool:
    """A supervisor holds the sweep: its heartbeat (every couple of seconds,
    in `layerdeck sweep` or in the app) is recent and, on this host, its pid
    still lives. A killed supervisor on this host is seen gone at once; one on
    another host after STALE_S without a heartbeat."""
    if sweep.pid is None or sweep.heartbeat_at is None:
        return False
    if utcnow() - sweep.heartbeat_at.astimezone(timezone.utc).replace(tzinfo=None) >= timedelta(seconds=STALE_S):
        return False
    return sweep.host != socket.gethostname() or psutil.pid_exists(sweep.pid)


def check_no_live_supervisor(store: RunStore, sweep_id: int) -> None:
    """Refuse to run a sweep that is completed, or that another supervisor holds."""
    sweep = store.get_sweep(sweep_id)
    if sweep.status == "completed":
        raise SweepBusyError(f"sweep {sweep_id} is completed; every trial has run (see layerdeck sweeps show "
                             f"{sweep_id})")
    if sweep.pid != os.getpid() and supervisor_alive(sweep):
        raise SweepBusyError(f"sweep {sweep_id} is being run by process {sweep.pid} on {sweep.host}; "
                             f"stop it (layerdeck sweeps stop {sweep_id}) before running it here")


def request(store: RunStore, sweep_id: int, action: SweepAction) -> str:
    """Ask the sweep's supervisor to pause, resume or stop; returns what was
    done, in words. ValueError (with the fix) when the request cannot apply."""
    sweep = store.get_sweep(sweep_id)
    alive = supervisor_alive(sweep)
    if sweep.status in ("completed", "failed") or (sweep.status == "stopped" and action != "resume"):
        raise ValueError(f"sweep {sweep_id} has ended ({sweep.status}); nothing to {action}")
    if action == "stop":
        store.update_sweep(sweep_id, status="stopped")
        return (f"sweep {sweep_id}: stop requested; its live trials stop with a checkpoint" if alive
                else f"sweep {sweep_id} stopped (no supervisor was running it)")
    if not alive:
        raise ValueError(f"no supervisor is running sweep {sweep_id}; continue it with "
                         f"`layerdeck sweep --resume {sweep_id}`")
    if action == "pause":
        if sweep.status == "paused":
            return f"sweep {sweep_id} is already paused"
        store.update_sweep(sweep_id, status="paused")
        return f"sweep {sweep_id}: pause requested; its live trials pause and no new trial starts"
    if sweep.status != "paused":
        return f"sweep {sweep_id} is not paused ({sweep.status})"
    store.update_sweep(sweep_id, status="running")
    return f"sweep {sweep_id}: resumed"
