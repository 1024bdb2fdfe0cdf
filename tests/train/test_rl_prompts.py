"""Which prompts RL trains on, and which rollouts its update scores: data.RevisitStream (prompts come back
while their groups are mixed), the RL loop telling the stream how each group went, rl.signal_only, and the
pipeline's extra RL prompts and single-algorithm runs (`--preset rl-long`)."""

from __future__ import annotations

import copy
import time

import pytest
import torch
from test_rl_update import PAD, PROMPTS, RIGHT, WRONG, _half_right_policy

from drtriton.train.config import load_config
from drtriton.train.data import RevisitStream
from drtriton.train.datagen import Drawn, Job
from drtriton.train.pipeline import Pipeline, PipelineConfig
from drtriton.train.policy import Rollout
from drtriton.train.rewards import Outcome
from drtriton.train.rl import ScoredRollout, observe_groups, policy_update, signal_rollouts
from drtriton.util.errors import UsageError


@pytest.fixture(scope="module")
def start_policy():
    """test_rl_update's toy policy: a 2-layer model that answers each prompt about half right."""
    return _half_right_policy()


def _tasks(names: str) -> dict:
    return {1: [{"hash": h, "program": f"# {h}\n", "level": 1} for h in names]}


def test_revisit_stream_starts_in_list_order_then_brings_back_mixed_groups_best_first():
    s = RevisitStream(_tasks("abcdefgh"), revisit_share=0.5)
    first = s.batch(1, 4)
    assert [t["hash"] for t in first] == list("abcd") and s.last_revisits == 0
    for t, c in zip(first, (3, 0, 8, 1)):  # a: 3/8 (p(1-p) .23), b: none, c: all, d: 1/8 (.11)
        s.observe(t, c, 8)
    assert [t["hash"] for t in s.mixed(1)] == ["a", "d"]
    second = s.batch(1, 4)
    assert [t["hash"] for t in second] == ["a", "d", "e", "f"] and s.last_revisits == 2
    for t in second:
        s.observe(t, 0, 8)  # no mixed group left: new tasks, then the least recently used
    assert [t["hash"] for t in s.batch(1, 4)] == ["g", "h", "b", "c"] and s.last_revisits == 0
    assert s.seen == set("abcdefgh") and s.cursor == 12


def test_revisit_stream_caps_revisits_at_its_share_and_repeats_only_when_the_level_is_smaller_than_a_batch():
    s = RevisitStream(_tasks("abcdef"), revisit_share=0.25)
    for t in s.batch(1, 6):
        s.observe(t, 4, 8)  # every group mixed
    b = s.batch(1, 4)
    assert s.last_revisits == 1 and len({t["hash"] for t in b}) == 4  # 1 revisit + the least recently used
    small = RevisitStream(_tasks("ab"), revisit_share=0.5)
    assert [t["hash"] for t in small.batch(1, 5)] == ["a", "b", "a", "b", "a"]
    with pytest.raises(UsageError, match="revisit_share"):
        RevisitStream(_tasks("a"), revisit_share=1.5)
    with pytest.raises(UsageError, match="no training tasks were drawn for level 2"):
        s.batch(2, 1)


def test_the_rl_loop_reports_each_groups_correct_count_to_the_stream():
    seen = []

    class Stream:
        def observe(self, task, correct, total):
            seen.append((task["hash"], correct, total))

    tasks = [{"hash": "p0"}, {"hash": "p1"}]
    scored = [ScoredRollout(Rollout(i // 3, [2], [3], ""), Outcome("correct" if i in (0, 4) else "incorrect"))
              for i in range(6)]
    observe_groups(Stream(), tasks, scored)
    assert seen == [("p0", 1, 3), ("p1", 1, 3)]
    observe_groups(object(), tasks, scored)  # a plain stream (no observe) is left alone


def _batch(*groups):
    """Scored rollouts: one group per (prompt, [(answer, status, speedup), ...])."""
    out = []
    for i, rows in enumerate(groups):
        for answer, status, speed in rows:
            out.append(ScoredRollout(Rollout(i, PROMPTS[i % 2], answer, ""), Outcome(status, speedup_vs_eager=speed)))
    return out


def test_signal_rollouts_keep_the_groups_each_algorithm_learns_from():
    mixed = [(RIGHT[0], "correct", None), (WRONG[0], "incorrect", None)]
    all_right_speeds_differ = [(RIGHT[1], "correct", 2.0), (RIGHT[1], "correct", 0.5)]
    all_wrong = [(WRONG[0], "incorrect", None)] * 2
    batch = _batch(mixed, all_right_speeds_differ, all_wrong)
    assert [s.rollout.prompt_index for s in signal_rollouts(batch, "drpo")] == [0, 0]
    # GRPO's reward is 1 + log speedup when correct: unequal speeds give advantages, so signal
    assert [s.rollout.prompt_index for s in signal_rollouts(batch, "grpo")] == [0, 0, 1, 1]


@pytest.mark.parametrize("algo", ["drpo", "grpo"])
def test_signal_only_update_equals_the_whole_batch_update_and_scores_only_groups_with_signal(start_policy, algo):
    """One update without a reference KL: groups without signal add nothing to DRPO's or GRPO's objective,
    so leaving them out of the forward passes changes nothing but the cost."""
    batch = _batch([(RIGHT[0], "correct", None), (WRONG[0], "incorrect", None), (WRONG[0][:2] + [1], "incorrect", None)],
                   [(RIGHT[1], "correct", None)] * 3, [(WRONG[0], "incorrect", None)] * 3)
    after, stats = [], []
    for only in (False, True):
        cfg = load_config(None, {"rl.algo": algo, "rl.lr": 1e-2, "rl.updates_per_batch": 1, "rl.signal_only": only,
                                 "rl.micro_batch": 2, "device": "cpu"})
        model = copy.deepcopy(start_policy)
        stats.append(policy_update(model, torch.optim.SGD(model.parameters(), lr=cfg.rl.lr), batch, algo, cfg, PAD))
        after.append([q.detach().clone() for q in model.parameters()])
    assert any(not torch.allclose(a, b) for a, b in zip(after[0], start_policy.parameters()))
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-5) for a, b in zip(*after))
    assert stats[0]["update_sequences"] == 9 and stats[1]["update_sequences"] == 3


def test_signal_only_update_without_signal_is_skipped_before_any_forward_pass():
    class NoForward(torch.nn.Module):
        def forward(self, *a, **k):
            raise AssertionError("no forward pass expected")

    model = NoForward()
    model.p = torch.nn.Parameter(torch.zeros(1))
    cfg = load_config(None, {"rl.algo": "drpo", "rl.signal_only": True, "device": "cpu"})
    batch = _batch([(RIGHT[0], "correct", None)] * 2, [(WRONG[1], "incorrect", None)] * 2)
    stats = policy_update(model, torch.optim.SGD(model.parameters(), lr=1.0), batch, "drpo", cfg, PAD)
    assert stats == {"skipped_update": 1.0, "update_sequences": 0}


# ---- pipeline: extra RL prompts, one algorithm per run ----
def test_rl_algos_choose_the_rl_phases_and_an_unselected_phase_reserves_no_time(tmp_path):
    budgets = {"data": 0.0, "sft": 0.0, "probe_sft": 50.0, "rl_drpo": 385.0, "rl_grpo": 385.0, "eval": 75.0}
    one = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", eval_levels=(1,), budget_s=510.0,
                                  budgets=budgets, rl_algos=("grpo",)))
    both = Pipeline(replace_cfg(one.cfg, rl_algos=("drpo", "grpo")))
    # probe: the later phases keep half their budgets; an RL phase not run keeps nothing
    assert one.budget("probe_sft") == pytest.approx(50.0, abs=1.0)
    assert both.budget("probe_sft") == pytest.approx(min(50.0, 510.0 - 0.5 * (385 + 385 + 75)), abs=1.0)
    assert one.budget("rl_grpo") == pytest.approx(385.0, abs=1.0)
    with pytest.raises(UsageError, match="rl_algos"):
        PipelineConfig(rl_algos=("ppo",))
    with pytest.raises(UsageError, match="later_phase_reserve"):
        PipelineConfig(later_phase_reserve=1.5)


def test_with_full_reserves_a_late_start_shortens_rl_and_leaves_the_baseline_and_the_evaluation_whole(tmp_path):
    """Budgets shaped like `--preset rl-long` (probe 50, RL the rest of budget_s, eval, later_phase_reserve 1)."""
    budgets = {"data": 0.0, "sft": 0.0, "probe_sft": 50.0, "rl_drpo": 385.0, "eval": 75.0}
    p = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", eval_levels=(1,), budget_s=510.0,
                                budgets=budgets, rl_algos=("drpo",), later_phase_reserve=1.0))
    assert p.budget("probe_sft") == pytest.approx(50.0, abs=1.0)
    p.t0 -= 70.0  # the probe took 70 s instead of 50
    assert p.budget("rl_drpo") == pytest.approx(510.0 - 70.0 - 75.0, abs=1.0)
    p.t0 -= 365.0
    assert p.budget("eval") == pytest.approx(75.0, abs=1.0)
    with pytest.raises(UsageError, match="rl_revisit_share"):
        PipelineConfig(rl_revisit_share=2.0)


def replace_cfg(cfg, **kw):
    from dataclasses import replace

    return replace(cfg, **kw)


def test_extra_rl_prompts_join_the_lists_once_without_held_out_or_repeated_hashes(tmp_path, monkeypatch):
    import drtriton.train.pipeline as pipeline_mod

    made = []

    class FakeDraws:
        def __init__(self, jobs, scale, workers, device):
            self.jobs, self.closed = jobs, False
            made.append(self)

        def collect(self, deadline, on_done=None, enough=None):
            names = ["new1", "held", "old", "new1", "new2"]
            return [Drawn(j, task={"hash": h, "program": f"# {h}\n", "level": j.level})
                    for j, h in zip(self.jobs, names)] + [Drawn(Job("rl", 1, 0), error="boom")]

        def close(self):
            self.closed = True

    monkeypatch.setattr(pipeline_mod, "ParallelDraws", FakeDraws)
    p = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", eval_levels=(1,), rl_extra_tasks=5,
                                rl_tasks_per_level=96))
    p.heldout = {1: [{"hash": "held"}], 2: []}
    p.rl_tasks = {1: [{"hash": "old"}]}
    p._start_extra_rl_draws()
    assert [j.seed for j in made[0].jobs] == [100_003 + k for k in range(97, 102)]  # after the saved RL seeds
    t = time.time()
    got = p._take_extra_rl_tasks(300.0)
    assert time.time() - t < 5.0 and made[0].closed
    assert [x["hash"] for x in p.rl_tasks[1]] == ["old", "new1", "new2"]
    assert got == {"jobs": 5, "finished": 6, "added": {1: 2}}
    assert len(made) == 1  # drawn once per run


def test_run_rl_feeds_a_revisit_stream_and_logs_its_revisits(sft_run, tiny_problems):
    from drtriton.train.metrics import read_metrics
    from drtriton.train.rl import run_rl
    from drtriton.train.sft import run_sft
    from drtriton.train.workspace import Workspace

    sft = run_sft(sft_run(**{"sft.backend": "native", "sft.max_steps": 1}))
    cfg = sft_run(**{"run_dir": str(sft.final_dir.parent.parent / "rl"), "model.path": str(sft.final_dir),
                     "rl.rollouts": 2, "rl.prompts_per_step": 2, "rl.gen_prompts_per_call": 2, "rl.max_new_tokens": 8,
                     "rl.steps": 3, "rl.overlap": True, "rl.signal_only": True, "eval_n": 0})
    tasks = {1: [{"hash": f"t{i}", "program": p, "level": 1} for i, (p, _) in enumerate(tiny_problems)]}
    stream = RevisitStream(tasks, revisit_share=0.5)
    ws = Workspace(cfg, verifier=lambda pairs: [Outcome("incorrect")] * len(pairs), heldout={1: []}, stream=stream)
    r = run_rl(cfg, ws=ws)
    assert r.steps == 3 and set(stream.last) == {"t0", "t1"} and all(n == 2 for _, n in stream.last.values())
    series = read_metrics(cfg.run_dir / "metrics.csv")
    assert [v for _, v in series["prompts/revisited"]] == [0, 0, 0]  # no group was mixed
    assert [v for _, v in series["drpo/update_sequences"]] == [0, 0, 0]


def _eval_row(statuses: list[str]) -> dict:
    n = len(statuses)
    return {"n": n, "fast_correct_rate": statuses.count("correct") / n, "correct_rate": None, "fast_1": None,
            "compile_rate": None, "fast_compile_rate": 1.0,
            "records": [{"hash": f"h{i}", "fast_status": s} for i, s in enumerate(statuses)]}


def test_combine_runs_compares_each_rl_model_with_the_first_runs_sft_and_reports_baseline_agreement():
    from drtriton.train.pipeline import combine_runs

    sft = ["correct", "incorrect", "incorrect", "correct"]
    a = {"eval": {"models": {"sft": {1: _eval_row(sft)}, "drpo": {1: _eval_row(["correct"] * 3 + ["incorrect"])}}},
         "rl_drpo": {"steps": 20, "rl_tasks": {1: 230}}}
    b = {"eval": {"models": {"sft": {1: _eval_row(sft[:3] + ["incorrect"])}, "grpo": {1: _eval_row(sft)}}},
         "rl_grpo": {"steps": 22, "rl_tasks": {1: 230}}}
    out = combine_runs([a, b])
    c = out["comparison"]
    assert c["drpo_minus_sft"]["fast_correct_rate"] == 25.0 and c["grpo_minus_sft"]["fast_correct_rate"] == 0.0
    assert c["drpo_minus_grpo"]["fast_correct_rate"] == 25.0
    assert c["drpo_vs_sft_tasks"]["fast_check"] == {"fixed": 2, "broken": 1, "correct_in_both": 1}
    assert out["sft_agreement"][1] == {"n": 4, "same_fast_status": 3, "fast_correct_rate": [0.5, 0.25]}
    assert out["same_rl_task_counts"] and out["rl"]["drpo"]["steps"] == 20
    with pytest.raises(UsageError, match="more than one run"):
        combine_runs([a, a])
