"""Running runs and reaching them (docs/ARCHITECTURE.md, "A run's life"). Qt-free;
app.bridge wraps it. The supervisor side; the worker side is engine.worker.

    runner = Runner(db_url)                 # concurrency={"cpu": 1, "cuda:0": 1} by default
    unsubscribe = runner.subscribe(print)   # events arrive on reader threads
    run_id = runner.submit(spec)            # the queued row exists when this returns
    runner.adopt()                          # follow every other active run in the store too
    runner.pause(run_id); runner.resume(run_id); runner.stop(run_id); runner.cancel(run_id)
                                            # any run: pipe, signal or store channel (a Delivery)
    runner.wait(run_id, timeout=60)         # -> "completed" | "stopped" | "failed" | "crashed"
    runner.shutdown()                       # or shutdown(stop_runs=False, detach=True): they train on
    runner.detach(run_id)                   # that run trains on without this process
"""
from engine.runner.control import Delivery
from engine.runner.executor import EventCallback, Executor
from engine.runner.local import LocalExecutor, describe_exit
from engine.runner.runner import Runner

__all__ = ["Delivery", "EventCallback", "Executor", "LocalExecutor", "Runner", "describe_exit"]
