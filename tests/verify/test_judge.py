"""The GPU judge's parts that run without a GPU: descriptor checks (what an untrusted candidate worker
may claim about its outputs), the on-device digest's meaning, the parent's handling of judged results,
and which cases a candidate refills when their inputs are large. The CUDA IPC path itself runs in
tests/verify/test_gpu.py on the H100."""

from __future__ import annotations

import math

import pytest
import torch

from drtriton.verify.compare import outputs_digest
from drtriton.verify.ipc import BadDescriptor, _contiguous_strides, describes, gpu_digest, open_cuda_output
from drtriton.verify.pool import JudgeFailure, ReferenceOutputs, VerifierPool, _Budget, _Judge


def _meta(shape, dtype="float32", **kw):
    meta = {
        "shape": list(shape), "stride": _contiguous_strides(list(shape)), "offset": 0, "dtype": dtype,
        "device": 0, "handle": "00" * 64, "storage_bytes": 4 * math.prod(shape), "storage_offset_bytes": 0,
        "rc_handle": "ab",
        "rc_offset": 0, "event_handle": None, "event_sync": False,
    }
    meta.update(kw)
    return meta


# ---- descriptors ----
def test_describes_reports_shape_and_dtype_mismatches_in_the_comparisons_words():
    assert describes(_meta([4, 5]), (4, 5), torch.float32) == ""
    assert "shape (5, 4)" in describes(_meta([5, 4]), (4, 5), torch.float32)
    assert "dtype torch.float16" in describes(_meta([4, 5], "float16"), (4, 5), torch.float32)
    assert "dtype 'evil'" in describes(_meta([4, 5], "evil"), (4, 5), torch.float32)


@pytest.mark.parametrize(
    "bad, why",
    [
        ({"stride": [1, 4]}, "contiguous"),
        ({"storage_bytes": 4 * 20 - 1}, "more elements"),
        ({"offset": 1}, "more elements"),
        ({"offset": -1}, "non-negative"),
        ({"storage_bytes": True}, "non-negative"),
        ({"handle": "zz"}, "hex"),
        ({"handle": 5}, "hex"),
        ({"rc_handle": "a" * 70000}, "hex"),
        ({"device": 1}, "another GPU"),
        ({"event_sync": "yes"}, "event_sync"),
    ],
)
def test_forged_descriptors_are_refused_before_anything_is_mapped(bad, why):
    with pytest.raises(BadDescriptor, match=why):
        open_cuda_output(_meta([4, 5], **bad), (4, 5), torch.float32, 0)


def test_long_handles_of_expandable_segments_are_accepted_as_hex():
    with pytest.raises(BadDescriptor, match="event_sync"):  # got past the handle fields' checks
        open_cuda_output(_meta([4, 5], handle="ab" * 2000, event_sync="yes"), (4, 5), torch.float32, 0)


def test_descriptor_without_a_list_shape_is_refused():
    with pytest.raises(BadDescriptor):
        describes({"shape": "4x5"}, (4, 5), torch.float32)
    with pytest.raises(BadDescriptor):
        describes({"shape": [4, -5]}, (4, -5), torch.float32)


# ---- digest ----
def test_gpu_digest_has_outputs_digests_equality_meaning():
    a = torch.randn(3000)
    assert gpu_digest([a]) == gpu_digest([a.clone()])
    b = a.clone()
    b[1234] = torch.nextafter(b[1234], torch.tensor(float("inf")))  # one ulp
    assert gpu_digest([a]) != gpu_digest([b])
    assert gpu_digest([torch.zeros(8)]) == gpu_digest([-torch.zeros(8)])  # as torch.equal
    nan = torch.tensor([1.0, float("nan")])
    assert gpu_digest([nan]) != gpu_digest([nan])  # NaN equals nothing
    assert gpu_digest([a.reshape(30, 100)]) != gpu_digest([a.reshape(100, 30)])
    assert gpu_digest([torch.arange(6)]) != gpu_digest([torch.arange(6).flip(0)])  # order matters
    assert gpu_digest([torch.tensor([True, False])]) != gpu_digest([torch.tensor([False, True])])
    # the same equalities as the CPU digest
    assert (gpu_digest([a]) == gpu_digest([b])) == (outputs_digest([a]) == outputs_digest([b]))


# ---- the parent's side of a judged result ----
class FakeJudge:
    """Stands in for _JudgeWorker: answers from a script and records what it was asked."""

    def __init__(self, answers):
        self.answers, self.asked, self.broken = list(answers), [], ""

    def compare(self, case, handles, atol, rtol, *, digest, compare):
        self.asked.append((case, digest, compare))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _judged_reference(n: int, judge) -> ReferenceOutputs:
    ref = ReferenceOutputs("/tmp", _Budget(0))
    for k in range(n):
        ref.add({"kind": "case", "k": k, "seed": k, "dist": "normal", "fingerprint": "f", "digest": f"d{k}",
                 "input_bytes": 100, "output_bytes": 400})
    ref.judge = judge
    return ref


def _ok(digest=None):
    return {"kind": "compared", "ok": True, "reason": "", "max_abs_err": 0.0, "max_rel_err": 0.0, "digest": digest}


def test_judged_results_fill_the_same_comparisons_and_digests():
    fake = FakeJudge([_ok("x0"), _ok("x1"), _ok(), {**_ok(), "ok": False, "reason": "output 0: 3 elements"}])
    ref = _judged_reference(2, fake)
    assert ref.digests == ["d0", "d1"] and ref.input_bytes == [100, 100] and ref.judged_bytes == 800
    judge = _Judge(ref, 1e-4, 1e-4, refills=2)
    judge({"kind": "result", "pass": "fresh", "case": 0, "src": 0, "handles": []})
    judge({"kind": "result", "pass": "fresh", "case": 1, "src": 1, "handles": []})
    judge({"kind": "result", "pass": "refill", "case": 1, "src": 0, "handles": []})
    judge({"kind": "result", "pass": "refill", "case": 0, "src": 1, "handles": []})
    assert judge.fresh_digests == ["x0", "x1"] and all(c.ok for c in judge.fresh)
    assert judge.stale is not None and judge.stale[1] == 1 and "3 elements" in judge.stale[2].reason
    # digests only for fresh results; refills only compared
    assert fake.asked == [(0, True, True), (1, True, True), (0, False, True), (1, False, True)]
    assert judge.missing(timed=False) == ""
    # once a stale result is known, later refills/rechecks are not sent to the judge at all
    judge({"kind": "result", "pass": "recheck", "case": 0, "src": 0, "handles": []})
    assert len(fake.asked) == 4


def test_judged_results_after_a_failed_case_still_get_digests_but_no_comparison():
    fake = FakeJudge([{**_ok("x0"), "ok": False, "reason": "bad"}, _ok("x1")])
    judge = _Judge(_judged_reference(2, fake), 1e-4, 1e-4)
    judge({"kind": "result", "pass": "fresh", "case": 0, "src": 0, "handles": []})
    judge({"kind": "result", "pass": "fresh", "case": 1, "src": 1, "handles": []})
    assert fake.asked == [(0, True, True), (1, True, False)]
    assert not judge.fresh[0].ok and judge.fresh[1].ok and judge.fresh_digests == ["x0", "x1"]


def test_a_bad_descriptor_or_a_missing_handle_list_is_a_protocol_break():
    judge = _Judge(_judged_reference(1, FakeJudge([{"kind": "bad_descriptor", "reason": "not contiguous"}])), 1e-4, 1e-4)
    with pytest.raises(ValueError, match="not contiguous"):
        judge({"kind": "result", "pass": "fresh", "case": 0, "src": 0, "handles": []})
    judge = _Judge(_judged_reference(1, FakeJudge([])), 1e-4, 1e-4)
    with pytest.raises(ValueError, match="IPC handles"):
        judge({"kind": "result", "pass": "fresh", "case": 0, "src": 0, "outputs": [torch.zeros(1)]})


def test_a_judge_failure_propagates_as_such():
    judge = _Judge(_judged_reference(1, FakeJudge([JudgeFailure("judge died")])), 1e-4, 1e-4)
    with pytest.raises(JudgeFailure):
        judge({"kind": "result", "pass": "fresh", "case": 0, "src": 0, "handles": []})


def test_missing_counts_the_refills_the_worker_was_asked_for():
    judge = _Judge(_judged_reference(4, FakeJudge([_ok("a")] * 4 + [_ok()] * 2)), 1e-4, 1e-4, refills=2)
    for k in range(4):
        judge({"kind": "result", "pass": "fresh", "case": k, "src": k, "handles": []})
    judge({"kind": "result", "pass": "refill", "case": 3, "src": 0, "handles": []})
    assert "refill 1 of 2" in judge.missing(timed=False)
    judge({"kind": "result", "pass": "refill", "case": 2, "src": 3, "handles": []})
    assert judge.missing(timed=False) == ""


# ---- refill selection ----
def test_refill_cases_keep_every_case_on_cpu_and_what_fits_on_a_gpu():
    pool = VerifierPool.__new__(VerifierPool)  # only the sizing helpers are used
    pool.workers, pool._gpu_total_mb = 4, {"cuda:0": 6 * 8192}  # an 8 GB share of the GPU per slot
    ref = _judged_reference(10, None)
    assert pool._refill_cases(ref, "cpu") == list(range(10))
    assert pool._refill_cases(ref, "cuda:0") == list(range(10))  # 100-byte inputs fit
    ref.input_bytes = [400 << 20] * 10  # 400 MB per case, a 1 GB budget: the last two
    assert pool._refill_cases(ref, "cuda:0") == [8, 9]
    ref.input_bytes = [8 << 30] * 10  # never fewer than two
    assert pool._refill_cases(ref, "cuda:0") == [8, 9]
    assert pool._gpu_share_mb("cuda:0", 0.5) == 4096


# ---- inputs at KernelBench sizes ----
def test_heavy_tail_positions_are_distinct_so_every_worker_draws_the_same_values(monkeypatch):
    from drtriton.verify import worker

    monkeypatch.setattr(worker, "TRANSFORM_CHUNK", 1000)  # several chunks on a small tensor
    x = torch.full((20000,), 1e-3)
    y = worker._transform(x, "heavy_tailed", 5)
    assert torch.equal(y, worker._transform(x, "heavy_tailed", 5))
    g = torch.Generator().manual_seed(5 * 7919 + 17)
    for lo in range(0, 20000, 1000):  # the chunks' draws come first, then the positions
        torch.rand(1000, generator=g, dtype=torch.float64)
    positions = torch.unique(torch.randint(0, 20000, (200,), generator=g))
    assert int((y.abs() >= 90).sum()) == positions.numel()  # each position written exactly once
    assert torch.equal(torch.nonzero(y.abs() >= 90).reshape(-1), positions)


def test_timing_inputs_of_huge_tensors_are_rotated_not_permuted(monkeypatch):
    from drtriton.verify import timing

    monkeypatch.setattr(timing, "SHUFFLE_LIMIT", 100)
    x = torch.arange(1000, dtype=torch.float32)
    (y,) = timing._timing_inputs([x], 3, "cpu")
    assert not torch.equal(y, x) and torch.equal(torch.sort(y).values, x)
    shift = int(torch.nonzero(y == 0)[0])
    assert torch.equal(y, x.roll(shift))  # a rotation: no permutation index the size of the input
    small = torch.arange(50, dtype=torch.float32)
    (z,) = timing._timing_inputs([small], 3, "cpu")
    assert torch.equal(torch.sort(z).values, small) and not torch.equal(z, small.roll(int(torch.nonzero(z == 0)[0])))


# ---- GPU memory admission ----
def test_memory_gate_admits_what_fits_and_one_oversized_request_alone():
    import threading
    import time

    from drtriton.verify.pool import GpuMemoryGate

    gate = GpuMemoryGate(100)
    a = gate.acquire(60)
    assert gate.acquire(30) == 30 and gate.used == 90  # fits beside
    got = []
    waiter = threading.Thread(target=lambda: got.append(gate.acquire(500)))  # larger than the GPU: alone
    waiter.start()
    time.sleep(0.2)
    assert not got  # waits while others run
    gate.release(a)
    time.sleep(0.1)
    assert not got
    gate.release(30)
    waiter.join(5)
    assert got == [100] and gate.used == 100  # clamped to the capacity, admitted once the GPU was free
    gate.release(100)
    assert gate.used == 0


def test_case_bytes_counts_a_cases_inputs_and_outputs():
    from drtriton.verify.pool import case_bytes

    ref = _judged_reference(4, None)
    ref.judge = object()  # judged: output bytes come from the frames' sizes
    assert case_bytes(ref) == 100 + 400


def test_cases_without_a_digest_never_count_as_input_insensitive():
    # the GPU judge gives no digest for an output of the wrong dtype or shape (an int32 argmax where the
    # reference is int64): two missing digests are not two identical outputs
    from drtriton.verify.pool import VerifierPool

    refs = ["a", "b", "c"]
    assert not VerifierPool._input_insensitive(refs, [None, None, None])
    assert VerifierPool._input_insensitive(refs, ["x", "x", None])  # two real digests that agree still do
    assert not VerifierPool._input_insensitive(["a", "a", "c"], ["x", "x", "y"])  # references agree there
