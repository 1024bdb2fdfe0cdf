"""Where one candidate's verification waits on another's or on its problem's baseline, parent side: the
per-GPU timing slot goes back as soon as a timing ends (a baseline's too, before its worker's cleanup), and
with max_running a candidate waiting for its problem's baseline leaves its turn to the next. Fake workers
stand in for GPU workers, so this runs on CPU."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from drtriton.verify import Status, VerifierPool, VerifyConfig, timing
from drtriton.verify.pool import ReferenceOutputs
from drtriton.verify.worker import _load_module, _make_case, fingerprint

PROBLEM_PATH = Path(__file__).resolve().parents[1] / "problems" / "relu.py"


class FakeBaselineWorker:
    """Speaks like a baseline worker (timing.baseline_in_worker + worker.main): asks for the GPU, times,
    says gpu_done, then cleans up (dynamo reset, gc) before its reply. Records whether the pool's timing
    slot was free again during that cleanup."""

    def __init__(self, slot_lock: threading.Lock) -> None:
        self.slot_lock = slot_lock
        self.slot_free_during_cleanup: bool | None = None

    def alive(self) -> bool:
        return True

    def request(self, req, timeout, on_need_gpu=None, on_gpu_done=None, **kw):
        assert req["op"] == "baseline"
        on_need_gpu()
        if on_gpu_done is not None:  # WorkerProcess.request calls it when the worker says gpu_done
            on_gpu_done()
        free = self.slot_lock.acquire(blocking=False)
        if free:
            self.slot_lock.release()
        self.slot_free_during_cleanup = free
        return {"kind": "baseline", "eager_ms": 1.0, "compile_ms": 0.5, "compile_samples": [0.5], "notes": []}

    def close(self) -> None:
        pass


def test_a_baseline_gives_the_timing_slot_back_before_its_cleanup(tmp_path):
    with VerifierPool(VerifyConfig(device="cpu"), workers=2, prespawn=False) as pool:
        device = "cuda:0"  # a GPU seen by the pool's bookkeeping only; the worker is fake
        lock = pool._gpu_locks[device] = threading.Lock()
        pool._gpu_total_mb[device] = 81920
        worker = FakeBaselineWorker(lock)
        pool._idle_refs[device] = [worker]
        outputs = ReferenceOutputs(pool._spill, pool._ref_budget)
        case = {"k": 0, "seed": 0, "dist": "normal", "fingerprint": "f", "digest": "d", "input_bytes": 64}
        outputs.add(case)
        ref = {"problem_path": str(PROBLEM_PATH), "init_inputs": [], "outputs": outputs}
        reply = pool._baseline(ref, device)
        assert reply["kind"] == "baseline"
        # candidates waiting to time this GPU need not wait for the baseline worker's dynamo reset and gc
        assert worker.slot_free_during_cleanup is True
        assert not lock.locked()


def test_baseline_worker_says_gpu_done_when_its_timing_ends(monkeypatch):
    problem = _load_module(str(PROBLEM_PATH), "relu_problem_for_baseline_test")
    case = {"seed": 0, "dist": "normal", "fingerprint": fingerprint(_make_case(problem, 0, "normal"))}
    sent: list[str] = []

    def fake_timing(contestants, cfg, device, notes, phases=None):
        sent.append("timed")
        return {name: {"median": 1.0, "samples": [1.0]} for name in contestants}

    monkeypatch.setattr(timing, "_time_quietly", fake_timing)
    req = {
        "device": "cpu",
        "problem_path": str(PROBLEM_PATH),
        "init_seed": 42,
        "init_inputs": [],
        "case": case,
        "timing_seed": 7,
        "timing_config": {"n_timing": 3, "warmup": 1, "time_compile_baseline": False},
    }
    reply = timing.baseline_in_worker(req, lambda msg: sent.append(msg["kind"]), lambda: {"kind": "go"})
    assert reply["kind"] == "baseline", reply
    assert sent == ["need_gpu", "timed", "gpu_done"]
    assert set(reply["phase_s"]) >= {"compile_s", "timing_s"}


def test_with_max_running_a_candidate_waiting_for_its_baseline_leaves_its_turn():
    from concurrent.futures import Future

    baseline: Future = Future()
    events: list[str] = []
    with VerifierPool(VerifyConfig(device="cpu"), workers=1, prespawn=False, max_running=1) as pool:

        def fake_uncached(problem_src, candidate_src):  # stands in for reference, worker and evaluate
            if candidate_src == "first":
                events.append("first: worker done, waiting for the baseline")
                base = pool._problem_baseline({"baseline": baseline})
                events.append(f"first: verdict with {base['kind']}")
            else:
                events.append("second: verifying")
                baseline.set_result({"kind": "baseline"})
            return pool._verdict(Status.CORRECT)

        pool._verify_uncached = fake_uncached
        first = threading.Thread(target=pool.verify, args=("p", "first"))
        first.start()
        deadline = time.monotonic() + 5
        while not events and time.monotonic() < deadline:
            time.sleep(0.01)
        second = threading.Thread(target=pool.verify, args=("p", "second"))
        second.start()
        first.join(5)
        second.join(5)
        assert not first.is_alive() and not second.is_alive(), events  # the second got the turn
        assert events == [
            "first: worker done, waiting for the baseline",
            "second: verifying",
            "first: verdict with baseline",
        ]
        assert pool._turns.acquire(blocking=False)  # every turn given back


class FakeSpare:
    def __init__(self, n: int) -> None:
        self.n = n
        self.uses = 0

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        pass


def test_candidates_take_the_oldest_spare_and_the_pool_keeps_its_spare_target(monkeypatch):
    """A spare's CUDA context takes seconds while others start (the driver creates them one at a time), so
    the spare started longest ago goes first; the pool tops its spares up to `spares`, one per take."""
    pool = VerifierPool(VerifyConfig(device="cpu"), workers=2, spawn="exec", spares=3)
    spawned = []

    def fake_spawn(device, candidate=False):
        spawned.append(FakeSpare(len(spawned)))
        return spawned[-1]

    monkeypatch.setattr(pool, "_spawn", fake_spawn)
    try:
        first = pool._take_candidate_worker("cpu")  # none idle: spawned for it, then a spare
        assert first.n == 0 and [w.n for w in pool._idle_candidates["cpu"]] == [1]
        second = pool._take_candidate_worker("cpu")  # the only spare; one new
        assert second.n == 1 and [w.n for w in pool._idle_candidates["cpu"]] == [2]
        pool._idle_candidates["cpu"].extend([FakeSpare(90), FakeSpare(91)])  # spares 2, 90, 91: at target
        third = pool._take_candidate_worker("cpu")  # the oldest spare; the pool tops up to 3 again
        assert third.n == 2 and [w.n for w in pool._idle_candidates["cpu"]] == [90, 91, 3]
        fourth = pool._take_candidate_worker("cpu")
        assert fourth.n == 90 and [w.n for w in pool._idle_candidates["cpu"]] == [91, 3, 4]
    finally:
        pool._idle_candidates["cpu"].clear()
        pool.close()
