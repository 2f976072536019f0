"""A run's status, and the groups of statuses every part of LayerDeck asks about.

The values are the strings stored in `runs.status` (docs/ARCHITECTURE.md,
"The store"); a `RunStatus` compares and hashes equal to its string, so rows,
events and JSON carry plain strings and code compares against the enum.

    RunStatus.RUNNING == "running"          # True
    status in ACTIVE                        # queued, running or paused: not ended
    status in LIVE                          # running or paused: a worker process holds it
    status in TERMINAL                      # completed, stopped, failed, crashed: final
"""
from __future__ import annotations

from enum import Enum


class RunStatus(str, Enum):
    QUEUED = "queued"  # the row exists; no worker has taken it yet
    RUNNING = "running"
    PAUSED = "paused"  # a worker holds it, between two batches
    COMPLETED = "completed"
    STOPPED = "stopped"  # asked to stop (a `last` checkpoint), or never started
    FAILED = "failed"  # the run itself could not go on (bad spec, NaN loss): resuming would fail again
    CRASHED = "crashed"  # its worker died without writing its end (kill -9, OOM killer, segfault)
    PRUNED = "pruned"  # a sweep's pruner stopped it early (a `last` checkpoint kept); not a failure

    def __str__(self) -> str:
        return self.value


STATUSES: tuple[RunStatus, ...] = tuple(RunStatus)
# A worker process holds the run (it writes these itself).
LIVE: frozenset[RunStatus] = frozenset({RunStatus.RUNNING, RunStatus.PAUSED})
# Not ended: queued or live. A run in one of these has an owner somewhere.
ACTIVE: frozenset[RunStatus] = frozenset({RunStatus.QUEUED, *LIVE})
# Final: nothing changes a run's status once it is one of these.
TERMINAL: frozenset[RunStatus] = frozenset(set(RunStatus) - ACTIVE)
# Ended but worth continuing from the last checkpoint (`layerdeck train --resume`);
# a failed run would fail again the same way.
RESUMABLE: frozenset[RunStatus] = frozenset({RunStatus.STOPPED, RunStatus.CRASHED})


def ordered(statuses: frozenset[RunStatus]) -> list[str]:
    """The statuses as plain strings in lifecycle order (for SQL `IN` and messages)."""
    return [s.value for s in RunStatus if s in statuses]
