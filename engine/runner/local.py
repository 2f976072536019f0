"""LocalExecutor: workers as subprocesses on this machine, a queue per device.

Each worker is a fresh interpreter (`python -m engine.worker`, never a fork
of a process holding Qt or CUDA state). Its stdout carries protocol events,
its stdin takes commands, and its stderr goes to a per-run log file with
the last lines kept, so a worker that dies (kill -9, a segfault, the OOM
killer) leaves its run `crashed` with its exit status and those lines.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import psutil

from engine.protocol import (Command, Event, Finished, Pause, ProtocolError, Resume, Stop,
                             decode_event, encode_command, iter_lines)
from engine.runner.executor import EventCallback
from engine.runner.paths import log_path
from engine.store import ACTIVE_STATUSES, TERMINAL_STATUSES, RunNotFoundError

UNFINISHED = ("queued", *ACTIVE_STATUSES)
STDERR_TAIL_LINES = 20
WORKER_MODULE = "engine.worker"


def gpu_count() -> int:
    """NVIDIA GPUs seen by NVML (the supervisor never initialises CUDA)."""
    try:
        from engine.monitor import SystemSampler

        sampler = SystemSampler()
        try:
            return len(sampler.gpus)
        finally:
            sampler.close()
    except Exception:  # no NVML, no driver: a CPU machine
        return 0


def default_concurrency(gpus: int) -> dict[str, int]:
    """One run at a time per GPU and one on the CPU (each would slow the others)."""
    return {"cpu": 1, **{f"cuda:{i}": 1 for i in range(gpus)}}


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name} (signal {-returncode})"
    return f"exit status {returncode}"


@dataclass
class _Job:
    run_id: int
    queue: str  # the device queue it waits in
    device: Optional[str]  # --device for the worker (None: the spec decides)
    resume_from: Optional[str]


class _Worker:
    """One worker process and the threads that read its two output pipes."""

    def __init__(self, job: _Job, proc: subprocess.Popen, log_file: Path):
        self.job, self.proc, self.log_file = job, proc, log_file
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.finished: Optional[Finished] = None
        self.cancelled = False
        self.stdin_lock = threading.Lock()
        self.stderr_reader = threading.Thread(target=self._read_stderr, daemon=True,
                                              name=f"run-{job.run_id}-stderr")

    def send(self, command: Command) -> bool:
        with self.stdin_lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(encode_command(command))  # a few bytes: one atomic pipe write
                return True
            except (OSError, ValueError):  # the worker is exiting; its end is handled by the watcher
                return False

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        with open(self.log_file, "ab") as log:
            for raw in iter_lines(self.proc.stderr.fileno()):
                log.write(raw + b"\n")
                log.flush()
                self.tail.append(raw.decode("utf-8", "replace").rstrip())

    def kill_tree(self) -> None:
        try:
            root = psutil.Process(self.proc.pid)
            procs = root.children(recursive=True) + [root]
        except psutil.NoSuchProcess:
            return
        for p in procs:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=5)


class LocalExecutor:
    """Queues runs per device and runs up to `concurrency[device]` workers at once."""

    def __init__(self, db_url: str, store: Any, on_event: EventCallback, *,
                 concurrency: Optional[dict[str, int]] = None,
                 worker_command: Optional[Sequence[str]] = None):
        self.db_url, self.store, self.on_event = db_url, store, on_event
        self._gpus = gpu_count()
        self.concurrency = {**default_concurrency(self._gpus), **(concurrency or {})}
        # The worker command is a seam for tests (a fake worker script).
        self.worker_command = list(worker_command or [sys.executable, "-m", WORKER_MODULE])
        self._lock = threading.RLock()
        self._queues: dict[str, deque[_Job]] = {}
        self._workers: dict[int, _Worker] = {}
        self._idle = threading.Condition(self._lock)
        self._accepting = True

    # --- the Executor interface -------------------------------------------------------
    def submit(self, run_id: int, *, device: str, resume_from: Optional[str] = None) -> None:
        queue, worker_device = self._place(device)
        with self._lock:
            if not self._accepting:
                raise RuntimeError("the runner is shutting down; it takes no new runs")
            self._queues.setdefault(queue, deque()).append(_Job(run_id, queue, worker_device, resume_from))
            self._start_ready()

    def pause(self, run_id: int) -> bool:
        return self._command(run_id, Pause())

    def resume(self, run_id: int) -> bool:
        return self._command(run_id, Resume())

    def stop(self, run_id: int) -> bool:
        return self._drop_queued(run_id) or self._command(run_id, Stop())

    def cancel(self, run_id: int) -> bool:
        if self._drop_queued(run_id):
            return True
        with self._lock:
            worker = self._workers.get(run_id)
        if worker is None:
            return False
        worker.cancelled = True
        worker.kill_tree()
        return True

    def active_runs(self) -> list[int]:
        with self._lock:
            queued = [job.run_id for q in self._queues.values() for job in q]
            return sorted(list(self._workers) + queued)

    def shutdown(self, stop_runs: bool = True, timeout: Optional[float] = 30.0) -> None:
        with self._lock:
            self._accepting = False
            queued = [job.run_id for q in self._queues.values() for job in q]
            running = list(self._workers)
        if stop_runs:
            for run_id in queued:
                self._drop_queued(run_id)
            for run_id in running:
                self._command(run_id, Stop())
        with self._lock:
            self._idle.wait_for(lambda: not self.active_runs(), timeout)
            leftovers = list(self._workers)
        if not stop_runs:
            return  # still running after `timeout`: they stop themselves when this process exits
        for run_id in leftovers:  # did not stop in time: no checkpoint, but no orphan either
            self.cancel(run_id)
        with self._lock:
            self._idle.wait_for(lambda: not self._workers, 10)

    # --- placement and start ----------------------------------------------------------
    def _place(self, device: str) -> tuple[str, Optional[str]]:
        """(queue name, --device for the worker) for a requested device.

        "auto" means the first GPU when NVML sees one, so the run waits in that
        GPU's queue; otherwise the worker decides (cpu, or mps on a Mac).
        """
        if device == "auto":
            return ("cuda:0", "cuda:0") if self._gpus else ("cpu", None)
        if device == "cuda":
            return "cuda:0", "cuda:0"
        return device, device

    def _start_ready(self) -> None:
        with self._lock:
            for name, queue in self._queues.items():
                limit = max(1, self.concurrency.get(name, 1))
                while queue and sum(w.job.queue == name for w in self._workers.values()) < limit:
                    self._start(queue.popleft())

    def _start(self, job: _Job) -> None:
        argv = [*self.worker_command, "--run-id", str(job.run_id), "--db", self.db_url]
        if job.device:
            argv += ["--device", job.device]
        if job.resume_from:
            argv += ["--resume-from", str(job.resume_from)]
        log_file = log_path(self.db_url, job.run_id)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # The worker imports the same engine as this process, installed or not.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                bufsize=0,  # raw pipes: read by iter_lines, commands written whole
                # Its own session: a Ctrl-C in the terminal reaches the CLI, which
                # stops the run gracefully, instead of killing the worker mid-batch.
                start_new_session=(os.name == "posix"),
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
        except OSError as e:
            self._finish_unstarted(job, f"could not start the worker ({' '.join(argv[:3])}): {e}")
            return
        worker = _Worker(job, proc, log_file)
        self._workers[job.run_id] = worker
        worker.stderr_reader.start()
        threading.Thread(target=self._watch, args=(worker,), name=f"run-{job.run_id}-events",
                         daemon=True).start()

    # --- watching a worker ---------------------------------------------------------------
    def _watch(self, worker: _Worker) -> None:
        """Forward its events until its stdout closes, then settle its row."""
        assert worker.proc.stdout is not None
        run_id = worker.job.run_id
        for line in iter_lines(worker.proc.stdout.fileno()):
            try:
                event = decode_event(line)
            except ProtocolError as e:
                worker.tail.append(f"[supervisor] unreadable event line: {e}")
                continue
            if isinstance(event, Finished):
                worker.finished = event  # held back until the process is gone
                continue
            self._emit(event)
        returncode = worker.proc.wait()
        worker.stderr_reader.join(timeout=5)  # its last lines belong in the error
        status, error = self._settle(worker, returncode)
        with self._lock:
            self._workers.pop(run_id, None)
            with worker.stdin_lock:
                for pipe in (worker.proc.stdin, worker.proc.stdout, worker.proc.stderr):
                    if pipe is not None:
                        pipe.close()
            self._start_ready()
            self._idle.notify_all()
        self._emit(Finished(run_id, status=status, error=error))

    def _settle(self, worker: _Worker, returncode: int) -> tuple[str, Optional[str]]:
        """The run's final (status, error), written to its row when the worker did not."""
        run_id = worker.job.run_id
        try:
            run = self.store.get_run(run_id)
        except RunNotFoundError:  # deleted meanwhile: nothing to settle
            run = None
        if run is not None and run.status in TERMINAL_STATUSES and not worker.cancelled:
            return run.status, run.error
        if worker.cancelled:
            status, error = "stopped", "cancelled: the worker was killed before it could save a checkpoint"
        elif worker.finished is not None:  # it said how it ended but could not write the row
            status, error = worker.finished.status, worker.finished.error
        else:
            tail = "\n".join(worker.tail) or "(the worker wrote nothing to stderr)"
            status = "crashed"
            error = f"the worker process ended unexpectedly ({describe_exit(returncode)}); last output:\n{tail}"
        if run is not None:
            # only_from: a worker that wrote its end just now (a race with cancel) keeps it.
            if not self.store.set_status(run_id, status, error=error, only_from=UNFINISHED):
                run = self.store.get_run(run_id)
                return run.status, run.error
        return status, error

    def _finish_unstarted(self, job: _Job, error: str) -> None:
        self.store.set_status(job.run_id, "failed", error=error)
        self._emit(Finished(job.run_id, status="failed", error=error))

    # --- helpers ------------------------------------------------------------------------
    def _command(self, run_id: int, command: Command) -> bool:
        with self._lock:
            worker = self._workers.get(run_id)
        return worker.send(command) if worker is not None else False

    def _drop_queued(self, run_id: int) -> bool:
        with self._lock:
            job = next((j for q in self._queues.values() for j in q if j.run_id == run_id), None)
            if job is None:
                return False
            self._queues[job.queue].remove(job)
            self._idle.notify_all()
        error = "stopped before it started"
        self.store.set_status(run_id, "stopped", error=error, only_from=("queued",))
        self._emit(Finished(run_id, status="stopped", error=error))
        return True

    def _emit(self, event: Event) -> None:
        self.on_event(event)
