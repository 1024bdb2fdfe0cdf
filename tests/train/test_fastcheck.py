"""The RL reward check's worker handling (fastcheck.FastChecker): every answer is judged by a worker that
no earlier answer broke. A CUDA fault leaves its process's context lost, and every later answer in that
process then fails whatever its code; the H100 run of 90c16c8 scored answers the CPU interpreter finds
correct (elementwise abs, relu, square) as runtime errors."""

from __future__ import annotations

import pytest

from drtriton.train import fastcheck
from drtriton.train.fastcheck import FastChecker, device_healthy

LOST = "RuntimeError: CUDA error: an illegal memory access was encountered"


class _FakeProc:
    def __init__(self):
        self.alive, self.exitcode = True, None

    def is_alive(self):
        return self.alive


class _FakeSlot:
    """A worker as the parent sees it, run in-process: the answer's tag says what it does. Like a real
    process, a worker whose device broke fails every later answer (if the parent kept using it)."""

    made: list = []  # noqa: RUF012 - every slot made in a test, reset by the fixture
    closer = None  # the tag "closing" calls it mid-answer (a close() from another thread)

    def __init__(self, device):
        self.proc, self.ready, self.broken, self.job, self.greeted = _FakeProc(), False, False, None, False
        self.conn = self
        _FakeSlot.made.append(self)

    def send(self, job):
        self.job = job

    def recv(self, timeout):
        if not self.greeted:
            self.greeted = True
            return ("ready", "", None)
        tag = self.job[1].rsplit("# tag ", 1)[-1].strip()
        if self.broken:
            return ("runtime_error", LOST, LOST)
        if tag == "poison":
            self.broken = True
            return ("runtime_error", LOST, LOST)
        if tag == "crash":
            self.proc.alive, self.proc.exitcode = False, -11
            return None
        if tag == "hang":
            return None
        if tag == "closing":
            _FakeSlot.closer()
            return None
        return ("correct" if tag == "good" else "incorrect", "", None)

    def kill(self):
        self.proc.alive = False


@pytest.fixture
def fake_slots(monkeypatch):
    _FakeSlot.made = []
    monkeypatch.setattr(fastcheck, "_Slot", _FakeSlot)
    return _FakeSlot.made


def _pairs(tiny_problems, tags):
    problem, solution = tiny_problems[0]
    return [(problem, f"{solution}\n# tag {t}\n") for t in tags]


def test_an_answer_after_one_that_broke_the_device_gets_a_fresh_worker(tiny_problems, fake_slots):
    check = FastChecker(workers=1, device="cuda")
    verdicts = check(_pairs(tiny_problems, ["good", "poison", "good", "good", "wrong"]))
    assert [v.status for v in verdicts] == ["correct", "runtime_error", "correct", "correct", "incorrect"]
    assert verdicts[1].reason == LOST
    assert len(fake_slots) == 2 and check.replaced["device_error"] == 1 and check.restarts == 1


def test_a_crash_or_a_hang_is_charged_to_its_own_answer_only(tiny_problems, fake_slots):
    check = FastChecker(workers=1, device="cuda", timeout_s=0.01)
    verdicts = check(_pairs(tiny_problems, ["crash", "good", "hang", "good"]))
    assert [v.status for v in verdicts] == ["runtime_error", "correct", "timeout", "correct"]
    assert "died" in verdicts[0].reason and "exit code -11" in verdicts[0].reason
    assert check.replaced == {"device_error": 0, "died": 1, "timeout": 1, "start_failed": 0}


def test_an_answer_running_at_close_comes_back_unjudged_and_the_checker_reopens(tiny_problems, fake_slots):
    check = FastChecker(workers=1, device="cuda")
    check.warm()
    assert check.started == 1
    _FakeSlot.closer = check.close
    assert check(_pairs(tiny_problems, ["closing"])) == [None]  # unmeasured, never a made-up verdict
    assert check.started == 0 and check.restarts == 0
    assert [v.status for v in check(_pairs(tiny_problems, ["good"]))] == ["correct"]
    assert check.started == 1


def test_device_healthy_on_cpu():
    assert device_healthy("cpu") is None


POISON_PROBLEM = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def _lost(*args, **kwargs):
    raise RuntimeError("CUDA error: an illegal memory access was encountered (simulated)")


def get_inputs():
    x = torch.randn(33, 17)
    # what a CUDA fault does to a process: every later call on the device fails
    for name in ("ones", "randn", "manual_seed", "empty_like"):
        setattr(torch, name, _lost)
    return [x]


def get_init_inputs():
    return []
'''


@pytest.mark.slow  # spawns two workers that import torch and Triton (~10-20 s each here)
def test_real_workers_replace_a_process_an_answer_left_broken(tiny_problems):
    (problem, good), _ = tiny_problems
    check = FastChecker(workers=1, device="cpu", timeout_s=60.0)
    try:
        verdicts = check([(POISON_PROBLEM, good), (problem, good), (problem, good)])
    finally:
        check.close()
    assert [v.status for v in verdicts] == ["runtime_error", "correct", "correct"]
    assert check.replaced["device_error"] == 1
