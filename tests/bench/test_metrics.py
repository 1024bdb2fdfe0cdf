"""fast_p, geomeans and summaries on hand-computed cases."""

import math

import pytest

from drtriton.bench.metrics import fast_p, geomean, metrics, summarize
from drtriton.bench.result import ProblemResult


def row(pid, status, eager=None, compile_=None, degenerate=False):
    return ProblemResult(level=1, problem_id=pid, name=f"p{pid}", proposer="test", status=status,
                         speedup_vs_eager=eager, speedup_vs_compile=compile_, degenerate=degenerate)


ROWS = [
    row(1, "correct", 2.5, 1.2),
    row(2, "correct", 1.0, 0.5),  # exactly 1.0x is not "faster than 1x"
    row(3, "correct", 1.6, 2.0),  # exactly 2.0x vs compile is not fast_2
    row(4, "incorrect"),
    row(5, "compile_error"),
]


def test_fast_p_matches_hand_computed_shares_vs_eager():
    f = fast_p(ROWS, "eager")
    assert f.n == 5 and f.n_correct == 3 and f.n_timed == 3
    assert f.fast[0.0] == pytest.approx(3 / 5)
    assert f.fast[1.0] == pytest.approx(2 / 5)  # 2.5 and 1.6; 1.0 is not > 1
    assert f.fast[1.5] == pytest.approx(2 / 5)
    assert f.fast[2.0] == pytest.approx(1 / 5)


def test_fast_p_thresholds_are_strict_vs_compile():
    f = fast_p(ROWS, "compile")
    assert f.fast[1.0] == pytest.approx(2 / 5)  # 1.2 and 2.0
    assert f.fast[1.5] == pytest.approx(1 / 5)
    assert f.fast[2.0] == pytest.approx(0.0)


def test_geomean_over_correct_and_over_all_with_fallback_one():
    f = fast_p(ROWS, "eager")
    assert f.geomean_correct == pytest.approx((2.5 * 1.0 * 1.6) ** (1 / 3))
    assert f.geomean_all == pytest.approx((2.5 * 1.0 * 1.6 * 1.0 * 1.0) ** (1 / 5))


def test_untimed_correct_kernels_make_speed_metrics_none_but_keep_fast_0():
    rows = [row(1, "correct"), row(2, "incorrect")]
    f = fast_p(rows, "eager")
    assert f.fast[0.0] == pytest.approx(0.5)
    assert f.fast[1.0] is None and f.fast[2.0] is None
    assert f.geomean_correct is None and f.geomean_all is None


def test_no_correct_kernel_gives_zero_fast_p_and_geomean_all_of_one():
    rows = [row(1, "incorrect"), row(2, "timeout")]
    f = fast_p(rows, "eager")
    assert f.fast[0.0] == 0.0 and f.fast[1.5] == 0.0
    assert f.geomean_correct is None
    assert f.geomean_all == pytest.approx(1.0)


def test_empty_rows_are_not_measured():
    f = fast_p([], "compile")
    assert all(v is None for v in f.fast.values()) and f.geomean_all is None


def test_counts_list_every_status_including_zeros_and_unforeseen_ones():
    m = metrics(ROWS + [row(6, "weird_status")])
    assert m.counts["correct"] == 3 and m.counts["incorrect"] == 1 and m.counts["compile_error"] == 1
    assert m.counts["cheat_detected"] == 0 and m.counts["no_candidate"] == 0
    assert m.counts["weird_status"] == 1 and sum(m.counts.values()) == 6


def test_summary_reports_degenerate_rows_apart_never_dropping_them():
    rows = ROWS + [row(7, "correct", 9.0, 9.0, degenerate=True), row(8, "correct", 1.1, 1.1, degenerate=None)]
    s = summarize(rows)
    assert s.headline.n == 6  # five plus the unchecked one
    assert s.degenerate.n == 1 and s.overall.n == 7 and s.n_unchecked == 1
    assert s.degenerate.vs["eager"].fast[2.0] == pytest.approx(1.0)
    assert s.overall.vs["eager"].fast[2.0] == pytest.approx(2 / 7)
    assert "headline" in s.to_json() and s.to_json()["degenerate"]["n"] == 1


def test_geomean_rejects_non_positive_values():
    assert geomean([]) is None
    assert geomean([4.0, 1.0]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        geomean([1.0, 0.0])
    with pytest.raises(ValueError):
        geomean([math.inf])


def test_unknown_baseline_is_rejected():
    with pytest.raises(ValueError):
        fast_p(ROWS, "cudnn")
