"""RayExecutor: each run's worker on a Ray cluster, reached through the store.

One Ray task per run (`num_gpus=1` for a CUDA run, `num_cpus=1` otherwise)
starts `python -m engine.worker --run-id N --db URL --no-stdin` on the node
Ray picks and waits for it. The worker writes the shared store, as any
worker does; this side follows the run's rows with a StoreFollower (the
same events an adopted run gives) and sends pause / resume / stop as
`run_commands` rows, the one channel a worker on another machine has.
Cancel kills the task (`ray.cancel(force=True)`); the worker dies with it
(it is started with a parent-death signal on Linux) and the row is set
`stopped` with the cancelled message. A task that ends without the worker
writing a final status leaves the run `crashed`, its metrics kept.

The store must be one every node reaches: a SQLite file cannot be shared
across machines, so a SQLite URL is refused before anything is submitted
(`check_shared_store`). Every node needs LayerDeck installed (the task runs
`python -m engine.worker` with the node's Python). Ray is imported lazily:
`pip install layerdeck[ray]`.

Runs cannot be detached: Ray ends a driver's tasks when the driver leaves,
so `detach` returns no ids and closing the process stops its Ray runs.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from engine.protocol import Event, Finished, Status
from engine.runner.executor import EventCallback
from engine.runner.follow import POLL_S, StoreFollower
from engine.runner.local import describe_exit
from engine.runner.paths import log_path
from engine.status import LIVE, TERMINAL
from engine.store import RunNotFoundError
from engine.worker.commands import CANCELLED

if TYPE_CHECKING:
    from engine.store import RunStore

ADDRESS_ENV = "LAYERDECK_RAY_ADDRESS"
UNFINISHED = ("queued", *(s.value for s in LIVE))
TAIL_LINES = 20
LOG_QUEUE_LINES = 10_000  # lines in flight from a node; past that they stay in the node's file only
NOT_STARTED = "stopped before it started"
# A stop asked through the store is applied within about a second; a worker
# that has not ended this long after is stopped through Ray (its task killed).
STOP_GRACE_S = 60.0


class RemoteStoreError(ValueError):
    """The store cannot be reached from other machines (a SQLite file)."""


def check_shared_store(db_url: str) -> None:
    """Refuse a store a remote worker cannot write: a SQLite file lives on one machine."""
    if db_url.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite":
        raise RemoteStoreError(
            "a run on a Ray cluster needs a store every node can reach, and a SQLite file cannot be "
            "shared across machines; give a PostgreSQL URL (postgresql+psycopg://user:pass@host/db) "
            "with --db or LAYERDECK_DB")


def resources_for(device: str, cluster_gpus: float = 0.0, nproc: int = 1) -> tuple[dict[str, float], Optional[str]]:
    """(Ray resources to request, --device for the worker) for the spec's device.
    A CUDA run asks for one GPU per process (Ray sets CUDA_VISIBLE_DEVICES, so
    they are cuda:0.. on its node); "auto" means GPUs when the cluster has
    enough. A data-parallel run (training.distributed) asks for one CPU per
    process as well: its processes share one node."""
    nproc = max(1, int(nproc))
    if device.startswith("cuda") or (device == "auto" and cluster_gpus >= nproc):
        return {"num_cpus": nproc, "num_gpus": nproc}, "cuda"
    if device == "auto":
        return {"num_cpus": nproc}, "cpu"
    return {"num_cpus": nproc}, device


def process_count(spec: dict) -> int:
    """training.distributed.nproc of a stored spec (1 for a plain run)."""
    training = spec.get("training") if isinstance(spec, dict) else None
    wanted = training.get("distributed") if isinstance(training, dict) else None
    return int(wanted.get("nproc", 2)) if isinstance(wanted, dict) else 1


def node_log_path(db_url: str, run_id: int) -> Path:
    """Where a Ray run's worker writes its stderr on its node. Not log_path:
    that file, on the launching machine, is filled by the log relay (on a
    one-machine cluster both exist, and nothing is written twice)."""
    return log_path(db_url, run_id).with_suffix(".node.log")


def run_worker(run_id: int, db_url: str, device: Optional[str], resume_from: Optional[str],
               nproc: int = 1, lines: Any = None) -> dict[str, Any]:
    """The Ray task's body, on its node: run the worker to its end; its exit and log tail.

    Each line the worker writes to stderr goes to the node's log file and,
    with `lines` (a ray.util.queue.Queue), back to the launching machine
    (RayExecutor's log relay); a full queue drops lines, never blocks training.
    The worker gets SIGKILL if this process dies (a cancelled or lost task),
    so no worker trains on unsupervised after its task is gone."""
    import socket
    import subprocess
    import sys

    from engine.runner.logtail import file_size, tail_lines
    from engine.store.paths import PASSWORD_ENV_VAR, split_password

    public_url, password = split_password(db_url)  # the password never on a command line
    # A data-parallel run: torchrun starts its processes on this node (engine.runner.local.launch_command).
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
                if nproc > 1 else [sys.executable])
    argv = [*launcher, "-m", "engine.worker", "--run-id", str(run_id), "--db", public_url, "--no-stdin"]
    env = dict(os.environ) if password is None else {**os.environ, PASSWORD_ENV_VAR: password}
    if device:
        argv += ["--device", device]
    if resume_from:
        argv += ["--resume-from", resume_from]
    log_file = node_log_path(db_url, run_id)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = file_size(log_file)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        assert proc.stderr is not None
        for line in proc.stderr:  # until the worker (and every process sharing its stderr) is gone
            log.write(line)
            log.flush()
            if lines is not None:
                _offer(lines, line)
    returncode = proc.wait()
    if lines is not None:
        _offer(lines, None)  # the end: the relay stops reading
    return {"returncode": returncode, "host": socket.gethostname(),
            "tail": tail_lines(log_file, TAIL_LINES, start)}


def _offer(lines: Any, line: Optional[bytes]) -> None:
    try:
        lines.put_nowait(line)
    except Exception:  # queue.Full, or its actor gone with the launching process: the node's file has it
        pass


def _die_with_parent() -> None:
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


RELAY_DRAIN_S = 5.0  # at shutdown, how long a run's log relay may take to copy its last lines
_connected: list[Optional[str]] = []  # the address this process joined (Ray allows one cluster per process)
_connect_lock = threading.Lock()


def connect(address: Optional[str]) -> Any:
    """The `ray` module, connected to the cluster at `address` (None: Ray's
    default, RAY_ADDRESS or a new local one). One cluster per process: a second
    address is refused in words rather than silently using the first."""
    import ray

    with _connect_lock:
        if ray.is_initialized():
            if _connected and address and _connected[0] and address != _connected[0]:
                raise RuntimeError(f"this process is connected to the Ray cluster at {_connected[0]}; Ray "
                                   f"joins one cluster per process, so {address} needs a restart of the app")
            return ray
        if address:
            check_reachable(address)
        ray.init(address=address, log_to_driver=False, include_dashboard=False)
        _connected[:] = [address]
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, in words, when nothing listens at a head's host:port
    (ray.init itself waits a minute or more for an address that never answers)."""
    import socket

    if "://" in address or address in ("auto", "local") or ":" not in address:
        return  # ray:// clients and Ray's own keywords: Ray resolves those
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as e:
        raise ConnectionError(f"nothing answers at {address} ({e}); is the Ray head running there "
                              "(`ray start --head`) and is the port open?") from e


def free_resources(address: Optional[str]) -> dict[str, float]:
    """The cluster's free GPUs and CPUs ({"GPU": n, "CPU": n}); connects first (slow: call it off the UI thread)."""
    free = connect(address).available_resources()
    return {"GPU": float(free.get("GPU", 0.0)), "CPU": float(free.get("CPU", 0.0))}


@dataclass
class _Job:
    run_id: int
    ref: Any = None  # the Ray ObjectRef of its task, once it was sent
    task_done: bool = False
    row_final: Optional[Finished] = None  # the follower's Finished, held until the task is done
    cancelled: bool = False
    last_status: str = "queued"  # the Runner announced queued already


def ray_executor(address: Optional[str] = None, *,
                 stop_grace_s: float = STOP_GRACE_S) -> Callable[[str, RunStore, EventCallback], RayExecutor]:
    """The Runner's executor factory for a cluster: `Runner(url, executor=ray_executor(addr))`."""
    def make(db_url: str, store: RunStore, on_event: EventCallback) -> RayExecutor:
        return RayExecutor(db_url, store, on_event, address=address, stop_grace_s=stop_grace_s)
    return make


class RayExecutor:
    """Runs each submitted run as a Ray task on the cluster at `address`."""

    def __init__(self, db_url: str, store: RunStore, on_event: EventCallback, *,
                 address: Optional[str] = None, follow_interval_s: float = POLL_S,
                 stop_grace_s: float = STOP_GRACE_S):
        check_shared_store(db_url)
        self.stop_grace_s = stop_grace_s
        self.db_url, self.store, self.on_event = db_url, store, on_event
        self.address = address or os.environ.get(ADDRESS_ENV) or None
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._jobs: dict[int, _Job] = {}
        self._relays: list[threading.Thread] = []  # log relays still copying lines here
        self._accepting = True
        self._task: Any = None
        self._follower = StoreFollower(store, self._on_row_event, interval_s=follow_interval_s)
        self._follower_started = False

    # --- the Executor interface -------------------------------------------------------
    def submit(self, run_id: int, *, device: str, resume_from: Optional[str] = None) -> None:
        """Returns at once: joining the cluster and sending the task (seconds
        the first time) happen on the run's own thread, so an app's UI thread
        never waits on Ray. A cluster that cannot be reached fails the run,
        saying so."""
        with self._lock:
            if not self._accepting:
                raise RuntimeError("the runner is shutting down; it takes no new runs")
            self._jobs[run_id] = job = _Job(run_id)
            if not self._follower_started:
                self._follower_started = True
                self._follower.start()
        self._follower.follow(run_id)
        threading.Thread(target=self._launch, args=(job, device, resume_from), name=f"ray-run-{run_id}",
                         daemon=True).start()

    def _launch(self, job: _Job, device: str, resume_from: Optional[str]) -> None:
        run_id = job.run_id
        try:
            nproc = process_count(self.store.get_run(run_id).spec)
            ray = self._connect()
            gpus = float(ray.cluster_resources().get("GPU", 0)) if device == "auto" else 0.0
            resources, worker_device = resources_for(device, gpus, nproc)
            lines = self._log_queue()
            with self._lock:
                if not job.cancelled:  # a stop or cancel while connecting: nothing to send
                    job.ref = self._task.options(**resources).remote(
                        run_id, self.db_url, worker_device, resume_from, nproc, lines)
            if job.ref is not None:
                relay = threading.Thread(target=self._relay_log, args=(run_id, lines), name=f"ray-log-{run_id}",
                                         daemon=True)
                with self._lock:
                    self._relays = [t for t in self._relays if t.is_alive()] + [relay]
                relay.start()
        except Exception as e:  # the cluster unreachable, Ray missing, the row deleted
            where = f"the Ray cluster at {self.address}" if self.address else "a Ray cluster"
            self.store.set_status(run_id, "failed", only_from=("queued",), error=(
                f"could not start the run on {where}: {type(e).__name__}: {str(e).strip() or 'no detail'}; "
                "check the address (Train page ▸ Run on, or --ray-address) and that the head node is up"))
        self._watch(run_id, job.ref)

    def pause(self, run_id: int) -> bool:
        return self._request(run_id, "pause")

    def resume(self, run_id: int) -> bool:
        return self._request(run_id, "resume")

    def stop(self, run_id: int) -> bool:
        if self._status(run_id) == "queued":  # waiting for resources: its task never needs to start
            return self._kill(run_id, NOT_STARTED, only_from=("queued",)) or self._request(run_id, "stop")
        if not self._request(run_id, "stop"):
            return False
        timer = threading.Timer(self.stop_grace_s, self._stop_hard, args=(run_id,))
        timer.daemon = True
        timer.start()
        return True

    def _stop_hard(self, run_id: int) -> None:
        """The grace period is over and the run has not ended: stop it through Ray."""
        with self._lock:
            if run_id not in self._jobs:
                return
        self._kill(run_id, f"did not stop within {self.stop_grace_s:g} s of being asked; "
                           "stopped through Ray (no checkpoint of its last steps)", only_from=UNFINISHED)

    def cancel(self, run_id: int) -> bool:
        return self._kill(run_id, CANCELLED, only_from=UNFINISHED)

    def active_runs(self) -> list[int]:
        with self._lock:
            return sorted(self._jobs)

    def shutdown(self, stop_runs: bool = True, timeout: Optional[float] = 30.0) -> None:
        with self._lock:
            self._accepting = False
            running = list(self._jobs)
        if stop_runs:
            for run_id in running:
                self.stop(run_id)
        with self._lock:
            self._idle.wait_for(lambda: not self._jobs, timeout)
            leftovers = list(self._jobs)
        if stop_runs:
            for run_id in leftovers:  # did not stop in time: no checkpoint, but no orphan either
                self.cancel(run_id)
            with self._lock:
                self._idle.wait_for(lambda: not self._jobs, 10)
        with self._lock:
            relays = list(self._relays)
        for relay in relays:  # the last lines of a run that just ended are still on their way
            relay.join(RELAY_DRAIN_S)
        self._follower.close()

    def detach(self, run_id: Optional[int] = None) -> list[int]:
        """Ray runs cannot outlive this process (Ray ends a driver's tasks with it):
        none is detached. Detaching all stops taking runs."""
        if run_id is None:
            with self._lock:
                self._accepting = False
        return []

    # --- Ray -------------------------------------------------------------------------------
    @staticmethod
    def _log_queue() -> Any:
        """A queue actor carrying the worker's stderr lines here (no CPU of its own)."""
        from ray.util.queue import Queue

        return Queue(maxsize=LOG_QUEUE_LINES, actor_options={"num_cpus": 0})

    def _relay_log(self, run_id: int, lines: Any) -> None:
        """Append the run's stderr, as it arrives from its node, to its log file
        here: the Train page's log pane and `layerdeck runs show` read that file."""
        from ray.util.queue import Empty

        path = log_path(self.db_url, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as log:
            while True:
                try:
                    line = lines.get(timeout=1.0)
                except Empty:
                    with self._lock:
                        job = self._jobs.get(run_id)
                        if job is None or job.task_done:  # ended without its last line (killed)
                            break
                    continue
                except Exception:  # the queue's actor is gone (the cluster went away)
                    break
                if line is None:
                    break
                log.write(line)
                log.flush()
        try:
            import ray

            ray.kill(lines.actor)
        except Exception:
            pass

    def _connect(self) -> Any:
        ray = connect(self.address)
        if self._task is None:
            self._task = ray.remote(max_retries=0)(run_worker)
        return ray

    def _watch(self, run_id: int, ref: Any) -> None:
        """Wait for the task, settle the row it left unfinished, then let Finished through."""
        outcome: Optional[dict[str, Any]] = None
        finished: Optional[Finished] = None
        problem = ""
        if ref is None:  # never sent: stopped while connecting, or the cluster was unreachable
            problem = "the task was never sent"
        else:
            import ray

            try:
                outcome = ray.get(ref)
            except Exception as e:  # cancelled, the node lost, the task's process killed
                problem = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        with self._lock:
            job = self._jobs.get(run_id)
            cancelled = job is not None and job.cancelled
        if not cancelled:
            self._settle(run_id, outcome, problem)
        with self._lock:
            if job is not None:
                job.task_done = True
                finished = job.row_final
        if job is not None and finished is not None:
            self._finish(job, finished)
        self._follower.follow(run_id)  # read its final rows now, not at the next tick

    def _settle(self, run_id: int, outcome: Optional[dict[str, Any]], problem: str) -> None:
        """A task that ended without its worker writing a final status: the run crashed."""
        try:
            if self.store.get_run(run_id).status in TERMINAL:
                return
        except RunNotFoundError:
            return
        if outcome is not None:
            tail = "\n".join(outcome.get("tail") or []) or "(the worker wrote nothing to stderr)"
            error = (f"the worker process on {outcome.get('host')} ended unexpectedly "
                     f"({describe_exit(int(outcome['returncode']))}); last output:\n{tail}")
        else:
            error = f"the Ray task running the worker ended unexpectedly ({problem})"
        self.store.set_status(run_id, "crashed", error=error, only_from=UNFINISHED)

    def _on_row_event(self, event: Event) -> None:
        """The follower's events, passed on; Finished waits for the task to be done."""
        with self._lock:
            job = self._jobs.get(event.run_id)
            if job is None:
                return
            if isinstance(event, Status):
                if event.status == job.last_status:
                    return
                job.last_status = event.status
            if isinstance(event, Finished):
                job.row_final = event
                if not job.task_done:
                    return
        if isinstance(event, Finished):
            self._finish(job, event)
        else:
            self.on_event(event)

    def _finish(self, job: _Job, finished: Finished) -> None:
        with self._lock:
            if self._jobs.pop(job.run_id, None) is None:
                return  # sent already
            self._idle.notify_all()
        self.on_event(finished)

    # --- helpers ------------------------------------------------------------------------
    def _status(self, run_id: int) -> Optional[str]:
        try:
            return self.store.get_run(run_id).status
        except RunNotFoundError:
            return None

    def _request(self, run_id: int, action: str) -> bool:
        with self._lock:
            if run_id not in self._jobs:
                return False
        self.store.request_command(run_id, action)
        return True

    def _kill(self, run_id: int, error: str, *, only_from: tuple[str, ...]) -> bool:
        """Kill the run's task (and so its worker) and write the run's end."""
        import ray

        with self._lock:
            job = self._jobs.get(run_id)
            if job is None:
                return False
        if not self.store.set_status(run_id, "stopped", error=error, only_from=only_from):
            return False
        with self._lock:
            job.cancelled = True
            ref = job.ref
        if ref is not None:  # else its launch thread sees `cancelled` and sends nothing
            ray.cancel(ref, force=True)
        self._follower.follow(run_id)
        return True
