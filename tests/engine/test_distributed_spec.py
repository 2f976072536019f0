"""training.distributed: its checks (each naming its path) and the command the
LocalExecutor starts for it."""
from __future__ import annotations

import pytest

from engine.runner.local import launch_command
from engine.spec import SpecError, parse_spec

WORKER = ["python", "-m", "engine.worker"]


def errors(training: dict) -> list[str]:
    with pytest.raises(SpecError) as e:
        parse_spec({"training": training})
    return e.value.errors


def test_no_distributed_section_is_one_process():
    assert parse_spec({}).training.distributed is None
    spec = parse_spec({"training": {"device": "cpu", "distributed": {"nproc": 2}}})
    assert spec.training.distributed is not None and spec.training.distributed.backend == "gloo"
    assert parse_spec(spec.to_dict()) == spec  # round-trips


@pytest.mark.parametrize("distributed, message", [
    ({"nproc": 0}, "training.distributed.nproc: must be >= 1"),
    ({"nproc": 2, "backend": "mpi"}, "training.distributed.backend: must be 'gloo' or 'nccl'"),
    ({"nproc": 2, "backend": "nccl"}, "training.distributed: backend nccl needs a CUDA device"),
    ({"nproc": 128}, "training.distributed.nproc: must be <= 64"),
    ({"nproc": 2, "nprocs": 3}, "training.distributed.nprocs: unknown key; did you mean nproc?"),
])
def test_bad_distributed_settings_are_named(distributed, message):
    found = errors({"device": "cpu", "distributed": distributed})
    assert any(m.startswith(message) for m in found), found


def test_nccl_is_fine_with_a_cuda_device_and_every_process_needs_a_share_of_the_batch():
    assert parse_spec({"training": {"device": "cuda", "distributed": {"nproc": 2, "backend": "nccl"}}})
    found = errors({"device": "cpu", "batch_size": 2, "distributed": {"nproc": 4}})
    assert found == ["training.distributed: nproc 4 is more than training.batch_size 2: "
                     "every process needs a share of each batch"]


def test_the_executor_starts_torchrun_for_a_distributed_run():
    assert launch_command(WORKER, {"training": {"device": "cpu"}}) == WORKER
    assert launch_command(WORKER, {"training": {"distributed": {"nproc": 3}}}) == [
        "python", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=3", "-m", "engine.worker"]


def test_a_global_batch_is_shared_out_consistently():
    import torch

    from engine.training.distributed import Group
    from engine.training.feeds import batches_per_epoch

    groups = [Group(r, 3, r, "gloo", torch.device("cpu")) for r in range(3)]
    batch = torch.arange(10)
    shares = [g.share(batch) for g in groups]
    assert torch.equal(torch.cat(shares), batch) and {len(s) for s in shares} == {3, 4}
    assert [g.span(10) for g in groups] == [(0, 3), (3, 6), (6, 10)]
    # A trailing batch too small for two samples per process is dropped, as one sample is in one process.
    assert batches_per_epoch(70, 64) == 2 and batches_per_epoch(70, 64, processes=3) == 2
    assert batches_per_epoch(69, 64, processes=3) == 1 and batches_per_epoch(65, 64) == 1


def test_a_lost_peer_is_told_apart_from_other_errors():
    from engine.training.distributed import peer_lost

    assert peer_lost(RuntimeError("[pair.cc:553] Connection closed by peer [127.0.0.1]:27806."))
    assert not peer_lost(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not peer_lost(ValueError("Connection closed by peer"))
