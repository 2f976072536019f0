"""engine.monitor: the NVML path with a fake NVML injected at the import
boundary, the psutil path for real, aggregation and the sampling thread."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from engine.monitor import (
    NO_GPU_MESSAGE,
    Aggregator,
    SamplerThread,
    SystemPoint,
    SystemSampler,
    describe_gpus,
    torch_cuda_memory,
)
from engine.monitor.fake_nvml import FakeNvml


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def as_dict(samples):
    keys = [k for k, _ in samples]
    assert len(keys) == len(set(keys)), f"duplicate keys in {keys}"
    return dict(samples)


def test_fake_nvml_injected_through_sys_modules_gives_two_gpus(monkeypatch):
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = SystemSampler()
    assert [(g.index, g.name) for g in sampler.gpus] == [
        (0, "NVIDIA H100 80GB HBM3"), (1, "NVIDIA GeForce RTX 4090")]
    assert sampler.gpus[1].mem_total_mb == pytest.approx(24564)
    assert sampler.message is None
    assert fake.calls["nvmlInit"] == 1


def test_gpu_values_are_sampled_per_gpu_and_change_between_samples():
    sampler = SystemSampler(nvml=FakeNvml())
    first, second = as_dict(sampler.sample()), as_dict(sampler.sample())
    for i, (total, limit) in enumerate([(81559, 700), (24564, 450)]):
        assert 0 <= first[f"gpu{i}/util_percent"] <= 100
        assert 0 < first[f"gpu{i}/mem_used_mb"] < first[f"gpu{i}/mem_total_mb"] == pytest.approx(total)
        assert 20 < first[f"gpu{i}/temp_c"] < 100
        assert 0 < first[f"gpu{i}/power_w"] <= first[f"gpu{i}/power_limit_w"] == pytest.approx(limit)
        assert first[f"gpu{i}/sm_clock_mhz"] > 0
        assert first[f"gpu{i}/util_percent"] != second[f"gpu{i}/util_percent"]
        assert first[f"gpu{i}/mem_used_mb"] != second[f"gpu{i}/mem_used_mb"]


def test_nvml_is_initialised_once_and_handles_are_cached():
    fake = FakeNvml()
    sampler = SystemSampler(nvml=fake)
    for _ in range(5):
        sampler.sample()
    assert fake.calls["nvmlInit"] == 1
    assert fake.calls["nvmlDeviceGetHandleByIndex"] == 2


def test_not_supported_metric_is_asked_once_per_gpu_then_left_out():
    fake = FakeNvml(not_supported={"nvmlDeviceGetPowerUsage"})
    sampler = SystemSampler(nvml=fake)
    for _ in range(4):
        values = as_dict(sampler.sample())
    assert fake.calls["nvmlDeviceGetPowerUsage"] == 2  # once for each GPU, never again
    assert "gpu0/power_w" not in values and "gpu1/power_w" not in values
    assert values["gpu0/power_limit_w"] == pytest.approx(700)  # the other metrics go on
    assert sampler.message is None


def test_nvml_error_mid_run_stops_gpu_sampling_with_one_message_and_cpu_goes_on():
    fake = FakeNvml()
    sampler = SystemSampler(nvml=fake)
    assert "gpu0/util_percent" in as_dict(sampler.sample())
    fake.fail(15)
    after = as_dict(sampler.sample())
    assert not any(k.startswith("gpu") for k in after)
    assert {"cpu/percent", "ram/used_mb"} <= after.keys()
    assert sampler.message.startswith("GPU monitoring stopped") and "GPU is lost" in sampler.message
    assert sampler.message.endswith("showing CPU and memory")
    calls = sum(fake.calls.values())
    again = as_dict(sampler.sample())
    assert sum(fake.calls.values()) == calls  # NVML is left alone after the error
    assert "cpu/percent" in again and sampler.gpus  # the GPUs found stay listed


@pytest.mark.parametrize("fake", [None, FakeNvml(init_error=12), FakeNvml(init_error=9), FakeNvml(gpus=[])])
def test_no_nvidia_gpu_says_so_and_samples_cpu_and_ram(monkeypatch, fake):
    if fake is None:  # nvidia-ml-py not installed at all
        monkeypatch.setitem(sys.modules, "pynvml", None)
    sampler = SystemSampler(nvml=fake)
    assert sampler.gpus == []
    assert sampler.message == NO_GPU_MESSAGE == "No NVIDIA GPU detected — showing CPU and memory"
    values = as_dict(sampler.sample())
    assert {"cpu/percent", "ram/used_mb", "ram/total_mb"} == values.keys()
    assert describe_gpus(sampler.gpus) == "CPU only"


def test_cpu_ram_and_process_figures_are_real_and_plausible():
    sampler = SystemSampler(pids=[os.getpid()])
    sum(i * i for i in range(200_000))  # some CPU time between the two samples
    values = as_dict(sampler.sample())
    assert 0.0 <= values["cpu/percent"] <= 100.0
    assert 0 < values["ram/used_mb"] < values["ram/total_mb"]
    assert 10 < values["proc/rss_mb"] < values["ram/total_mb"]  # this Python process, at least 10 MB
    assert "proc/gpu_mem_mb" not in values  # no GPU here, or a fake without our pid


def test_process_rss_counts_children_and_drops_ended_pids():
    import psutil

    code = "import sys, time; x = b'x' * (50 * 2**20); print('ready', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"  # its 50 MB are touched
        me = os.getpid()
        with_child = SystemSampler(proc_interval=0.0).process_rss([me])[me]
        alone = psutil.Process(me).memory_info().rss / 2**20
        assert with_child - alone > 45  # the child's 50 MB count towards its parent
        assert SystemSampler().process_rss([child.pid])[child.pid] > 45
    finally:
        child.kill()
        child.wait()
    assert SystemSampler().process_rss([child.pid]) == {}


def test_process_gpu_memory_matches_pids_and_children_and_is_listed_every_few_seconds():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        me = os.getpid()
        fake = FakeNvml(processes={0: [(me, 1000.0), (4_000_000, 99.0)], 1: [(child.pid, 500.0)]})
        clock = Clock()
        sampler = SystemSampler(pids=[me], nvml=fake, clock=clock, proc_interval=5.0)
        assert sampler.process_gpu_mem([me]) == {me: pytest.approx(1500.0)}  # own + child's on GPU 1
        assert sampler.process_gpu_mem([child.pid]) == {child.pid: pytest.approx(500.0)}
        assert as_dict(sampler.sample())["proc/gpu_mem_mb"] == pytest.approx(1500.0)
        assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 2  # one list per GPU so far
        clock.now = 4.0
        sampler.sample()
        assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 2  # not re-listed within 5 s
        clock.now = 5.5
        sampler.sample()
        assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 4
    finally:
        child.kill()
        child.wait()


def test_aggregator_writes_means_per_window_and_flushes_the_rest():
    agg = Aggregator(period=5.0)
    out = []
    for t in range(12):  # 1 s samples at t = 0..11
        out += agg.add([("cpu/percent", float(t)), ("gpu0/temp_c", 50.0)], wall_time=1000.0 + t)
    assert sorted(out) == sorted([
        SystemPoint("cpu/percent", 1002.0, 2.0), SystemPoint("gpu0/temp_c", 1002.0, 50.0),
        SystemPoint("cpu/percent", 1007.0, 7.0), SystemPoint("gpu0/temp_c", 1007.0, 50.0)])
    rest = agg.flush()
    assert sorted(rest) == [SystemPoint("cpu/percent", 1010.5, 10.5), SystemPoint("gpu0/temp_c", 1010.5, 50.0)]
    assert agg.flush() == []


def test_aggregator_skips_nan_and_rejects_a_bad_period():
    agg = Aggregator(period=2.0)
    agg.add([("cpu/percent", float("nan")), ("ram/used_mb", 10.0)], wall_time=0.0)
    assert agg.flush() == [SystemPoint("ram/used_mb", 0.0, 10.0)]
    with pytest.raises(ValueError, match="period must be > 0"):
        Aggregator(period=0)


def test_sampler_thread_delivers_samples_until_stopped():
    got: list = []
    enough = threading.Event()

    def on_samples(samples):
        got.append(dict(samples))
        if len(got) >= 3:
            enough.set()

    thread = SamplerThread(SystemSampler(nvml=FakeNvml()), interval=0.01, on_samples=on_samples)
    thread.start()
    assert enough.wait(10)
    thread.stop()
    assert not thread.is_alive()
    count = len(got)
    assert all("gpu1/util_percent" in s and "cpu/percent" in s for s in got)
    assert len(got) == count  # nothing after stop()


def test_sampler_thread_survives_a_failing_callback():
    calls = []
    enough = threading.Event()

    def broken(samples):
        calls.append(1)
        if len(calls) >= 2:
            enough.set()
        raise RuntimeError("consumer bug")

    thread = SamplerThread(SystemSampler(), interval=0.01, on_samples=broken)
    thread.start()
    assert enough.wait(10)
    thread.stop()


def test_torch_cuda_memory_is_empty_without_cuda():
    assert torch_cuda_memory("cpu") == []
    # No CUDA on this machine: even a CUDA device asks nothing of the driver.
    import torch
    if not torch.cuda.is_available():
        assert torch_cuda_memory("cuda:0") == []


def test_describe_gpus_for_the_status_bar():
    sampler = SystemSampler(nvml=FakeNvml(gpus=[("NVIDIA GeForce RTX 4090", 24564, 450)]))
    assert describe_gpus(sampler.gpus) == "NVIDIA GeForce RTX 4090 · 24 GB"
    assert describe_gpus(SystemSampler(nvml=FakeNvml()).gpus).startswith("2 GPUs: NVIDIA H100")


def test_process_memory_is_unknown_not_zero_when_the_driver_cannot_list_processes():
    fake = FakeNvml(not_supported={"nvmlDeviceGetComputeRunningProcesses"})
    sampler = SystemSampler(pids=[os.getpid()], nvml=fake, proc_interval=0.0)
    assert sampler.process_gpu_mem([os.getpid()]) == {}
    assert "proc/gpu_mem_mb" not in as_dict(sampler.sample())
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 1  # NotSupported: not asked again
    assert "gpu0/util_percent" in as_dict(sampler.sample())
