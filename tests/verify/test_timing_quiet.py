"""What a timing holds the GPU alone for (timing.time_interleaved with gpu_quiet): only the pad
calibration, the timed samples and the host-clock check. Warm-up calls and the clock ramp run before,
while other workers' GPU work goes on, and the ramp continues while the timer waits for the GPU.

CUDA is faked (events, synchronize, spin, flush buffer), so this runs on CPU; a fake lock logs when the
exclusive section begins and ends."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import torch

from drtriton.verify import gpu_quiet, timing, warmup


class FakeEvent:
    clock = 0.0

    def __init__(self, enable_timing=True):
        self.t = None

    def record(self):
        FakeEvent.clock += 1.0
        self.t = FakeEvent.clock

    def elapsed_time(self, end):
        return end.t - self.t


class FakeFlush:
    def zero_(self):
        return self


class RecordingQuiet:
    """Logs 'exclusive' / 'alone over'; while 'waiting' it runs `busy` rounds, as a lock held by others."""

    path = "fake"

    def __init__(self, log: list, busy_rounds: int) -> None:
        self.log, self.busy_rounds = log, busy_rounds
        self.last_wait_s = self.last_hold_s = None

    @contextlib.contextmanager
    def exclusive(self, wait_s, busy=None):
        for _ in range(self.busy_rounds):
            if busy is None:
                self.log.append("slept")  # the GPU idles while the timer waits, and its clock drops
            else:
                busy()
        self.log.append("exclusive")
        self.last_wait_s = 0.25
        try:
            yield True
        finally:
            self.log.append("alone over")
            self.last_hold_s = 0.05


@pytest.fixture()
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "_sleep", lambda cycles: None, raising=False)
    monkeypatch.setattr(timing, "l2_flush_buffer", lambda device: FakeFlush())
    monkeypatch.setattr(timing, "_sleep_cycles_per_ms", lambda device: 1000.0)
    monkeypatch.setattr(timing, "WARMUP_S", 0.02)


def _contestants(log: list) -> dict:
    return {name: (lambda name=name: log.append(name)) for name in ("candidate", "eager")}


def test_only_the_timed_samples_hold_the_gpu_alone(fake_cuda, monkeypatch):
    log: list = []
    monkeypatch.setattr(gpu_quiet, "_current", RecordingQuiet(log, busy_rounds=3))
    cfg = {"n_timing": 7, "warmup": 4}
    notes: list[str] = []
    result = timing._time_quietly(_contestants(log), cfg, None, notes)
    start, end = log.index("exclusive"), log.index("alone over")
    before, alone = log[:start], log[start + 1 : end]
    # warm-up calls, then at least one ramp round of each before the timer asked for the GPU
    assert before[: 2 * cfg["warmup"]] == ["candidate"] * 4 + ["eager"] * 4
    assert before.count("candidate") >= cfg["warmup"] + 1 + 3  # and one more round per try while waiting
    # alone: n_timing samples of each plus the host-clock check (min(20, n_timing) calls each), nothing else
    assert alone.count("candidate") == alone.count("eager") == 2 * cfg["n_timing"]
    assert log[end + 1 :] == [] and "slept" not in log
    assert result["candidate"]["samples"] == [1.0] * cfg["n_timing"]
    assert notes == []


def test_timing_reports_its_wait_and_hold(fake_cuda, monkeypatch):
    log: list = []
    monkeypatch.setattr(gpu_quiet, "_current", RecordingQuiet(log, busy_rounds=0))
    phases: dict = {}
    timing._time_quietly(_contestants(log), {"n_timing": 3, "warmup": 1}, None, [], phases)
    assert phases == {"quiet_wait_s": 0.25, "quiet_hold_s": 0.05}
    # without a lock (CPU, or no lock file) nothing was waited for: nothing is reported
    monkeypatch.setattr(gpu_quiet, "_current", gpu_quiet.GpuQuiet(None))
    phases = {}
    timing._time_quietly(_contestants(log), {"n_timing": 3, "warmup": 1}, None, [], phases)
    assert phases == {}


def test_time_interleaved_without_a_lock_keeps_its_signature(fake_cuda):
    log: list = []
    result = timing.time_interleaved(_contestants(log), 5, 2, None)  # bench/codegen_gpu.py calls it so
    assert set(result) == {"candidate", "eager"}
    assert len(result["eager"]["samples"]) == 5


def test_a_timing_does_not_wait_for_a_worker_creating_its_cuda_context(fake_cuda, monkeypatch, tmp_path):
    """A spare's start-up under way (its context creation: 2 s here) must not delay a timing: on an H100
    every timing once waited ~1.9 s for start-ups (quiet_startups_wait_s), serialising the pool's timings."""
    path = str(tmp_path / "gpu")
    timer, spare = gpu_quiet.GpuQuiet(path), gpu_quiet.GpuQuiet(path)
    monkeypatch.setattr(gpu_quiet, "_current", timer)
    events: list[str] = []

    def create_context():
        events.append("context")
        time.sleep(2.0)
        events.append("context done")

    s = threading.Thread(
        target=lambda: warmup.start_up("cuda:0", spare, create_context=create_context, warm=lambda d: None)
    )
    s.start()
    deadline = time.monotonic() + 5
    while events != ["context"]:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    log: list = []
    notes: list[str] = []
    phases: dict = {}
    t0 = time.monotonic()
    timing._time_quietly(_contestants(log), {"n_timing": 5, "warmup": 2}, None, notes, phases)
    elapsed = time.monotonic() - t0
    context_still_running = events == ["context"]
    s.join(5)
    assert context_still_running  # the timing ended while the context was still being created
    assert elapsed < 0.5 and phases["quiet_wait_s"] < 0.2, (elapsed, phases)
    assert notes == [] and set(phases) == {"quiet_wait_s", "quiet_hold_s"}
