"""Reading the verifier's Verdict into a benchmark row."""

from drtriton.bench.result import ProblemResult, verdict_fields
from drtriton.verify import Status, Timing, Verdict


def test_verdict_timings_and_speedups_become_row_fields():
    verdict = Verdict(status=Status.CORRECT, max_abs_err=1e-6, speedup_vs_eager=2.0, speedup_vs_compile=1.5,
                      timing=Timing(candidate_ms=1.0, eager_ms=2.0, compile_ms=1.5))
    fields = verdict_fields(verdict)
    assert fields["status"] == "correct" and fields["reason"] == ""
    assert (fields["candidate_ms"], fields["eager_ms"], fields["compile_ms"]) == (1.0, 2.0, 1.5)
    assert (fields["speedup_vs_eager"], fields["speedup_vs_compile"], fields["max_abs_err"]) == (2.0, 1.5, 1e-6)


def test_cpu_verdict_leaves_speed_unmeasured_and_keeps_the_rule():
    verdict = Verdict(status=Status.CHEAT_DETECTED, reason="no Triton kernel launched",
                      rule="launch.no_triton_kernel")
    fields = verdict_fields(verdict)
    assert fields["status"] == "cheat_detected" and fields["rule"] == "launch.no_triton_kernel"
    assert fields["speedup_vs_eager"] is None and fields["candidate_ms"] is None


def test_row_round_trips_through_json_and_ignores_unknown_keys():
    row = ProblemResult(level=2, problem_id=7, name="X", proposer="rule", status="incorrect", reason="off by 0.3")
    assert ProblemResult.from_json({**row.to_json(), "future_field": 1}) == row
    assert row.key == "level2/7_X" and not row.correct
