"""How commands reach a worker, whoever sends them: all three channels end in
`LiveCommands`, so the run's status and events are the same whichever was used.

- `CommandReader`: JSON lines on stdin from the supervisor that started it;
  EOF means that supervisor is gone (unless it detached first).
- `SignalRelay`: SIGTERM / SIGINT (stop), SIGUSR1 / SIGUSR2 (pause / resume)
  from a process on this machine (engine.runner.external).
- `StorePoller`: rows in the store's `run_commands` table, from anyone who
  can reach the store, on any machine (engine.store.commands). The one
  channel a remote worker has.
"""
from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import traceback
from typing import Any, Callable

import psutil

from engine.protocol import Detach, Pause, ProtocolError, Resume, Stop, decode_command, iter_lines
from engine.status import RunStatus
from engine.store import RunStore
from engine.training.callbacks import Control
from engine.worker.signals import PAUSE_SIGNAL, RESUME_SIGNAL
from engine.worker.state import RunState

STORE_POLL_S = 0.5  # the store channel's latency: a command applies within about this
# The end a cancelled run records, whoever cancelled it (this worker, or a supervisor that killed it).
CANCELLED = "cancelled: the worker was killed before it could save a checkpoint"


class LiveCommands:
    """Pause / resume / stop as this worker applies them, whoever asked: the
    stdin command reader and the signal relay call the same methods, so the
    run's status and events are the same either way."""

    def __init__(self, control: Control, state: RunState):
        self.control, self.state = control, state

    def pause(self) -> None:
        self.control.pause()
        self.state.set_live("paused")

    def resume(self) -> None:
        self.control.resume()
        self.state.set_live("running")

    def stop(self) -> None:
        self.control.stop()

    def cancel(self) -> None:
        """End now, without a checkpoint: the row says `stopped` (cancelled),
        children (DataLoader workers) are killed, and the process exits."""
        self.state.finish(RunStatus.STOPPED, CANCELLED)
        try:
            for child in psutil.Process().children(recursive=True):
                child.kill()
        except psutil.Error:
            pass
        print("layerdeck worker: cancelled; exiting now", file=sys.stderr)
        sys.stderr.flush()
        os._exit(0)


class CommandReader(threading.Thread):
    """Reads pause/resume/stop/detach lines from stdin; EOF (supervisor gone)
    stops the run, unless the supervisor detached it first."""

    def __init__(self, fd: int, commands: LiveCommands):
        super().__init__(name="command-reader", daemon=True)
        self.fd, self.commands = fd, commands
        self.control, self.state = commands.control, commands.state
        self.detached = False

    def run(self) -> None:
        for line in iter_lines(self.fd):
            if not line.strip():
                continue
            try:
                command = decode_command(line)
            except ProtocolError as e:
                print(f"layerdeck worker: ignoring a command line: {e}", file=sys.stderr)
                continue
            if isinstance(command, Pause):
                self.commands.pause()
            elif isinstance(command, Resume):
                self.commands.resume()
            elif isinstance(command, Stop):
                self.commands.stop()
            elif isinstance(command, Detach):
                self.detach()
        if self.detached:
            return  # stdin closing is expected now; nothing more can arrive
        if not self.control.stop_requested and not self.state.final:
            print("layerdeck worker: supervisor gone (stdin closed); stopping with a checkpoint",
                  file=sys.stderr)
            self.commands.stop()

    def detach(self) -> None:
        self.detached = True
        self.state.sender.detach()
        if self.control.paused and not self.state.final:
            # Whoever adopts it next (a reopened app, `layerdeck runs resume`) can
            # resume or stop it: by signal on this machine, through the store anywhere.
            print("layerdeck worker: detached while paused; staying paused until it is resumed or "
                  "stopped (a reopened app, or `layerdeck runs resume|stop`)", file=sys.stderr)
        else:
            print("layerdeck worker: the supervisor detached; training on in the background",
                  file=sys.stderr)
        sys.stderr.flush()


class SignalRelay(threading.Thread):
    """Applies signals on this thread: the handlers only queue the signal number.

    A Python handler runs on the main thread (the training loop) between two
    bytecodes, possibly while that thread holds the lock of the Control's
    Event or the store's connection, so the handler itself must not take
    either. SimpleQueue.put is safe there (reentrant); this thread then does
    what the stdin command would (LiveCommands)."""

    def __init__(self, commands: LiveCommands):
        super().__init__(name="signal-relay", daemon=True)
        self.commands = commands
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._actions: dict[int, tuple[str, Any]] = {
            signal.SIGTERM: ("stopping with a checkpoint", commands.stop),
            signal.SIGINT: ("stopping with a checkpoint", commands.stop)}
        if PAUSE_SIGNAL is not None and RESUME_SIGNAL is not None:
            self._actions[PAUSE_SIGNAL] = ("pausing", commands.pause)
            self._actions[RESUME_SIGNAL] = ("resuming", commands.resume)

    def install(self) -> None:
        """Start the thread, then handle the signals (SIGUSR1/2 only where they exist)."""
        self.start()
        for sig in self._actions:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self._queue.put(signum)

    def run(self) -> None:
        while True:
            signum = self._queue.get()
            what, action = self._actions[signum]
            try:
                action()
            except Exception:  # e.g. the store was busy: this thread must live for the next signal
                traceback.print_exc()
            try:  # after the action: a log that cannot be written must not cost the pause or the stop
                print(f"layerdeck worker: {signal.Signals(signum).name} received; {what}", file=sys.stderr)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


class StorePoller(threading.Thread):
    """Takes the run's commands from the store about twice a second and applies
    them in order. Runs for the worker's whole life, next to the other two
    channels; errors (a busy or unreachable store) are said once and retried."""

    def __init__(self, store: RunStore, run_id: int, commands: LiveCommands,
                 interval_s: float = STORE_POLL_S):
        super().__init__(name="store-commands", daemon=True)
        self.store, self.run_id, self.commands, self.interval_s = store, run_id, commands, interval_s
        self._stop_event = threading.Event()
        self._actions: dict[str, Callable[[], None]] = {
            "pause": commands.pause, "resume": commands.resume, "stop": commands.stop,
            "cancel": commands.cancel}

    def poll_once(self) -> list[str]:
        taken = self.store.take_commands(self.run_id)
        for command in taken:
            print(f"layerdeck worker: {command} asked through the store", file=sys.stderr)
            self._actions[command]()
        return taken

    def close(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        last_error = ""
        while not self._stop_event.wait(self.interval_s):
            if self.commands.state.final:
                return
            try:
                self.poll_once()
            except Exception as e:
                if repr(e) != last_error:
                    print(f"layerdeck worker: could not read commands from the store, will retry: {e}",
                          file=sys.stderr)
                last_error = repr(e)
