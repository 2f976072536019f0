"""LocalExecutor: workers as subprocesses on this machine, a queue per device.

Each worker is a fresh interpreter (`python -m engine.worker`, never a fork
of a process holding Qt or CUDA state). Its stdout carries protocol events,
its stdin takes commands, and its stderr IS the per-run log file (opened
here, handed over as the child's stderr: no pipe through this process), so
a worker that dies (kill -9, a segfault, the OOM killer) leaves its run
`crashed` with its exit status and the file's last lines.

`detach` lets go of workers so they outlive this process (the app closed
with "keep training"): each is sent Detach, forgotten without a Finished
event, and reaped quietly. Their rows are theirs; if one dies after this
process is gone, the next RunStore opened finds its pid dead and marks the
run crashed (engine.store.orphans). Queued runs cannot start without a
supervisor: detach ends them `stopped`, saying they never started.
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
from typing import TYPE_CHECKING, Optional, Sequence

import psutil

from engine.protocol import (
    Command,
    Detach,
    Event,
    Finished,
    Pause,
    ProtocolError,
    Resume,
    Stop,
    decode_event,
    encode_command,
    iter_lines,
)
from engine.runner.executor import EventCallback
from engine.runner.logtail import file_size, tail_lines
from engine.runner.paths import log_path
from engine.store import LIVE_STATUSES, TERMINAL_STATUSES, RunNotFoundError
from engine.store.paths import PASSWORD_ENV_VAR, split_password
from engine.worker.commands import CANCELLED
from engine.worker.threads import CPU_WORKERS_ENV, usable_cores

if TYPE_CHECKING:
    from engine.store import RunStore

UNFINISHED = ("queued", *LIVE_STATUSES)
STDERR_TAIL_LINES = 20
WORKER_MODULE = "engine.worker"
NOT_STARTED_ON_DETACH = ("not started: the app closed while it was queued, and a queued run "
                         "needs the app (or `layerdeck train`) to start it; launch it again")


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


def launch_command(worker_command: Sequence[str], spec: dict) -> list[str]:
    """The command that starts a run's worker: `worker_command` itself, or, for
    a spec with training.distributed, torchrun starting that many copies of it
    on this machine (`python -m torch.distributed.run --standalone
    --nproc-per-node N -m engine.worker`); rank 0 records its own pid."""
    training = spec.get("training") if isinstance(spec, dict) else None
    wanted = training.get("distributed") if isinstance(training, dict) else None
    if not isinstance(wanted, dict):
        return list(worker_command)
    python, *rest = worker_command
    return [python, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={int(wanted.get('nproc', 2))}", *rest]


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name} (signal {-returncode})"
    return f"exit status {returncode}"


def kill_tree(root: psutil.Process) -> None:
    """Kill a worker and its children (DataLoader workers) now, and reap them."""
    try:
        procs = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=5)


@dataclass
class _Job:
    run_id: int
    queue: str  # the device queue it waits in
    device: Optional[str]  # --device for the worker (None: the spec decides)
    resume_from: Optional[str]


class _Worker:
    """One worker process: its command pipe, its event pipe, its log file."""

    def __init__(self, job: _Job, proc: subprocess.Popen, log_file: Path, log_start: int):
        self.job, self.proc, self.log_file = job, proc, log_file
        self.log_start = log_start  # where this worker's lines begin in the run's log
        self.notes: deque[str] = deque(maxlen=STDERR_TAIL_LINES)  # the supervisor's own remarks
        self.finished: Optional[Finished] = None
        self.cancelled = False
        self.detached = False
        self.stdin_lock = threading.Lock()

    def tail(self) -> list[str]:
        """The worker's last stderr lines (from its log file), then the supervisor's notes."""
        return tail_lines(self.log_file, STDERR_TAIL_LINES, self.log_start) + list(self.notes)

    def send(self, command: Command) -> bool:
        with self.stdin_lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(encode_command(command))  # a few bytes: one atomic pipe write
                return True
            except (OSError, ValueError):  # the worker is exiting; its end is handled by the watcher
                return False

    def let_go(self) -> bool:
        """Send Detach and close the command pipe; False if the worker already exited."""
        with self.stdin_lock:
            self.detached = True
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(encode_command(Detach()))
                self.proc.stdin.close()  # the worker ignores this EOF now
                return True
            except (OSError, ValueError):
                return False

    def kill_tree(self) -> None:
        try:
            kill_tree(psutil.Process(self.proc.pid))
        except psutil.NoSuchProcess:
            pass


class LocalExecutor:
    """Queues runs per device and runs up to `concurrency[device]` workers at
    once; CPU runs never more at once than this machine has cores.

    Why the cap: a CPU worker trains on at least one thread (its share of
    the cores, engine/worker/threads.py). Four on two cores time-share them,
    and in total they trained 8-10 % slower than two at a time
    (bench/concurrent_runs.py). The runs past the cap wait in the queue, as
    Ray queues tasks that ask for more CPUs than it has."""

    def __init__(self, db_url: str, store: RunStore, on_event: EventCallback, *,
                 concurrency: Optional[dict[str, int]] = None,
                 worker_command: Optional[Sequence[str]] = None):
        self.db_url, self.store, self.on_event = db_url, store, on_event
        self._gpus = gpu_count()
        self.concurrency = {**default_concurrency(self._gpus), **(concurrency or {})}
        asked = max(1, self.concurrency.get("cpu", 1))
        self.cpu_at_once = min(asked, usable_cores())
        self.cpu_note = (None if self.cpu_at_once == asked else
                         f"{asked} CPU runs at once asked for, {self.cpu_at_once} at a time: this machine "
                         f"has {usable_cores()} cores, and more runs than cores train slower in total")
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

    def detach(self, run_id: Optional[int] = None) -> list[int]:
        """Let running workers (all, or `run_id`) train on without this process;
        returns the detached run ids at once, without waiting for the workers.

        Detaching everything also stops taking runs and ends the queued ones
        `stopped` (NOT_STARTED_ON_DETACH): nothing would be left to start them.
        """
        with self._lock:
            if run_id is None:
                self._accepting = False
                queued = [job.run_id for q in self._queues.values() for job in q]
                workers = list(self._workers.values())
            else:
                queued = []
                workers = [w for w in (self._workers.get(run_id),) if w is not None]
            for worker in workers:
                del self._workers[worker.job.run_id]  # forgotten: no Finished, no settling as crashed
            self._idle.notify_all()
        for rid in queued:
            self._drop_queued(rid, NOT_STARTED_ON_DETACH)
        detached = [w.job.run_id for w in workers if w.let_go()]
        if run_id is not None:
            with self._lock:
                self._start_ready()  # its device slot is free for this process's queue
        return detached

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
                limit = self.cpu_at_once if name == "cpu" else max(1, self.concurrency.get(name, 1))
                while queue and sum(w.job.queue == name for w in self._workers.values()) < limit:
                    self._start(queue.popleft())

    def _start(self, job: _Job) -> None:
        try:
            spec = self.store.get_run(job.run_id).spec
        except RunNotFoundError:
            spec = {}  # deleted meanwhile: the worker says so in the run's log
        public_url, password = split_password(self.db_url)
        argv = [*launch_command(self.worker_command, spec), "--run-id", str(job.run_id), "--db", public_url]
        if job.device:
            argv += ["--device", job.device]
        if job.resume_from:
            argv += ["--resume-from", str(job.resume_from)]
        log_file = log_path(self.db_url, job.run_id)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_start = file_size(log_file)
        env = dict(os.environ)
        # The worker imports the same engine as this process, installed or not.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        if job.queue == "cpu":  # CPU runs at once: each worker takes its share of the cores (engine/worker/threads.py)
            env[CPU_WORKERS_ENV] = str(self.cpu_at_once)
        if password is not None:
            env[PASSWORD_ENV_VAR] = password
        try:
            # Append: a resumed run's attempts share its log. The child gets its
            # own copy of the descriptor; ours closes once it has started.
            with open(log_file, "ab") as log:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                    bufsize=0,  # raw pipes: read by iter_lines, commands written whole
                    # Its own session: a Ctrl-C in the terminal reaches the CLI, which
                    # stops the run gracefully, instead of killing the worker mid-batch;
                    # and a detached worker is nobody's child in the terminal's eyes.
                    start_new_session=(os.name == "posix"),
                    creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
        except OSError as e:
            self._finish_unstarted(job, f"could not start the worker ({' '.join(argv[:3])}): {e}")
            return
        worker = _Worker(job, proc, log_file, log_start)
        self._workers[job.run_id] = worker
        threading.Thread(target=self._watch, args=(worker,), name=f"run-{job.run_id}-events",
                         daemon=True).start()

    # --- watching a worker ---------------------------------------------------------------
    def _watch(self, worker: _Worker) -> None:
        """Forward its events until its stdout closes, then settle its row."""
        assert worker.proc.stdout is not None
        run_id = worker.job.run_id
        for line in iter_lines(worker.proc.stdout.fileno()):
            if worker.detached:
                break  # the worker closes its end on Detach; nobody listens any more
            try:
                event = decode_event(line)
            except ProtocolError as e:
                worker.notes.append(f"[supervisor] unreadable event line: {e}")
                continue
            if isinstance(event, Finished):
                worker.finished = event  # held back until the process is gone
                continue
            self._emit(event)
        if worker.detached:
            self._reap_detached(worker)
            return
        returncode = worker.proc.wait()
        status, error = self._settle(worker, returncode)
        with self._lock:
            self._workers.pop(run_id, None)
            with worker.stdin_lock:
                for pipe in (worker.proc.stdin, worker.proc.stdout):
                    if pipe is not None:
                        pipe.close()
            self._start_ready()
            self._idle.notify_all()
        self._emit(Finished(run_id, status=status, error=error))

    def _reap_detached(self, worker: _Worker) -> None:
        """A detached worker: close the event pipe, then wait for the process so
        it leaves no zombie while this process lives. If it ends without
        writing its final status (killed), settle the row as a crash with its
        log's last lines; no event, the subscribers were let go."""
        assert worker.proc.stdout is not None
        worker.proc.stdout.close()
        returncode = worker.proc.wait()
        try:
            self._settle(worker, returncode)
        except Exception:  # the store is closing with this process: the orphan check settles it
            pass

    def _settle(self, worker: _Worker, returncode: int) -> tuple[str, Optional[str]]:
        """The run's final (status, error), written to its row when the worker did not."""
        run_id = worker.job.run_id
        try:
            run = self.store.get_run(run_id)
        except RunNotFoundError:  # deleted meanwhile: nothing to settle
            run = None
        if run is not None and run.status in TERMINAL_STATUSES and not worker.cancelled:
            return run.status, run.error
        error: Optional[str]
        if worker.cancelled:
            status, error = "stopped", CANCELLED
        elif worker.finished is not None:  # it said how it ended but could not write the row
            status, error = worker.finished.status, worker.finished.error
        else:
            tail = "\n".join(worker.tail()) or "(the worker wrote nothing to stderr)"
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

    def _drop_queued(self, run_id: int, error: str = "stopped before it started") -> bool:
        with self._lock:
            job = next((j for q in self._queues.values() for j in q if j.run_id == run_id), None)
            if job is None:
                return False
            self._queues[job.queue].remove(job)
            self._idle.notify_all()
        self.store.set_status(run_id, "stopped", error=error, only_from=("queued",))
        self._emit(Finished(run_id, status="stopped", error=error))
        return True

    def _emit(self, event: Event) -> None:
        self.on_event(event)
