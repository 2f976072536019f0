"""Data-parallel runs in the GUI: the processes field beside the device, the
memory check per process, and the Runs table's "× N" beside the batch."""
from __future__ import annotations

from dataclasses import dataclass

from app.pages.runs.table_model import COLUMN_INDEX, build_row
from app.pages.train.memory import MemoryCheck, describe_fit, process_batch, process_count
from app.pages.train.settings_form import SettingsForm
from engine.spec import RunSpec, parse_spec
from engine.store import RunStore


def test_the_processes_field_sets_training_distributed(qtbot):
    form = SettingsForm(RunSpec())
    qtbot.addWidget(form)
    assert form.processes.value() == 1 and form.spec_dict()["training"]["distributed"] is None
    with qtbot.waitSignal(form.edited) as sent:
        form.processes.setValue(2)
    assert sent.args[0]["training"]["distributed"] == {"nproc": 2, "backend": "gloo"}
    assert parse_spec(sent.args[0]).training.distributed.nproc == 2

    form.set_spec(parse_spec({"training": {"device": "cuda", "distributed": {"nproc": 4, "backend": "nccl"}}}))
    assert form.processes.value() == 4
    form.processes.setValue(3)
    assert form.spec_dict()["training"]["distributed"] == {"nproc": 3, "backend": "nccl"}  # backend kept
    form.processes.setValue(1)
    assert form.spec_dict()["training"]["distributed"] is None


@dataclass
class Gpu:
    index: int
    name: str = "GPU"
    mem_total_mb: float = 1000.0


def test_the_memory_check_counts_each_process_on_its_share_of_the_batch():
    spec = parse_spec({"training": {"device": "cpu", "batch_size": 64, "distributed": {"nproc": 3}}})
    assert process_count(spec) == 3 and process_batch(spec) == 22
    assert process_batch(parse_spec({})) == 64
    check = MemoryCheck()
    check.update([Gpu(0), Gpu(1)], {"ram/used_mb": 1000, "ram/total_mb": 2000,
                                    "gpu0/mem_used_mb": 0, "gpu1/mem_used_mb": 0})
    on_cpu = check.fit(100 * 2**20, "cpu", processes=3)  # three processes share the RAM
    assert on_cpu.need_bytes == 300 * 2**20 and on_cpu.fits
    assert "(3 processes)" in describe_fit(on_cpu)[0]
    on_gpus = check.fit(100 * 2**20, "cuda", processes=4)  # two per GPU
    assert on_gpus.need_bytes == 200 * 2**20 and on_gpus.processes == 2


def test_the_runs_table_shows_the_process_count_beside_the_batch(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    plain = store.create_run(parse_spec({"training": {"batch_size": 64}}).to_dict())
    ddp = store.create_run(parse_spec({"training": {"batch_size": 64, "distributed": {"nproc": 2}}}).to_dict())
    col = COLUMN_INDEX["batch"]
    for run in store.list_runs():
        row = build_row(run)
        expected = "64 × 2" if run.id == ddp else "64"
        assert row.display[col] == expected, run.id
        assert ("2 processes" in row.tips[col]) == (run.id == ddp)
    assert plain != ddp
