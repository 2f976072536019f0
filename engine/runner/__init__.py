"""Running runs in worker processes (DESIGN.md §3). Qt-free; app.bridge wraps it.

    runner = Runner(db_url)                 # concurrency={"cpu": 1, "cuda:0": 1} by default
    unsubscribe = runner.subscribe(print)   # events arrive on reader threads
    run_id = runner.submit(spec)            # the queued row exists when this returns
    runner.pause(run_id); runner.resume(run_id); runner.stop(run_id)
    runner.wait(run_id, timeout=60)         # -> "completed" | "stopped" | "failed" | "crashed"
    runner.shutdown()                       # or shutdown(stop_runs=False, detach=True): they train on
    runner.detach(run_id)                   # that run trains on without this process; no more events
    stop_external(store, run_id)            # stop a run another (closed) app left training: None or why not
    pause_external(store, run_id)           # pause it (SIGUSR1; POSIX only): None or why not
    resume_external(store, run_id)          # resume it (SIGUSR2): None or why not

The worker side lives here too: the event sender and the store writer that
`python -m engine.worker` runs on its own threads.
"""
from engine.runner.executor import EventCallback, Executor
from engine.runner.external import (external_pause_problem, external_resume_problem, external_stop_problem,
                                    pause_external, resume_external, stop_external)
from engine.runner.local import LocalExecutor, describe_exit
from engine.runner.runner import Runner

__all__ = ["EventCallback", "Executor", "LocalExecutor", "Runner", "describe_exit", "external_pause_problem",
           "external_resume_problem", "external_stop_problem", "pause_external", "resume_external",
           "stop_external"]
