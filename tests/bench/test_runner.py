"""The runner end to end with an injected verifier: caching/resume, degenerate rows, no_candidate, reports."""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from drtriton.bench import BenchConfig, run_kernelbench
from drtriton.bench.proposers import SolutionsProposer
from drtriton.report.kernelbench import write_reports
from drtriton.util.errors import UsageError

HERE = Path(__file__).parent
FAKE = HERE / "fake_kernelbench"
SOLUTIONS = HERE / "fake_solutions"


@dataclass
class FakeVerdict:
    status: str
    reason: str = ""
    speedup_vs_eager: float | None = None
    speedup_vs_compile: float | None = None
    timing: dict | None = None

    def to_json(self):
        return dict(vars(self))


class CountingVerifier:
    """Says correct for kernels whose source contains 'relu' or 'sigmoid'; counts its calls."""

    def __init__(self, speedup=None):
        self.calls = []
        self.speedup = speedup

    def __call__(self, problem_src, candidate_src, config):
        self.calls.append(candidate_src)
        if "tl.maximum" in candidate_src or "tl.sigmoid" in candidate_src:
            timing = {"candidate_ms": 1.0, "eager_ms": self.speedup, "compile_ms": 2.0} if self.speedup else None
            return FakeVerdict("correct", "", self.speedup, self.speedup and self.speedup / 2, timing)
        return FakeVerdict("incorrect", "max abs error 0.3 at seed 0")


def config(tmp_path, level=1, **kw):
    return BenchConfig(path=FAKE, level=level, proposer=f"solutions:{SOLUTIONS}", out=tmp_path / "runs", **kw)


def test_run_records_each_problem_with_its_verdict_or_no_candidate(tmp_path):
    verifier = CountingVerifier()
    run = run_kernelbench(config(tmp_path, check_degenerate=False), verify_fn=verifier)
    by_id = {r.problem_id: r for r in run.rows}
    assert [r.problem_id for r in run.rows] == [1, 2, 3, 4, 5]
    assert by_id[2].status == "correct" and by_id[5].status == "incorrect"
    assert by_id[1].status == "no_candidate" and "no saved solution" in by_id[1].reason
    assert len(verifier.calls) == 2
    assert run.summary.headline.vs["eager"].fast[0.0] == pytest.approx(1 / 5)
    assert run.summary.headline.vs["eager"].fast[1.0] is None  # correct but untimed: not measured
    assert all(r.degenerate is None for r in run.rows) and run.summary.n_unchecked == 5
    assert (run.run_dir / "candidates" / "2_ReLU.py").read_text().startswith("import torch")


def test_second_run_resumes_from_cache_and_changed_inputs_are_redone(tmp_path):
    solutions = tmp_path / "sol"
    (solutions / "level1").mkdir(parents=True)
    (solutions / "level1" / "2_relu.py").write_text((SOLUTIONS / "level1" / "2_relu_triton.py").read_text())
    cfg = BenchConfig(path=FAKE, level=1, proposer=f"solutions:{solutions}", out=tmp_path / "runs",
                      check_degenerate=False)
    first = CountingVerifier()
    run_kernelbench(cfg, verify_fn=first)
    again = CountingVerifier()
    run = run_kernelbench(cfg, verify_fn=again)
    assert len(first.calls) == 1 and again.calls == [] and run.n_cached == 5
    (solutions / "level1" / "2_relu.py").write_text("# edited\n" + (solutions / "level1" / "2_relu.py").read_text())
    edited = CountingVerifier()
    run = run_kernelbench(cfg, verify_fn=edited)
    assert len(edited.calls) == 1 and run.n_cached == 4
    fresh = CountingVerifier()
    run_kernelbench(BenchConfig(**{**vars(cfg), "resume": False}), verify_fn=fresh)
    assert len(fresh.calls) == 1


@pytest.fixture(scope="module")
def level2_run(tmp_path_factory):
    """One level-2 run with the reference check (a child process): shared by the tests that read it."""
    return run_kernelbench(config(tmp_path_factory.mktemp("l2"), level=2), verify_fn=CountingVerifier(speedup=3.0))


def test_degenerate_problems_are_flagged_and_reported_apart(level2_run):
    run = level2_run
    by_id = {r.problem_id: r for r in run.rows}
    assert by_id[7].degenerate is True and by_id[7].degenerate_reason.startswith("near_constant")
    assert by_id[9].degenerate is True and by_id[9].degenerate_reason.startswith("input_insensitive")
    assert by_id[3].degenerate is False and by_id[5].degenerate is False
    assert run.summary.headline.n == 2 and run.summary.degenerate.n == 2 and run.summary.overall.n == 4
    assert run.summary.headline.vs["eager"].fast[2.0] == pytest.approx(1 / 2)  # problem 5 at 3.0x
    assert run.summary.headline.vs["compile"].fast[2.0] == pytest.approx(0.0)  # 1.5x vs compile
    assert len(list((run.config.level_dir / "reference").glob("*.json"))) == 4


def test_reports_hold_header_tables_csv_and_plots(level2_run, tmp_path):
    paths = write_reports(level2_run, tmp_path)
    md = paths["markdown"].read_text()
    assert "torch " in md and "triton " in md and "Device:" in md
    assert "| eager | 2 | 50.0% | 50.0% | 50.0% | 50.0% | 3.00x | 1.73x |" in md
    assert "Degenerate problems (reported separately)" in md and "7 | Linear_RowMax_Center_Gelu" in md
    assert "speedup_distribution.png" in md and paths["per_problem"].stat().st_size > 1000
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") == 2 and "<table>" in html
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [int(r["problem_id"]) for r in rows] == [3, 5, 7, 9]
    assert rows[0]["status"] == "no_candidate" and rows[0]["speedup_vs_eager"] == ""
    summary = json.loads(paths["summary"].read_text())
    assert summary["summary"]["degenerate"]["n"] == 2 and summary["provenance"]["torch"]


def test_cpu_style_report_says_not_measured_and_draws_no_plot(tmp_path):
    run = run_kernelbench(config(tmp_path, check_degenerate=False), verify_fn=CountingVerifier())
    paths = write_reports(run)
    md = paths["markdown"].read_text()
    assert "not measured" in md and "No plot" in md and "per_problem" not in paths


def test_split_runs_only_its_part_and_records_the_split_once(tmp_path):
    held = run_kernelbench(config(tmp_path, split="heldout", check_degenerate=False), verify_fn=CountingVerifier())
    tune = run_kernelbench(config(tmp_path, split="tune", check_degenerate=False), verify_fn=CountingVerifier())
    held_ids = {r.problem_id for r in held.rows}
    tune_ids = {r.problem_id for r in tune.rows}
    assert held_ids and tune_ids and not held_ids & tune_ids and held_ids | tune_ids == {1, 2, 3, 4, 5}
    assert (tmp_path / "runs" / "split.json").exists()


def test_bad_config_is_a_usage_error_before_any_work(tmp_path):
    with pytest.raises(UsageError):
        BenchConfig(path=FAKE, level=0)
    with pytest.raises(UsageError):
        BenchConfig(path=FAKE, level=1, split="train")
    with pytest.raises(UsageError):
        BenchConfig(path=FAKE, level=1, budget="lots")
    verifier = CountingVerifier()
    with pytest.raises(UsageError):
        run_kernelbench(BenchConfig(path=FAKE, level=1, problems="40", out=tmp_path), verify_fn=verifier)
    assert verifier.calls == [] and not (tmp_path / "level1").exists()


def test_an_injected_proposer_overrides_the_spec(tmp_path):
    run = run_kernelbench(config(tmp_path, check_degenerate=False), proposer=SolutionsProposer(SOLUTIONS),
                          verify_fn=CountingVerifier())
    assert run.proposer == f"solutions:{SOLUTIONS}"


def test_max_seconds_stops_starting_problems_and_says_which_were_not_run(tmp_path, monkeypatch):
    import itertools
    import time
    import types

    from drtriton.bench import runner

    ticks = itertools.count()  # a clock that advances one second per reading: start = 0, problem k reads k
    monkeypatch.setattr(runner, "time", types.SimpleNamespace(monotonic=lambda: float(next(ticks)),
                                                              perf_counter=time.perf_counter))
    run = run_kernelbench(config(tmp_path, check_degenerate=False, max_seconds=2.5), verify_fn=CountingVerifier())
    assert [r.problem_id for r in run.rows] == [1, 2]
    assert run.not_run == ["level1/3_Softmax_Rows", "level1/4_Sum_Over_Dim", "level1/5_Tanh"]
    assert run.summary.overall.n == 2 and "not run" in run.warnings[-1]


def test_degenerate_check_uses_the_verifiers_tolerance():
    from types import SimpleNamespace

    from drtriton.bench.runner import degenerate_config_for

    cfg = BenchConfig(path=FAKE, level=1)
    loose = degenerate_config_for(cfg, SimpleNamespace(atol=1e-2, rtol=1e-2))
    assert (loose.atol, loose.rtol) == (1e-2, 1e-2)
    assert degenerate_config_for(cfg, None) == cfg.degenerate


class SelfVerifyingProposer:
    """Stands in for search: returns a source with its own end-to-end verdict under a given config hash."""

    spec = "search"

    def __init__(self, verified_under):
        self.verified_under = verified_under

    def fingerprint(self, problem):
        return "fp"

    def propose(self, problem):
        from drtriton.bench.proposers import Proposal

        verdict = {"status": "correct", "reason": "", "speedup_vs_eager": 1.7, "speedup_vs_compile": 1.2,
                   "timing": {"candidate_ms": 1.0, "eager_ms": 1.7, "compile_ms": 1.2}}
        return Proposal("class ModelNew: pass\n", "", 0.1, {}, verdict, self.verified_under)


def test_proposer_verdict_is_reused_only_under_the_runs_exact_verifier_config(tmp_path):
    from drtriton.verify import VerifyConfig

    vc = VerifyConfig(policy="mixed")
    verifier = CountingVerifier()
    cfg = config(tmp_path, check_degenerate=False, problems="2", verify_config=vc)
    run = run_kernelbench(cfg, proposer=SelfVerifyingProposer(vc.hash()), verify_fn=verifier)
    assert verifier.calls == [] and run.rows[0].status == "correct"
    assert run.rows[0].speedup_vs_eager == pytest.approx(1.7) and run.rows[0].verify_s is None
    other = run_kernelbench(config(tmp_path / "b", check_degenerate=False, problems="2", verify_config=vc),
                            proposer=SelfVerifyingProposer(VerifyConfig(policy="strict").hash()), verify_fn=verifier)
    assert len(verifier.calls) == 1 and other.rows[0].status == "incorrect"  # verified again, by the run


class SlowVerifier(CountingVerifier):
    """CountingVerifier that takes a while and records how many calls overlapped."""

    def __init__(self):
        super().__init__(speedup=2.0)
        import threading

        self.lock, self.active, self.peak = threading.Lock(), 0, 0

    def __call__(self, problem_src, candidate_src, config):
        import time

        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.3)
        try:
            return super().__call__(problem_src, candidate_src, config)
        finally:
            with self.lock:
                self.active -= 1


def test_workers_verify_problems_concurrently_and_rows_keep_problem_order(tmp_path):
    serial = run_kernelbench(config(tmp_path / "a", check_degenerate=False, workers=1), verify_fn=SlowVerifier())
    verifier = SlowVerifier()
    run = run_kernelbench(config(tmp_path / "b", check_degenerate=False, workers=5), verify_fn=verifier)
    assert verifier.peak == 2  # the two problems with a saved solution (ids 2, 5) overlapped in one chunk
    assert [r.problem_id for r in run.rows] == [1, 2, 3, 4, 5]
    assert [r.status for r in run.rows] == [r.status for r in serial.rows]
    cached = run_kernelbench(config(tmp_path / "b", check_degenerate=False, workers=5), verify_fn=SlowVerifier())
    assert cached.n_cached == 5


def test_workers_out_of_range_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--workers"):
        config(tmp_path, workers=0)


def test_resume_on_a_fresh_machine_keeps_cached_flags_without_rerunning_references(tmp_path):
    # Results travel between GPU machines without the reference folder; re-running gigabyte references
    # only to confirm a flag the cached row already holds cost a resumed KernelBench run minutes.
    import shutil

    cfg = config(tmp_path, level=2)
    first = run_kernelbench(cfg, verify_fn=CountingVerifier(speedup=3.0))
    shutil.rmtree(cfg.level_dir / "reference")
    phases: list[str] = []
    again = run_kernelbench(cfg, verify_fn=CountingVerifier(speedup=3.0),
                            progress=lambda phase, done, total, key: phases.append(phase) if key else None)
    assert again.n_cached == len(first.rows) and "reference" not in phases
    assert [(r.problem_id, r.degenerate) for r in again.rows] == [(r.problem_id, r.degenerate) for r in first.rows]
    assert not (cfg.level_dir / "reference").exists()
