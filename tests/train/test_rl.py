"""RL on the 2-layer hidden-64 model: the DRPO/GRPO update moves parameters the right way; the loop runs
against the real verifier, checkpoints, and resumes with its curriculum and task-stream state."""

import pytest
import torch

from drtriton.train.checkpoint import latest_checkpoint, load_state
from drtriton.train.models import load_model
from drtriton.train.policy import Rollout, completion_logps, sample
from drtriton.train.prompt import build_prompt, format_answer
from drtriton.train.rewards import Outcome
from drtriton.train.rl import ScoredRollout, policy_update, run_rl
from drtriton.train.sft import run_sft, trl_available


def _teacher_forced(tokenizer, problem, good, bad):
    """Two rollouts of one prompt: a correct answer and a wrong one (verdicts given, as the loss sees them)."""
    p = tokenizer(build_prompt(problem), add_special_tokens=False).input_ids
    good_ids = tokenizer(format_answer(good), add_special_tokens=False).input_ids[:40]
    bad_ids = tokenizer(format_answer(bad), add_special_tokens=False).input_ids[:40]
    return [ScoredRollout(Rollout(0, p, good_ids, ""), Outcome("correct", speedup_vs_eager=None)),
            ScoredRollout(Rollout(0, p, bad_ids, ""), Outcome("incorrect"))]


def _update_moves_toward_correct(sft_run, tiny_problems, algo):
    cfg = sft_run(**{"rl.algo": algo, "rl.lr": 1e-3, "rl.rollouts": 2, "rl.updates_per_batch": 2})
    model, tok = load_model(cfg.model, corpus=[p + s for p, s in tiny_problems])
    (problem, good), bad = tiny_problems[0], "x = [1, 2, 3]\nprint(sum(x) * 7)\n"
    scored = _teacher_forced(tok, problem, good, bad)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.rl.lr)
    before = [q.detach().clone() for q in model.parameters()]
    ids = [s.rollout.prompt_ids for s in scored], [s.rollout.completion_ids for s in scored]
    with torch.no_grad():
        lp0, mask = completion_logps(model, *ids)
    stats = policy_update(model, opt, scored, algo, cfg, tok.pad_token_id)
    with torch.no_grad():
        lp1, _ = completion_logps(model, *ids)
    score = lambda lp: (lp * mask).sum(-1) / mask.sum(-1)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert score(lp1)[0] > score(lp0)[0]  # the correct answer became more likely
    assert score(lp1)[0] - score(lp1)[1] > score(lp0)[0] - score(lp0)[1]  # ... relative to the wrong one
    return stats


def test_drpo_update_changes_parameters_toward_the_correct_rollout(sft_run, tiny_problems):
    stats = _update_moves_toward_correct(sft_run, tiny_problems, "drpo")
    assert stats["groups_with_signal"] == 1 and stats["kl"] > 0  # second update measured drift from pi_old


def test_grpo_update_changes_parameters_toward_the_correct_rollout(sft_run, tiny_problems):
    _update_moves_toward_correct(sft_run, tiny_problems, "grpo")


def test_sample_returns_n_rollouts_per_prompt_with_group_indices(sft_run, tiny_problems):
    cfg = sft_run()
    model, tok = load_model(cfg.model, corpus=[p + s for p, s in tiny_problems])
    rollouts = sample(model, tok, ["a", "bb"], n=3, max_new_tokens=5)
    assert [r.prompt_index for r in rollouts] == [0, 0, 0, 1, 1, 1]
    assert all(len(r.completion_ids) <= 5 for r in rollouts)


def test_rl_loop_resumes_with_curriculum_and_stream_state(sft_run):
    sft = run_sft(sft_run(**{"sft.backend": "native", "sft.max_steps": 1}))
    common = {"run_dir": str(sft.final_dir.parent.parent / "rl"), "model.path": str(sft.final_dir), "rl.rollouts": 2,
              "rl.prompts_per_step": 2, "rl.max_new_tokens": 8, "rl.save_every": 1,
              "curriculum.eval_every": 1, "eval_n": 1, "verify.device": "cpu"}
    cfg = sft_run(**common, **{"rl.steps": 2})
    r1 = run_rl(cfg)
    state1 = load_state(latest_checkpoint(cfg.run_dir), restore_rng=False)
    assert r1.steps == 2 and len(state1["curriculum"]["history"]) == 2 and state1["stream_cursor"] >= 2
    r2 = run_rl(sft_run(**common, **{"rl.steps": 3}))
    state2 = load_state(latest_checkpoint(cfg.run_dir), restore_rng=False)
    assert r2.steps == 3 and state2["curriculum"]["history"][:2] == state1["curriculum"]["history"]
    assert len(state2["curriculum"]["history"]) == 3 and state2["stream_cursor"] > state1["stream_cursor"]
    assert "eval/pass_at_1" in (cfg.run_dir / "metrics.csv").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not trl_available(), reason="trl not installed")
def test_trl_grpo_backend_runs_a_step_and_saves_the_policy(sft_run):
    sft = run_sft(sft_run(**{"sft.backend": "native", "sft.max_steps": 1}))
    cfg = sft_run(**{"run_dir": str(sft.final_dir.parent.parent / "rl_trl"), "model.path": str(sft.final_dir),
                     "rl.algo": "grpo", "rl.backend": "trl", "rl.rollouts": 2, "rl.prompts_per_step": 1,
                     "rl.max_new_tokens": 8, "rl.steps": 1, "verify.device": "cpu"})
    result = run_rl(cfg)
    assert result.steps == 1 and (result.final_dir / "config.json").is_file()
    assert "rollout/format_error_rate" in (cfg.run_dir / "metrics.csv").read_text()


def test_continued_rl_pulls_toward_the_named_reference_not_its_starting_policy(sft_run, tmp_path):
    """rl.ref_path (a continued run's SFT model): the KL term compares against that model, so the first
    update of a run that starts from another policy already measures a distance; without it the reference
    is the starting policy and the first update's KL is zero."""
    import csv

    from drtriton.train.checkpoint import save_final

    sft = run_sft(sft_run(**{"sft.backend": "native", "sft.max_steps": 1}))
    other, tok = load_model(sft_run(**{"model.seed": 7}).model)  # same tokenizer, other random weights
    save_final(other, tok, tmp_path / "other")
    common = {"model.path": str(sft.final_dir), "rl.rollouts": 2, "rl.prompts_per_step": 2,
              "rl.max_new_tokens": 8, "rl.steps": 1, "rl.ref_kl": 0.1, "verify.device": "cpu", "eval_n": 0}

    def first_kl(run_dir, **extra):
        run_rl(sft_run(**common, run_dir=str(run_dir), **extra))
        rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
        return float(next(r["value"] for r in rows if r["key"].endswith("/kl_ref")))

    assert first_kl(tmp_path / "own") == pytest.approx(0.0, abs=1e-6)
    assert first_kl(tmp_path / "named", **{"rl.ref_path": str(tmp_path / "other")}) > 1e-3


def test_bf16_rollout_sampler_copies_weights_in_bf16_keeps_buffers_fp32_and_follows_the_policy():
    from transformers import AutoModelForCausalLM, Qwen2Config

    from drtriton.train.models import BUILTIN_MODELS
    from drtriton.train.policy import RolloutSampler

    torch.manual_seed(0)
    policy = AutoModelForCausalLM.from_config(Qwen2Config(vocab_size=300, **BUILTIN_MODELS["test"]))
    assert RolloutSampler(policy, "model").sync() is policy
    sampler = RolloutSampler(policy, "bfloat16")
    gen = sampler.sync()
    assert gen is not policy and all(q.dtype == torch.bfloat16 for q in gen.parameters())
    assert all(b.dtype == torch.float32 for n, b in gen.named_buffers() if "inv_freq" in n)
    assert any("inv_freq" in n for n, _ in gen.named_buffers())
    with torch.no_grad():
        next(policy.parameters()).add_(1.0)  # an update of the policy ...
    first = next(sampler.sync().parameters())  # ... reaches the copy at the next sync
    assert torch.equal(first, next(policy.parameters()).to(torch.bfloat16))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        a, b = policy(ids).logits, gen(ids).logits.float()
    assert (a - b).abs().max() < 0.1 * a.abs().max()  # the same function up to bf16 rounding
    assert RolloutSampler(policy.to(torch.bfloat16), "bfloat16").sync() is policy  # already bf16: no copy
