"""The demo store: valid specs, realistic summaries and curves, every status."""
from __future__ import annotations

import numpy as np
import pytest

from engine.demo import create_demo_store, demo_specs
from engine.spec import parse_spec
from engine.store import RunStore


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'runs.db'}"
    ids = create_demo_store(url, n_runs=9)
    store = RunStore(url)
    yield store, ids
    store.close()


def test_runs_are_tagged_demo_with_every_status(demo):
    store, ids = demo
    runs = {r.id: r for r in store.list_runs()}
    assert sorted(runs) == sorted(ids) and len(ids) == 9
    assert all("demo" in r.tags for r in runs.values())
    assert {r.status for r in runs.values()} == {"completed", "stopped", "failed", "running"}
    failed = next(r for r in runs.values() if r.status == "failed")
    assert "NaN" in failed.error and "lower learning rate" in failed.error


def test_specs_are_valid_and_differ_in_what_people_sweep(demo):
    store, ids = demo
    specs = [store.get_run(i).spec for i in ids]
    for spec in specs:
        assert parse_spec(spec).to_dict() == spec
    assert {s["data"]["name"] for s in specs} == {"digits", "iris", "mnist1d"}
    assert len({s["optimizer"]["type"] for s in specs}) >= 3
    assert len({s["optimizer"]["lr"] for s in specs}) >= 3
    assert len({s["training"]["batch_size"] for s in specs}) >= 3
    more = demo_specs(12)
    assert len(more) == 12 and len({s["name"] for s, _ in more}) == 12  # variations get their own names


def test_curves_look_like_training(demo):
    store, ids = demo
    first = store.get_run(ids[0])
    assert first.summary["params"] > 1000
    assert first.duration_s and first.duration_s > 10
    curves = {c.key: c for c in store.get_curves([ids[0]])}
    loss, acc = curves["val/loss"].values, curves["val/accuracy"].values
    assert loss[-1] < loss[0] * 0.5                      # loss decays ...
    assert np.abs(np.diff(curves["train/loss_step"].values)).sum() > 0  # ... with noise
    assert 0.9 < acc[-3:].mean() < 1.0 and acc[0] < acc[-1]  # accuracy saturates
    assert "test/accuracy" in curves
    assert (np.diff(curves["train/loss_step"].wall_times) >= 0).all()


def test_system_metrics_include_two_fake_gpus(demo):
    store, ids = demo
    keys = {c.key for c in store.get_system_curves([ids[0]])}
    assert {"cpu/percent", "gpu0/mem_used_mb", "gpu1/util_percent", "gpu0/power_w"} <= keys


def test_runs_have_checkpoint_rows_except_the_failed_one(demo):
    store, ids = demo
    for run in store.list_runs():
        kinds = {c.kind for c in store.checkpoints(run.id)}
        assert kinds == (set() if run.status == "failed" else {"best", "last"})
