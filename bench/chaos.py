"""Chaos (reliability goal): real runs under real supervisors, SIGKILLed at
random moments; no committed metric row may be lost, every run must settle
and the store must stay sound.

    python bench/chaos.py [--runs N] [--jobs J] [--seed S] [--epochs E] [--dir DIR]

Each run is `layerdeck train SPEC --db URL` (a supervisor process: the CLI's
own entry point, a Runner and its LocalExecutor) over one temporary SQLite
store, its worker a `python -m engine.worker` process training the digits
MLP template for a few epochs on the CPU. --jobs runs train at once.

Once a run's row says it trains (its worker has recorded its pid), a seeded
RNG picks the victim, the worker (the row's pid, checked to be that run's
worker) or the supervisor, and a moment within the run's training time (the
median of a few unkilled calibration runs, trained as many at once).
Just before each SIGKILL every metric row committed so far is read: those
were written before the kill, so they must all be there at the end.

Then, once every supervisor and worker has ended (a worker whose supervisor
was killed sees its stdin close and stops with a checkpoint; one killed
under a live supervisor is marked crashed by it), the store is opened with
RunStore (which marks runs whose worker is gone crashed) and checked:
  - every run is completed/stopped/failed/crashed, or still running/paused
    with a live worker;
  - every metric row read before a kill is still there;
  - `PRAGMA integrity_check` says ok, and metric_blocks (written in the same
    transaction as each batch) agrees with the metrics rows.

Prints one summary line (and each violation); exits 1 on any violation.
Only the store's SQL tables and the public entry points are used.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import psutil

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "resources" / "templates" / "digits_mlp.json"
SUPERVISOR = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())", "train"]
TERMINAL = ("completed", "stopped", "failed", "crashed")
LIVE = ("running", "paused")
START_TIMEOUT_S = 180.0  # supervisor and worker each import torch: slow on a busy 2-core machine
END_TIMEOUT_S = 180.0
POLL_S = 0.02


@dataclass
class RunOutcome:
    index: int
    run_id: Optional[int] = None
    victim: str = ""  # "worker" | "supervisor"
    killed: bool = False  # False: the process had already ended (the run finished first)
    problem: Optional[str] = None  # something went wrong before the kill, in words
    status: Optional[str] = None  # the run's status in the store at the end


@dataclass
class ChaosResult:
    runs: int
    outcomes: list[RunOutcome]
    statuses: Counter
    settled: int
    rows_seen: int
    rows_lost: int
    integrity: str
    blocks_ok: bool
    violations: list[str] = field(default_factory=list)
    train_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def killed(self, victim: str) -> int:
        return sum(1 for o in self.outcomes if o.killed and o.victim == victim)

    def summary(self) -> str:
        missed = sum(1 for o in self.outcomes if not o.killed and o.problem is None)
        late = f" ({missed} ended before their kill)" if missed else ""
        return (f"chaos: {self.runs} runs, {self.killed('worker')} workers and "
                f"{self.killed('supervisor')} supervisors killed{late}; {self.settled}/{self.runs} runs "
                f"settled, {self.rows_lost} metric rows lost (of {self.rows_seen} seen before a kill), "
                f"integrity {self.integrity}{'' if self.blocks_ok else ', metric_blocks disagree'}")


class Store:
    """Plain SQL on the run store (what any tool could read); one connection per call."""

    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite:///{path}"

    def query(self, sql: str, *args: object) -> list[tuple]:
        con = sqlite3.connect(self.path, timeout=60)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def run_row(self, name: str) -> Optional[tuple]:
        """(id, status, pid, started_at) of the run named `name`, None before its row exists."""
        rows = self.query("SELECT id, status, pid, started_at FROM runs WHERE name = ?", name)
        return rows[0] if rows else None

    def metric_rows(self) -> set[tuple[int, str, int]]:
        return set(self.query("SELECT run_id, key, step FROM metrics"))


def make_spec(folder: Path, name: str, epochs: int, seed: int) -> Path:
    data = json.loads(TEMPLATE.read_text())
    data["name"] = name
    data["seed"] = seed
    data["training"].update(epochs=epochs, device="cpu")
    data["regularization"]["early_stopping"] = None  # every run trains its epochs
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def start_supervisor(folder: Path, store: Store, name: str, epochs: int, seed: int) -> subprocess.Popen:
    spec = make_spec(folder, name, epochs, seed)
    log = open(folder / f"{name}.log", "wb")
    try:
        return subprocess.Popen([*SUPERVISOR, str(spec), "--db", store.url], cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        log.close()  # the child has its own descriptor


def wait_training(store: Store, name: str, sup: subprocess.Popen) -> tuple[int, int]:
    """(run id, worker pid) once the run's row says it trains; raises if the supervisor ends first."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        row = store.run_row(name)
        if row is not None and row[1] in LIVE and row[2] is not None and row[3] is not None:
            return row[0], row[2]
        if row is not None and row[1] in TERMINAL:
            raise RuntimeError(f"run {row[0]} ended {row[1]} before it was seen training")
        if sup.poll() is not None:
            raise RuntimeError(f"the supervisor exited ({sup.returncode}) before its run trained")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not training after {START_TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)


def is_worker(pid: int, run_id: int) -> bool:
    """The live process `pid` is run `run_id`'s worker (not a reused pid, not a zombie)."""
    try:
        proc = psutil.Process(pid)
        cmd = proc.cmdline()
        return (proc.status() != psutil.STATUS_ZOMBIE and "engine.worker" in cmd
                and str(run_id) in cmd)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def wait_gone(pid: int, run_id: int, timeout: float) -> bool:
    """Wait until run `run_id`'s worker `pid` has ended (not our child: psutil, zombies count as ended)."""
    deadline = time.monotonic() + timeout
    while is_worker(pid, run_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Chaos:
    def __init__(self, folder: Path, *, epochs: int, seed: int, log: Callable[[str], None]):
        self.folder, self.epochs, self.seed, self.log = folder, epochs, seed, log
        self.store = Store(folder / "chaos.db")
        self.seen: set[tuple[int, str, int]] = set()  # metric rows committed before some kill
        self._lock = threading.Lock()  # one snapshot-then-kill at a time
        self.worker_pids: dict[int, int] = {}  # run id -> worker pid

    def calibrate(self, jobs: int) -> float:
        """Median training time (row started -> finished) of `jobs` unkilled runs trained at once."""
        with ThreadPoolExecutor(jobs) as pool:
            ids = list(pool.map(self._unkilled, range(jobs)))
        rows = self.store.query(
            f"SELECT (julianday(finished_at) - julianday(started_at)) * 86400, status FROM runs "
            f"WHERE id IN ({','.join('?' * len(ids))})", *ids)
        bad = [status for _, status in rows if status != "completed"]
        if bad:
            raise RuntimeError(f"calibration runs did not complete: {bad} (see {self.folder})")
        return statistics.median(t for t, _ in rows)

    def _unkilled(self, i: int) -> int:
        name = f"calibration-{i}"
        sup = start_supervisor(self.folder, self.store, name, self.epochs, self.seed)
        run_id, _ = wait_training(self.store, name, sup)
        sup.wait(timeout=END_TIMEOUT_S)
        return run_id

    def one_run(self, i: int, train_s: float) -> RunOutcome:
        rng = random.Random(f"{self.seed}:{i}")  # the same choices for the same seed, whatever the timing
        out = RunOutcome(i, victim=rng.choice(("worker", "supervisor")))
        delay = rng.uniform(0.0, train_s)
        name = f"chaos-{i}"
        sup = start_supervisor(self.folder, self.store, name, self.epochs, self.seed + i)
        try:
            out.run_id, pid = wait_training(self.store, name, sup)
            self.worker_pids[out.run_id] = pid
            time.sleep(delay)
            with self._lock:
                self.seen |= self.store.metric_rows()
                if out.victim == "worker":
                    if is_worker(pid, out.run_id):
                        os.kill(pid, signal.SIGKILL)
                        out.killed = True
                elif sup.poll() is None:
                    sup.kill()
                    out.killed = True
        except Exception as e:
            out.problem = f"run {i}: {e}"
        finally:
            try:
                sup.wait(timeout=END_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                out.problem = out.problem or f"run {i}: its supervisor did not end in {END_TIMEOUT_S:.0f} s"
                sup.kill()
                sup.wait()
        if out.run_id is not None and not wait_gone(self.worker_pids[out.run_id], out.run_id, END_TIMEOUT_S):
            out.problem = out.problem or f"run {out.run_id}: its worker did not end in {END_TIMEOUT_S:.0f} s"
        self.log(f"  run {i:3d} (#{out.run_id}): {out.victim} "
                 f"{'killed' if out.killed else 'not killed'} after {delay:.2f} s"
                 + (f" — {out.problem}" if out.problem else ""))
        return out

    def check(self, runs: int, outcomes: list[RunOutcome], train_s: float, elapsed_s: float) -> ChaosResult:
        from engine.store import RunStore

        RunStore(self.store.url).close()  # marks runs whose worker is gone crashed, as any opener does
        violations = [o.problem for o in outcomes if o.problem]
        statuses: Counter = Counter()
        settled = 0
        for o in outcomes:
            if o.run_id is None:
                continue
            [(status, pid)] = self.store.query("SELECT status, pid FROM runs WHERE id = ?", o.run_id)
            o.status = status
            statuses[status] += 1
            if status in TERMINAL or (status in LIVE and pid is not None and is_worker(pid, o.run_id)):
                settled += 1
            else:
                violations.append(f"run {o.run_id} ({o.victim} killed) is left {status} with no live worker")
        lost = self.seen - self.store.metric_rows()
        for run_id, key, step in sorted(lost)[:10]:
            violations.append(f"run {run_id}: metric {key} at step {step} was committed before a kill and is gone")
        integrity = "; ".join(r[0] for r in self.store.query("PRAGMA integrity_check"))
        if integrity != "ok":
            violations.append(f"integrity_check: {integrity}")
        # metric_blocks is rewritten in the same transaction as each metrics batch.
        disagree = self.store.query(
            "SELECT b.run_id, b.key, b.block, b.n, COUNT(m.step) FROM metric_blocks b "
            "LEFT JOIN metrics m ON m.run_id = b.run_id AND m.key = b.key AND (m.step >> 5) = b.block "
            "GROUP BY b.run_id, b.key, b.block HAVING b.n != COUNT(m.step)")
        violations += [f"run {r}: metric_blocks {k} block {b} counts {n} rows, metrics has {c}"
                       for r, k, b, n, c in disagree[:10]]
        return ChaosResult(runs=runs, outcomes=outcomes, statuses=statuses, settled=settled,
                           rows_seen=len(self.seen), rows_lost=len(lost), integrity=integrity,
                           blocks_ok=not disagree, violations=violations, train_s=train_s,
                           elapsed_s=elapsed_s)


def chaos(runs: int, *, folder: Path, jobs: int = 3, seed: int = 0, epochs: int = 3,
          train_s: Optional[float] = None, log: Callable[[str], None] = lambda line: None) -> ChaosResult:
    """Start `runs` runs (`jobs` at a time) in a new store under `folder`, SIGKILL
    each one's worker or supervisor at a seeded random moment, then check the store.
    train_s: the span the kill moment is drawn from (default: measured by calibration runs)."""
    from engine.store import RunStore

    folder.mkdir(parents=True, exist_ok=True)
    c = Chaos(folder, epochs=epochs, seed=seed, log=log)
    RunStore(c.store.url).close()  # created (migrated) once, before supervisors open it at the same time
    if train_s is None:
        train_s = c.calibrate(jobs)
        log(f"calibration: {jobs} unkilled runs trained in {train_s:.2f} s (median)")
    t0 = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        outcomes = list(pool.map(lambda i: c.one_run(i, train_s), range(runs)))
    return c.check(runs, outcomes, train_s, time.monotonic() - t0)


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20, help="runs to start and kill (default 20)")
    p.add_argument("--jobs", type=int, default=3, help="runs training at once (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the victims and kill moments (default 0)")
    p.add_argument("--epochs", type=int, default=3, help="epochs each run would train (default 3)")
    p.add_argument("--dir", default=None, help="where the temporary store goes (default: the system temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the store and the supervisors' logs")
    p.add_argument("-v", "--verbose", action="store_true", help="a line per run")
    args = p.parse_args()
    print(f"{load()}; {args.runs} runs, {args.jobs} at a time, seed {args.seed}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="layerdeck-chaos-", dir=args.dir))
    log = (lambda line: print(line, flush=True)) if args.verbose else (lambda line: None)
    try:
        result = chaos(args.runs, folder=folder, jobs=args.jobs, seed=args.seed, epochs=args.epochs, log=log)
    finally:
        if args.keep:
            print(f"store and logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"kill moments drawn from 0–{result.train_s:.2f} s of training; final statuses: "
          + ", ".join(f"{n} {s}" for s, n in sorted(result.statuses.items())))
    print(f"{result.elapsed_s:.0f} s for {result.runs} runs; {load()}")
    for v in result.violations:
        print(f"VIOLATION: {v}")
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
