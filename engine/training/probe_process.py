"""Run a probe (the LR finder or the sanity check) in its own process.

    result = run_probe("lr_find", spec, on_progress=print)

The probe trains a throw-away copy of the model; in its own process it
cannot change the caller's spec, model or CUDA state, and a crash or an
out-of-memory ends only that process. The spec goes in on stdin as JSON;
JSON lines come back on a stdout that nothing else writes to (the child
claims it first thing, as the worker does): `progress` lines while it works,
then one `result` or one `error` (a sentence for the user). The child's
stderr is its log: on a failure its last lines come back with the error.

`python -m engine.training.probe_process lr_find|sanity [--device D]`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import traceback
from collections import deque
from typing import Any, Callable, Optional

from engine.spec import RunSpec

TASKS = ("lr_find", "sanity")


class ProbeError(RuntimeError):
    """A probe that could not finish: `str()` is the sentence for the user, `log` the child's last lines."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


def run_probe(task: str, spec: RunSpec, *, device: str | None = None,
              on_progress: Callable[[dict[str, Any]], None] | None = None,
              cancel: threading.Event | None = None) -> dict[str, Any]:
    """The probe's result as a dict (LRFinderResult.to_dict or SanityReport.to_dict).
    Raises ProbeError with the child's words when it fails or is cancelled."""
    if task not in TASKS:
        raise ValueError(f"unknown probe {task!r}; known: {', '.join(TASKS)}")
    cmd = [sys.executable, "-m", "engine.training.probe_process", task]
    if device:
        cmd += ["--device", device]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", env=env)
    log: deque[str] = deque(maxlen=40)
    drain = threading.Thread(target=lambda: log.extend(proc.stderr or ()), daemon=True)
    drain.start()
    watcher: Optional[threading.Thread] = None
    if cancel is not None:
        def watch() -> None:
            while proc.poll() is None:
                if cancel.wait(0.2):
                    proc.kill()
                    return
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(spec.to_json())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    outcome: Optional[dict[str, Any]] = None
    for line in proc.stdout:
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue  # the stream is claimed; a stray line would be a bug in the child, not the user's problem
        if msg.get("kind") == "progress" and on_progress is not None:
            on_progress(msg)
        elif msg.get("kind") in ("result", "error"):
            outcome = msg
    code = proc.wait()
    drain.join(timeout=5)
    tail = "".join(log)
    if cancel is not None and cancel.is_set():
        raise ProbeError("cancelled", tail)
    if outcome is None:
        raise ProbeError(f"the {_title(task)} process ended without a result (exit status {code}); "
                         "its log says why", tail)
    if outcome["kind"] == "error":
        raise ProbeError(outcome["message"], tail)
    return dict(outcome["result"])


def _title(task: str) -> str:
    return {"lr_find": "LR finder", "sanity": "sanity check"}[task]


# --- the child ---------------------------------------------------------------------

def _main(argv: list[str] | None = None) -> int:
    from engine.worker.main import claim_stdout

    args = argparse.ArgumentParser(prog="python -m engine.training.probe_process")
    args.add_argument("task", choices=TASKS)
    args.add_argument("--device", default=None)
    ns = args.parse_args(argv)
    out = os.fdopen(claim_stdout(), "w", encoding="utf-8", buffering=1)
    from engine.worker.threads import apply_cpu_share

    apply_cpu_share()  # its share of the cores, as a worker takes (more threads than cores collapse throughput)

    def send(kind: str, **fields: Any) -> None:
        out.write(json.dumps({"kind": kind, **fields}) + "\n")

    try:
        result = _run(ns.task, ns.device, sys.stdin.read(), send)
    except Exception as e:  # every failure becomes one sentence; the traceback goes to the log
        send("error", message=_describe(e))
        traceback.print_exc()
        return 1
    send("result", result=result)
    return 0


def _run(task: str, device: Optional[str], spec_text: str, send: Callable[..., None]) -> dict[str, Any]:
    from engine.spec import parse_spec

    spec = parse_spec(json.loads(spec_text), "spec")
    if task == "lr_find":
        from engine.training.lr_finder import find_lr

        return find_lr(spec, device=device,
                       on_step=lambda step, lr, loss: send("progress", step=step, lr=lr, loss=loss)).to_dict()
    from engine.training.sanity import sanity_check

    return sanity_check(spec, device=device,
                        on_step=lambda step, loss: send("progress", step=step, loss=loss)).to_dict()


def _describe(e: Exception) -> str:
    from engine.data import DataError
    from engine.spec import SpecError
    from engine.training import device as dev
    from engine.training.errors import TrainingError

    if isinstance(e, (TrainingError, SpecError, DataError)):
        return str(e)
    if dev.is_out_of_memory(e):
        return "out of device memory: try a smaller training.batch_size or another device"
    return f"{type(e).__name__}: {e}"


if __name__ == "__main__":
    sys.exit(_main())
