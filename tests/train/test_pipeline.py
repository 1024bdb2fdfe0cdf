"""The one-command training pipeline and its parts: compact reference answers, the fixed RL task stream, the
deduplicating verifier with a deadline, per-level answer caps, the curriculum's start level, phase
bookkeeping (a failed phase is recorded and its dependants skipped), the comparison, overlapped RL, and
(slow) the whole --smoke run on CPU."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from drtriton.train.config import load_config
from drtriton.train.curriculum import Curriculum, CurriculumConfig
from drtriton.train.data import ListStream
from drtriton.train.datagen import Drawn, Job, ParallelDraws, check_solution, compact_solution
from drtriton.train.fastcheck import FastChecker
from drtriton.train.pipeline import Pipeline, PipelineConfig, compare_results, run_pipeline
from drtriton.train.workspace import CachedVerifier
from drtriton.util.errors import UsageError


def test_compact_solution_drops_comment_lines_but_keeps_code_and_strings():
    code = ('# header\nimport torch\n\n\n\n# a comment line\nx = 1  # trailing stays\n'
            's = """\n# inside a string\n"""\n    \ndef f():\n    # indented comment\n    return x\n')
    out = compact_solution(code)
    assert "# header" not in out and "# a comment line" not in out and "# indented comment" not in out
    assert "x = 1  # trailing stays" in out and "# inside a string" in out
    assert "\n\n\n" not in out
    scope: dict = {}
    exec(compile(out, "<t>", "exec"), scope)  # noqa: S102 - our own test code
    assert scope["f"]() == 1 and scope["s"] == "\n# inside a string\n"


def test_compact_solution_returns_unparsable_code_unchanged():
    assert compact_solution("def f(:\n  # c\n") == "def f(:\n  # c\n"


def test_check_solution_accepts_the_reference_and_names_a_wrong_answer(tiny_problems):
    (relu, relu_solution), (_, scale_solution) = tiny_problems
    assert check_solution(relu, relu_solution, "cpu") is None
    why = check_solution(relu, scale_solution, "cpu")
    assert why is not None and why.startswith("seed 0")


def _crash_on_seed_2(job, scale):
    """A job runner whose worker dies hard on one job (as a segfault would)."""
    if job.seed == 2:
        os._exit(3)
    return Drawn(job, task={"hash": str(job.seed), "program": "", "level": job.level})


@pytest.mark.slow  # three process pools are spawned (~30 s under load)
def test_parallel_draws_survive_a_worker_that_dies_and_lose_only_its_job():
    draws = ParallelDraws([Job("sft", 1, s) for s in range(5)], None, workers=1, run_job=_crash_on_seed_2)
    try:
        got = draws.collect(time.time() + 300)
    finally:
        draws.close()
    assert [d.job.seed for d in got] == [0, 1, 2, 3, 4]
    assert [d.task is not None for d in got] == [True, True, False, True, True]
    assert got[2].error.startswith("worker died") and draws.restarts == 2


def test_fast_check_applies_the_verifier_static_rules_in_the_parent_without_starting_workers(tiny_problems):
    problem = tiny_problems[0][0]
    no_kernel = "import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return x.relu()\n"
    check = FastChecker(workers=1, device="cpu")
    verdicts = check([(problem, "x = ("), (problem, "y = 1\n"), (problem, no_kernel)])
    assert [v.status for v in verdicts] == ["format_error", "format_error", "cheat_detected"]
    assert verdicts[2].reason.startswith("launch.no_triton_kernel") and check.started == 0
    assert all(v.speedup_vs_eager is None for v in verdicts)


@pytest.mark.slow  # a 2-process pool on the interpreter (~30 s under load)
def test_fast_check_scores_correct_wrong_and_hanging_answers_in_input_order(tiny_problems):
    (problem, good), (_, wrong) = tiny_problems
    hang = good.replace("        x = x.contiguous()\n", "        while True:\n            pass\n")
    check = FastChecker(workers=2, device="cpu", timeout_s=5.0)
    try:
        verdicts = check([(problem, good), (problem, wrong), (problem, hang), (problem, good)])
    finally:
        check.close()
    assert [v.status for v in verdicts] == ["correct", "incorrect", "timeout", "correct"]
    assert verdicts[1].reason.startswith("seed 0")


def test_list_stream_gives_tasks_in_order_skips_restored_seen_and_wraps():
    tasks = {1: [{"hash": h} for h in "abc"], 2: [{"hash": "z"}]}
    s = ListStream(tasks)
    assert [t["hash"] for t in s.batch(1, 4)] == ["a", "b", "c", "a"]
    assert s.cursor == 4 and s.seen == {"a", "b", "c"}
    resumed = ListStream(tasks)
    resumed.seen = {"a"}
    assert [t["hash"] for t in resumed.batch(1, 3)] == ["b", "c", "a"]
    with pytest.raises(UsageError, match="no training tasks were drawn for level 5"):
        s.next(5)


def test_cached_verifier_verifies_each_distinct_pair_once():
    calls = []
    lock = threading.Lock()

    def verify_one(problem, candidate):
        with lock:
            calls.append((problem, candidate))
        return f"{problem}:{candidate}"

    v = CachedVerifier(verify_one, workers=3)
    pairs = [("p", "a"), ("p", "b"), ("p", "a"), ("q", "a")]
    assert v(pairs) == ["p:a", "p:b", "p:a", "q:a"]
    assert v([("p", "b")]) == ["p:b"]
    assert sorted(calls) == [("p", "a"), ("p", "b"), ("q", "a")] and v.hits == 2 and v.verified == 3


def test_cached_verifier_returns_none_for_pairs_not_verified_by_the_deadline():
    def verify_one(problem, candidate):
        time.sleep(0.05 if candidate == "fast" else 3.0)
        return "ok"

    v = CachedVerifier(verify_one, workers=2)
    t = time.time()
    assert v([("p", "fast"), ("p", "slow")], deadline=time.time() + 0.5) == ["ok", None]
    assert time.time() - t < 2.0


def test_cached_verifier_turns_a_verifier_exception_into_a_runtime_error_verdict():
    def verify_one(problem, candidate):
        raise RuntimeError("boom")

    (verdict,) = CachedVerifier(verify_one, workers=1)([("p", "c")])
    assert verdict.status == "runtime_error" and "boom" in verdict.reason


def test_rl_answer_caps_per_level_override_the_default_and_reject_bad_values():
    cfg = load_config(None, {"rl.max_new_tokens": 100, "rl.max_new_tokens_by_level": {"1": 20, 5: 300}})
    assert (cfg.rl.new_tokens_for(1), cfg.rl.new_tokens_for(2), cfg.rl.new_tokens_for(5)) == (20, 100, 300)
    with pytest.raises(UsageError, match="max_new_tokens_by_level"):
        load_config(None, {"rl.max_new_tokens_by_level": {1: 0}})


def test_curriculum_starts_at_the_configured_level_and_rejects_an_unknown_one():
    cur = Curriculum.start(CurriculumConfig(levels=(1, 2, 5), start_level=2))
    assert cur.level == 2 and cur.observe(0.9) == "promote" and cur.level == 5
    assert Curriculum.start(CurriculumConfig()).level == 1
    with pytest.raises(UsageError, match="start_level"):
        CurriculumConfig(levels=(1, 2), start_level=3)


def _row(n, correct, fast=None, compiled=1.0):
    return {"n": n, "correct_rate": correct, "fast_1": fast, "compile_rate": compiled}


def test_compare_results_reports_pooled_and_per_level_deltas_in_points_and_none_when_unmeasured():
    results = {"eval": {"models": {"sft": {1: _row(10, 0.2), 2: _row(10, 0.0)},
                                   "drpo": {1: _row(10, 0.5), 2: _row(10, 0.1)},
                                   "grpo": {1: _row(10, 0.2), 2: None}}}}
    c = compare_results(results)
    assert c["drpo_minus_sft"]["correct_rate"] == 20.0  # pooled: 6/20 vs 2/20
    assert c["per_level"]["drpo_minus_sft"][1]["correct_rate"] == 30.0
    assert c["drpo_minus_sft"]["fast_1"] is None and c["drpo_meets_target"] is True
    assert c["drpo_levels_at_plus_10"] == [1, 2] and c["grpo_levels_at_plus_10"] == []
    # GRPO's level 2 was not evaluated: pooled over level 1 only, on both sides (never a zero for level 2)
    assert c["grpo_minus_sft"]["pooled_levels"] == [1] and c["grpo_minus_sft"]["correct_rate"] == 0.0
    assert c["grpo_meets_target"] is False and c["pooled"]["grpo"]["levels"] == [1]
    assert c["per_level"]["grpo_minus_sft"][2]["correct_rate"] is None
    assert c["drpo_minus_grpo"]["pooled_levels"] == [1] and c["drpo_minus_grpo"]["correct_rate"] == 30.0
    assert "met by ['drpo']" in c["summary"]
    assert "not measured" in compare_results({"eval": {"models": {"sft": {1: None}, "drpo": {1: None}}}})["summary"]


def test_a_failed_phase_is_recorded_and_its_dependants_are_skipped(tmp_path):
    p = Pipeline(PipelineConfig(out=tmp_path / "out", work=tmp_path / "work", budget_s=1000.0))
    p.run_phase("data", lambda budget: 1 / 0)
    p.run_phase("sft", lambda budget: {"never": True}, needs=("data",))
    p.run_phase("probe_sft", lambda budget: {"budget": budget})
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["phases"]["data"]["status"] == "failed"
    assert saved["phases"]["data"]["error"].startswith("ZeroDivisionError")
    assert saved["phases"]["sft"]["status"] == "skipped" and "data" in saved["phases"]["sft"]["error"]
    assert "sft" not in saved and saved["phases"]["probe_sft"]["status"] == "ok"
    own = PipelineConfig().budgets["probe_sft"]
    assert saved["probe_sft"]["budget"] == saved["phases"]["probe_sft"]["budget_s"] == own  # its own budget


def test_phase_budget_never_exceeds_its_own_and_a_phase_without_time_is_skipped(tmp_path):
    p = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", budget_s=10.0))
    assert p.budget("eval") <= 10.0 and p.budget("data") == 0.0  # later phases' reserve eats it all
    p.run_phase("data", lambda budget: {})
    assert p.results["phases"]["data"]["status"] == "skipped"
    assert p.results["phases"]["data"]["error"] == "no time left in the run's budget"


def test_sft_budget_takes_what_the_data_phase_left_unused(tmp_path):
    p = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w"))
    own = p.cfg.budgets
    assert p.budget("sft") == own["sft"]  # no data phase yet
    p.results["phases"]["data"] = {"status": "ok", "seconds": own["data"] - 20.0}
    assert p.budget("sft") == own["sft"] + 20.0 and p.budget("rl_drpo") == own["rl_drpo"]
    p.results["phases"]["data"] = {"status": "ok", "seconds": own["data"] + 5.0}  # overran: nothing to give
    assert p.budget("sft") == own["sft"]


def test_quantile_is_nearest_rank_and_the_rl_cap_quantile_is_validated():
    from drtriton.util.stats import quantile

    xs = list(range(1, 11))
    assert quantile(xs, 0.9) == 9 and quantile(xs, 1.0) == 10 and quantile(xs, 0.01) == 1
    with pytest.raises(UsageError, match="rl_answer_quantile"):
        PipelineConfig(rl_answer_quantile=0.0)


def test_pipeline_refuses_a_work_folder_it_did_not_make(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "precious.txt").write_text("keep")
    with pytest.raises(UsageError, match="not made by the pipeline"):
        Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w")).prepare_dirs()
    assert (tmp_path / "w" / "precious.txt").is_file()


def test_pipeline_config_rejects_mismatched_level_weights_and_unknown_phases():
    with pytest.raises(UsageError, match="one weight per level"):
        PipelineConfig(levels=(1, 2), sft_level_weights=(1.0,))
    with pytest.raises(UsageError, match="unknown phase"):
        PipelineConfig(budgets={"train": 3.0})


def test_rl_reserve_turns_sft_draws_of_eval_levels_into_rl_prompts_and_extra_prompts_skip_sft_programs(tmp_path):
    from drtriton.train.pipeline import in_rl_reserve

    hashes = [f"{i * 0x01000000:08x}" + "0" * 24 for i in range(256)]  # first 32 bits spread evenly
    assert sum(in_rl_reserve(h, 0.25) for h in hashes) == 64
    assert not any(in_rl_reserve(h, 0.0) for h in hashes)
    with pytest.raises(UsageError, match="rl_reserve_share"):
        PipelineConfig(rl_reserve_share=1.0)
    cfg = PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", levels=(1, 2), sft_level_weights=(1.0, 1.0),
                         eval_levels=(1,), rl_reserve_share=0.5)
    pipe = Pipeline(cfg)
    low, high = "10000000" + "a" * 24, "f0000000" + "b" * 24  # in the reserve at 0.5, and not
    drawn = [Drawn(Job("sft", lv, i), task={"hash": h, "program": f"p{i}", "level": lv}, solution="s")
             for i, (lv, h) in enumerate([(1, low), (1, high), (2, low.replace("a", "c")), (1, low)])]
    pairs = pipe._sft_pairs(drawn)
    assert [p["hash"] for p in pairs] == [high, low.replace("a", "c")]  # level 2 is not evaluated: no reserve
    assert [t["hash"] for t in pipe.rl_tasks[1]] == [low]  # once: the repeat is excluded
    assert pipe.sft_counts[1]["reserved_for_rl"] == 1 and pipe.sft_counts[1]["excluded"] == 1
    assert pipe.sft_hashes == {high, low.replace("a", "c")}

    class _Draws:  # what _take_extra_rl_tasks reads of a ParallelDraws
        jobs = [1, 2, 3]

        def collect(self, deadline):
            return [Drawn(Job("rl", 1, k), task={"hash": h, "program": "", "level": 1})
                    for k, h in enumerate([high, "20000000" + "d" * 24, low])]

        def close(self):
            pass

    pipe._extra_draws = _Draws()
    got = pipe._take_extra_rl_tasks(10.0)
    assert got["added"] == {1: 1}  # the SFT program and the existing RL prompt are skipped
    assert [t["hash"] for t in pipe.rl_tasks[1]] == [low, "20000000" + "d" * 24]


@pytest.mark.slow  # ~50 s under load (two RL runs with model export and plots)
def test_overlapped_rl_runs_the_requested_steps_and_stops_early_at_its_time_budget(sft_run, tiny_problems):
    from drtriton.train.checkpoint import save_final
    from drtriton.train.models import load_model
    from drtriton.train.rewards import Outcome
    from drtriton.train.rl import run_rl
    from drtriton.train.workspace import Workspace

    base = sft_run()
    model, tok = load_model(base.model, corpus=[p + s for p, s in tiny_problems])
    start = base.run_dir / "start"
    save_final(model, tok, start)  # an untrained policy is enough for the loop's mechanics
    def verify(pairs):
        return [Outcome("incorrect", "fake")] * len(pairs)

    def go(run_dir, **kw):
        cfg = sft_run(**{"run_dir": str(run_dir), "model.path": str(start), "rl.rollouts": 2,
                         "rl.prompts_per_step": 1, "rl.max_new_tokens": 6, "rl.overlap": True,
                         "curriculum.eval_every": 100, "eval_n": 1, **kw})
        ws = Workspace(cfg, verifier=verify, heldout={1: []}, stream=ListStream(
            {1: [{"hash": "r", "program": tiny_problems[0][0], "level": 1}]}))
        return cfg, run_rl(cfg, ws=ws)

    cfg, r = go(base.run_dir / "rl_a", **{"rl.steps": 3})
    assert r.steps == 3 and (r.final_dir / "config.json").is_file()
    assert "perf/verify_wait_s" in (cfg.run_dir / "metrics.csv").read_text()
    _, r2 = go(base.run_dir / "rl_b", **{"rl.steps": 50, "rl.max_seconds": 0.01})
    assert 1 <= r2.steps < 50 and (r2.final_dir / "config.json").is_file()


@pytest.mark.slow  # ~3 minutes on the 2-core dev machine: synthesizer pool, SFT, verifier (interpreter), RL
def test_smoke_pipeline_runs_every_phase_and_writes_results_plots_and_logs(tmp_path):
    out = tmp_path / "out"
    results = run_pipeline(PipelineConfig.smoke(out, tmp_path / "work"))
    assert {k: v["status"] for k, v in results["phases"].items()} == {
        "data": "ok", "sft": "ok", "probe_sft": "ok", "rl_drpo": "ok", "rl_grpo": "ok", "eval": "ok"}
    saved = json.loads((out / "results.json").read_text())
    assert saved["data"]["sft_pairs"] >= 1 and saved["sft"]["steps"] >= 1
    assert saved["probe_sft"]["reward_check"] == "fast" and saved["probe_sft"]["rl_start_level"] in (1, 2, 5)
    assert saved["rl_grpo"]["steps_allowed"] == saved["rl_drpo"]["steps"]  # same number of updates
    models = saved["eval"]["models"]
    assert set(models) == {"sft", "teacher", "drpo", "grpo"} and set(models["sft"]) == {"1", "2", "5"}
    teacher = models["teacher"]["1"]
    assert teacher["n"] == 1 and teacher["correct_rate"] == 1.0  # the code generator's answer, verified
    assert teacher["fast_1"] is None  # CPU: no timing, so no speed claim
    assert "drpo_minus_sft" in saved["comparison"] and "drpo_minus_grpo" in saved["comparison"]
    for f in ("rl_compare.png", "eval_compare.png", "sft/metrics.csv", "sft/curves.png", "rl_drpo/metrics.csv",
              "rl_grpo/curves.png", "eval_answers.jsonl"):
        assert (out / f).is_file(), f
    assert len((out / "eval_answers.jsonl").read_text().splitlines()) == 9  # 3 models x 3 levels x 1 task


def test_eval_generates_for_half_its_budget_and_names_what_it_could_not_measure(tmp_path, monkeypatch):
    import time

    p = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w"))
    p.sft_dir = tmp_path / "sft"
    seen = []
    monkeypatch.setattr(p, "_generate", lambda name, folder, until, levels=None: seen.append(until - time.time()))
    monkeypatch.setattr(p, "_verify_generated", lambda deadline, teacher: {"sft": {1: {"n": 4}, 2: None}})
    out = p.phase_eval(100.0)
    assert seen and all(45.0 < s <= 50.0 for s in seen)  # the other half is the verifier's
    assert out["not_measured"] == ["sft L2"]
