"""Worker reuse (VerifierPool reuse > 1, verify/reuse.py): a worker serves the next candidate only when the
last one left its process-state snapshot unchanged and was judged honestly (correct or incorrect); every
verdict stays the one a fresh worker gives."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from drtriton.verify import Status, VerifierPool, VerifyConfig
from drtriton.verify.reuse import ProcessState

TESTS = Path(__file__).resolve().parents[1]
RELU = (TESTS / "problems" / "relu.py").read_text()
RELU_OK = (TESTS / "redteam" / "honest" / "relu__elementwise.py").read_text()
RELU_WRONG = RELU_OK.replace("tl.maximum(x, 0.0)", "tl.maximum(x, 0.5)")
SOFTMAX = (TESTS / "problems" / "softmax_rows.py").read_text()
SOFTMAX_OK = next((TESTS / "redteam" / "honest").glob("softmax_rows__*.py")).read_text()
PATCHES_TORCH = (TESTS / "redteam" / "cheats" / "patch_monkey_patch_torch.py").read_text()


def test_snapshot_sees_patches_flags_threads_environment_and_descriptors_but_not_submodule_imports():
    import torch

    base = ProcessState("cpu")
    assert base.differences(ProcessState("cpu")) == []
    import json.tool  # noqa: F401 - a submodule import is not a patch (json is not watched; torch's are)

    saved_relu, saved_bench = torch.relu, torch.backends.cudnn.benchmark
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    fd = os.open(__file__, os.O_RDONLY)  # a regular file (device files are the GPU driver's, not checked)
    try:
        torch.relu = lambda x: x
        torch.backends.cudnn.benchmark = not saved_bench
        torch.Tensor.drt_extra = 1
        os.environ["DRT_REUSE_TEST"] = "1"
        thread.start()
        diffs = " | ".join(base.differences(ProcessState("cpu")))
    finally:
        torch.relu, torch.backends.cudnn.benchmark = saved_relu, saved_bench
        del torch.Tensor.drt_extra
        os.environ.pop("DRT_REUSE_TEST")
        stop.set()
        thread.join()
        os.close(fd)
    for part in ("torch: replaced relu", "torch.Tensor: added drt_extra", "torch state cudnn", "threads",
                 "environment", "open file descriptors"):
        assert part in diffs
    assert base.differences(ProcessState("cpu")) == []  # all restored


def test_reused_workers_give_fresh_workers_verdicts_and_a_state_changing_candidate_retires_its_worker():
    # rules that would reject the torch-patching cheat are off, so it runs, is judged correct, and only the
    # snapshot stands between its patched torch and the next candidate
    cfg = VerifyConfig(device="cpu", seeds=(0,), disabled_rules=("patch.monkey_patch", "sandbox.runtime_event"))
    with VerifierPool(cfg, workers=1, reuse=4, spawn="exec") as pool:
        first = pool.verify(RELU, RELU_OK)
        wrong = pool.verify(RELU, RELU_WRONG)  # on the reused worker: still caught
        again = pool.verify(RELU, RELU_OK + "\n# another candidate\n")
        patched = pool.verify(SOFTMAX, PATCHES_TORCH)
        after = pool.verify(SOFTMAX, SOFTMAX_OK)
        stats = pool.stats()
    assert [v.status for v in (first, wrong, again)] == [Status.CORRECT, Status.INCORRECT, Status.CORRECT]
    assert [v.phase_s["worker_uses"] for v in (first, wrong, again, patched)] == [1.0, 2.0, 3.0, 4.0]
    assert after.status is Status.CORRECT and after.phase_s["worker_uses"] == 1.0  # a fresh worker
    assert stats["candidates_on_reused_workers"] == 3


def test_honest_candidates_of_a_problem_with_weights_keep_their_worker():
    # The request carries the reference's weights as tensors: held past the candidate, they read as tensors a
    # candidate kept alive, and every worker of a problem with parameters was retired (a false refusal).
    conv = (TESTS / "problems" / "conv_relu_add.py").read_text()
    honest = [p.read_text() for p in sorted((TESTS / "redteam" / "honest").glob("conv_relu_add__*.py"))]
    cfg = VerifyConfig(device="cpu", seeds=(0,), policy="hybrid")
    with VerifierPool(cfg, workers=1, reuse=8, spawn="exec") as pool:
        verdicts = [pool.verify(conv, src) for src in honest + honest]
        stats = pool.stats()
    assert all(v.status is Status.CORRECT for v in verdicts), [v.reason for v in verdicts]
    assert [v.phase_s["worker_uses"] for v in verdicts] == [float(i + 1) for i in range(len(verdicts))]
    assert stats["reuse_refusals"] == {}, stats["reuse_refusal_examples"]


def test_patching_candidate_on_a_fresh_worker_is_not_reused():
    cfg = VerifyConfig(device="cpu", seeds=(0,), disabled_rules=("patch.monkey_patch", "sandbox.runtime_event"))
    with VerifierPool(cfg, workers=1, reuse=4, spawn="exec") as pool:
        pool.verify(SOFTMAX, PATCHES_TORCH)
        after = pool.verify(SOFTMAX, SOFTMAX_OK)
        stats = pool.stats()
    assert after.status is Status.CORRECT and after.phase_s["worker_uses"] == 1.0
    assert stats["reuse_refusals"] == {"state changed: torch": 1} and stats["candidates_on_reused_workers"] == 0


# Candidates that compute the right answer with a Triton kernel and also leave it where a later candidate of
# the same problem (same seeded inputs) could read it back: the static rules allow both imports.
STASH_IN_MODULE = RELU_OK.replace("import torch\n", "import collections\n\nimport torch\n", 1).replace(
    "        return out", "        collections.drt_answers = out\n        return out")
STASH_IN_CONTAINER = RELU_OK.replace("import torch\n", "import copyreg\n\nimport torch\n", 1).replace(
    "        return out", "        copyreg._extension_cache[987654] = out\n        return out")


@pytest.mark.parametrize("stash, why", [(STASH_IN_MODULE, "state changed: collections"),
                                        (STASH_IN_CONTAINER, "state changed: live tensors")],
                         ids=["module-attribute", "existing-container"])
def test_a_candidate_that_stashes_its_answer_retires_its_worker(stash, why):
    assert "return out" in RELU_OK and stash != RELU_OK  # the stash really was put in
    cfg = VerifyConfig(device="cpu", seeds=(0,))
    with VerifierPool(cfg, workers=1, reuse=4, spawn="exec") as pool:
        stashed = pool.verify(RELU, stash)
        after = pool.verify(RELU, RELU_OK)
        stats = pool.stats()
    assert stashed.status is Status.CORRECT, stashed.reason  # honest as far as its own verdict goes
    assert after.status is Status.CORRECT and after.phase_s["worker_uses"] == 1.0  # a fresh worker
    [(refusal, count)] = stats["reuse_refusals"].items()
    assert why in refusal and count == 1 and stats["candidates_on_reused_workers"] == 0


def test_snapshot_sees_a_hand_built_module_and_a_tensor_kept_alive():
    import sys
    import types

    import torch

    base = ProcessState("cpu")
    stash = types.ModuleType("drt_stash_test")
    stash.kept = torch.ones(2, 3)
    sys.modules["drt_stash_test"] = stash
    try:
        diffs = " | ".join(base.differences(ProcessState("cpu")))
    finally:
        del sys.modules["drt_stash_test"]
    assert "sys.modules: added drt_stash_test" in diffs
    assert "live tensors" in diffs and "(2, 3) torch.float32 cpu held by module drt_stash_test" in diffs
    del stash
    assert base.differences(ProcessState("cpu")) == []


def test_a_module_imported_again_under_its_name_is_not_a_patch():
    # Triton loads every kernel signature's C launcher as `__triton_launcher`: a new module under the same
    # name, with its own attributes. An import (a __spec__) is not a change a candidate made.
    import colorsys
    import importlib.util
    import sys
    import types

    base = ProcessState("cpu")
    spec = importlib.util.find_spec("colorsys")
    again = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(again)
    sys.modules["colorsys"] = again
    try:
        diffs = base.differences(ProcessState("cpu"))
        sys.modules["colorsys"] = types.ModuleType("colorsys")  # built by hand: no __spec__
        by_hand = " | ".join(base.differences(ProcessState("cpu")))
    finally:
        sys.modules["colorsys"] = colorsys
    assert diffs == []
    assert "sys.modules: added colorsys (built by hand" in by_hand


def test_reuse_below_one_is_a_usage_error():
    from drtriton.util.errors import UsageError

    with pytest.raises(UsageError, match="reuse must be >= 1"):
        VerifierPool(VerifyConfig(device="cpu"), reuse=0)
