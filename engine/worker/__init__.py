"""`python -m engine.worker --run-id N --db URL`: one run, one process.

The worker owns its run's rows (docs/ARCHITECTURE.md): it reads the spec
from the `queued` row, sets running/paused/completed/stopped/failed, writes
metrics, system samples and checkpoint records, and streams the same facts
as typed events (engine.protocol) on the original stdout.

Commands reach it on three channels, whichever the sender can use, and do
the same thing on each (`LiveCommands`): JSON lines on stdin from the
supervisor that started it; signals from a process on this machine (SIGTERM
and SIGINT stop gracefully, SIGUSR1 pauses, SIGUSR2 resumes; POSIX only);
and rows in the store's `run_commands` table, polled twice a second, from
anyone who can reach the store. The store channel is the only one a remote
worker has (`--no-stdin`). engine.runner picks the channel for a command.

stdin closing means the supervisor is gone and the run stops gracefully
with a checkpoint, unless the supervisor detached first (the app closed
with "keep training"): then the event stream is closed and the run trains
on with nobody listening, writing its rows as always; a Runner that opens
the store later adopts it. Its stderr is a file the supervisor opened for
it (the run's log), not a pipe, so it never depends on the supervisor.

The training thread never blocks on the pipe or the database: events go
through `EventSender` and rows through `StoreWriter`, each a thread with its
own buffer.

Where each part lives:
    main.py         entry point: argument parsing, the stdout claim, train_run
    commands.py     command intake: stdin (CommandReader), signals (SignalRelay),
                    the store channel (StorePoller), all applied by LiveCommands
    sender.py       the event sender thread (coalescing, never blocking training)
    store_writer.py the store writer thread (batched rows, about once a second)
    system.py       system samples and heartbeats
    state.py        the run's status as this process writes it
    callback.py     the training loop's facts -> writer and sender
"""
from __future__ import annotations

from engine.worker.commands import CommandReader, LiveCommands, SignalRelay, StorePoller
from engine.worker.main import claim_stdout, main, parse_args, run_and_exit, train_run
from engine.worker.state import RunState

__all__ = ["CommandReader", "LiveCommands", "RunState", "SignalRelay", "StorePoller", "claim_stdout", "main",
           "parse_args", "run_and_exit", "train_run"]
