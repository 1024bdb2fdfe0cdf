"""Worker warm-up (verify/warmup.py) and the guard's per-file frame-kind cache (verify/sandbox.py)."""

import sys

from drtriton.verify import warmup
from drtriton.verify.sandbox import Guard


def test_op_log_warm_up_runs_and_triton_warm_up_is_a_no_op_on_cpu():
    warmup.warm_op_log()
    warmup.warm_triton("cpu")
    assert "torch._higher_order_ops" in sys.modules or "torch._dynamo" in sys.modules


def test_frame_kinds_follow_the_current_candidate_file(tmp_path):
    first, second = tmp_path / "cand_a.py", tmp_path / "cand_b.py"
    first.write_text("")
    second.write_text("")
    guard = Guard(str(first))
    assert guard._frame_kind(str(first)) == "candidate"
    assert guard._frame_kind(str(second)) == "library"
    guard.candidate_path = str(second)  # the next candidate: cached kinds must not carry over
    assert guard._frame_kind(str(first)) == "library"
    assert guard._frame_kind(str(second)) == "candidate"
    link = tmp_path / "alias.py"
    link.symlink_to(second)
    assert guard._frame_kind(str(link)) == "candidate"  # resolved through links, as before the cache
