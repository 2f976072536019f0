"""bench/chaos.py in small: real `layerdeck train` supervisors over one store,
each run's worker or supervisor SIGKILLed while it trains. Every run settles
(a killed worker's run crashed, a killed supervisor's worker stopped with a
checkpoint), no metric row committed before a kill is lost, the store is sound."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def load_chaos():
    """bench/chaos.py as a module (bench/ is scripts, not a package)."""
    if "bench_chaos" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_chaos", CHAOS)
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_chaos"] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["bench_chaos"]


def test_killed_workers_and_supervisors_leave_every_run_settled_and_every_row(tmp_path):
    bench = load_chaos()
    # Seed 0 picks two workers and two supervisors; with 500 epochs every kill, drawn from
    # the first 2 s of training, lands while the run trains, however fast the machine.
    result = bench.chaos(4, folder=tmp_path / "chaos", jobs=2, seed=0, epochs=500, train_s=2.0)
    assert result.violations == []
    assert (result.killed("worker"), result.killed("supervisor")) == (2, 2)
    assert result.settled == 4 and result.rows_lost == 0 and result.integrity == "ok" and result.blocks_ok
    assert {(o.victim, o.status) for o in result.outcomes} == {("worker", "crashed"), ("supervisor", "stopped")}
    assert result.ok
