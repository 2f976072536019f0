"""A worker's CPU threads: its share of the cores, so runs at once add up instead of fighting."""
from __future__ import annotations

from engine.worker.threads import CPU_WORKERS_ENV, cpu_share, planned_threads, usable_cores


def test_each_worker_gets_its_share_and_never_none():
    assert [cpu_share(16, n) for n in (1, 2, 4, 3)] == [16, 8, 4, 5]
    assert cpu_share(2, 4) == 1 and cpu_share(2, 0) == 2


def test_the_runners_cpu_concurrency_sets_the_share():
    threads, why = planned_threads({CPU_WORKERS_ENV: "2"})
    assert threads == max(1, usable_cores() // 2)
    assert "shared by 2" in why and "concurrency" in why


def test_a_data_parallel_runs_processes_split_their_share():
    threads, _ = planned_threads({CPU_WORKERS_ENV: "1", "LOCAL_WORLD_SIZE": "2"})
    assert threads == max(1, usable_cores() // 2)


def test_without_the_runners_word_the_live_workers_on_this_host_count():
    threads, why = planned_threads({})
    assert threads is not None and 1 <= threads <= usable_cores()
    assert "live on this host" in why


def test_a_users_omp_num_threads_is_kept():
    threads, why = planned_threads({"OMP_NUM_THREADS": "3", CPU_WORKERS_ENV: "4"})
    assert threads is None and "OMP_NUM_THREADS=3" in why
