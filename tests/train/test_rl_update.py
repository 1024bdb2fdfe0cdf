"""The RL update end to end on a toy task: rollouts sampled by `policy.sample` (the pipeline's sampler, at
the pipeline's rollout temperature) from a tiny model first trained to answer each prompt half right, half
wrong; a few DRPO or GRPO steps must make the rewarded completions more likely and the unrewarded ones
less likely. Also: groups with one reward give no update, the reference-KL term pulls toward the start."""

from __future__ import annotations

import pytest
import torch

from drtriton.train.config import load_config
from drtriton.train.pipeline import PipelineConfig
from drtriton.train.policy import Rollout, completion_logps, sample
from drtriton.train.rewards import Outcome
from drtriton.train.rl import ScoredRollout, policy_update, reference_policy, warmup_lr
from drtriton.util.errors import UsageError

PAD, EOS = 0, 1
PROMPTS = [[2, 3, 4], [2, 3, 9]]
RIGHT = [[5, 6, EOS], [7, 8, EOS]]  # the rewarded answer to each prompt
WRONG = [[10, 11, 12, 13, EOS], [12, 11, 14, EOS]]  # longer: tokens past a short answer must not leak in the loss


class _IntTokenizer:
    """What `sample` needs of a tokenizer, over texts of space-separated token ids."""

    pad_token_id, eos_token_id, padding_side = PAD, EOS, "left"

    def __call__(self, texts, return_tensors="pt", padding=True, add_special_tokens=False):
        rows = [[int(t) for t in x.split()] for x in texts]
        width = max(len(r) for r in rows)
        ids = torch.tensor([[PAD] * (width - len(r)) + r for r in rows])
        attn = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])

        class _Enc(dict):
            def to(self, device):
                return _Enc({k: v.to(device) for k, v in self.items()})

        return _Enc(input_ids=ids, attention_mask=attn)

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(str(i) for i in ids if not (skip_special_tokens and i in (PAD, EOS)))


def _half_right_policy(arch: str = "test"):
    """A built-in model (`test`: 2 layers, hidden 64), supervised on both answers of each prompt until it
    samples either."""
    from transformers import AutoModelForCausalLM

    from drtriton.train.models import builtin_config

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(builtin_config(arch, 16, eos_token_id=EOS, pad_token_id=PAD,
                                                            bos_token_id=EOS))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2 if arch == "test" else 1e-3)
    prompts = PROMPTS * 2
    answers = RIGHT + WRONG
    for _ in range(40):
        logps, mask = completion_logps(model, prompts, answers, PAD)
        loss = -(logps * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _answer_logps(model, answers) -> torch.Tensor:
    """Summed log-probability of each prompt's given answer: (2,)."""
    with torch.no_grad():
        logps, mask = completion_logps(model, PROMPTS, answers, PAD)
    return (logps * mask).sum(-1)


def _rewarded_share(model, tok, n: int, temperature: float) -> float:
    torch.manual_seed(123)
    rollouts = sample(model, tok, [" ".join(map(str, p)) for p in PROMPTS], n=n, max_new_tokens=6,
                      temperature=temperature)
    return sum(r.completion_ids == RIGHT[r.prompt_index] for r in rollouts) / len(rollouts)


def _rl_steps(model, cfg, algo: str, steps: int, ref=None) -> list[dict]:
    """`steps` RL steps: 8 sampled rollouts per prompt, reward 1 iff the completion is the prompt's RIGHT."""
    tok = _IntTokenizer()
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=cfg.rl.lr, weight_decay=0.0)
    out = []
    torch.manual_seed(7)
    for step in range(steps):
        warmup_lr(opt, cfg.rl.lr, step, cfg.rl.warmup_steps)
        rollouts = sample(model, tok, [" ".join(map(str, p)) for p in PROMPTS], n=8, max_new_tokens=6,
                          temperature=cfg.rl.temperature)
        scored = [ScoredRollout(r, Outcome("correct") if r.completion_ids == RIGHT[r.prompt_index]
                                else Outcome("incorrect")) for r in rollouts]
        out.append(policy_update(model, opt, scored, algo, cfg, PAD, ref))
    return out


def _pipeline_rl_config(algo: str, **extra):
    """The pipeline's RL settings (lr, warm-up, reference KL, updates per batch, temperature)."""
    c = PipelineConfig()
    return load_config(None, {"rl.algo": algo, "rl.lr": c.rl_lr, "rl.warmup_steps": c.rl_warmup_steps,
                              "rl.ref_kl": c.rl_ref_kl, "rl.updates_per_batch": c.rl_updates_per_batch,
                              "rl.temperature": c.rl_temperature, "device": "cpu", **extra})


@pytest.fixture(scope="module")
def start_policy():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-layer model: threads only contend on a loaded box
    try:
        yield _half_right_policy()
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def wider_start_policy():
    """The `mini` built-in (4 layers, hidden 128): an lr's effect grows with width, so the pipeline's lr is
    judged on a model nearer the tiny one (6 layers, hidden 384) than the 2-layer test model."""
    return _half_right_policy("mini")


def test_the_toy_start_policy_answers_each_prompt_about_half_right(start_policy):
    share = _rewarded_share(start_policy, _IntTokenizer(), 64, 1.0)
    assert 0.25 < share < 0.75, share  # both answers are sampled: RL groups have contrast


@pytest.mark.parametrize("algo", ["drpo", "grpo"])
def test_rl_steps_raise_rewarded_and_lower_unrewarded_completions(start_policy, algo):
    """With a high lr for the toy (the policy must move in 6 steps): the rewarded answer's log-probability
    rises and the wrong one's falls for both prompts, and sampling at the rollout temperature finds the
    rewarded answer far more often. With the loss sign flipped this fails."""
    import copy

    model = copy.deepcopy(start_policy).train()
    cfg = load_config(None, {"rl.algo": algo, "rl.lr": 3e-3, "rl.updates_per_batch": 2, "rl.temperature": 0.8,
                             "device": "cpu"})
    right0, wrong0 = _answer_logps(model, RIGHT), _answer_logps(model, WRONG)
    share0 = _rewarded_share(model, _IntTokenizer(), 64, 0.8)
    stats = _rl_steps(model, cfg, algo, 6)
    right1, wrong1 = _answer_logps(model, RIGHT), _answer_logps(model, WRONG)
    share1 = _rewarded_share(model, _IntTokenizer(), 64, 0.8)
    assert torch.all(right1 > right0 + 0.1), (right0, right1)
    assert torch.all(wrong1 < wrong0 - 0.1), (wrong0, wrong1)
    assert share1 > max(0.7, share0 + 0.2), (share0, share1)
    assert all("grad_norm" in s or s.get("skipped_update") for s in stats)


@pytest.mark.parametrize("algo", ["drpo", "grpo"])
def test_the_pipelines_rl_settings_still_move_the_policy_the_right_way(wider_start_policy, algo):
    """The pipeline's own lr, warm-up, reference KL and rollout temperature (a small, careful step): after
    6 steps the rewarded answers are more likely, the wrong ones less likely, and sampled more rarely
    (measured with 4 updates per batch: rewarded share 0.51 -> 0.80, log-probs +0.25/+0.51 and -0.34/-1.09
    for DRPO, about the same for GRPO)."""
    import copy

    model = copy.deepcopy(wider_start_policy).train()
    cfg = _pipeline_rl_config(algo)
    share0 = _rewarded_share(model, _IntTokenizer(), 64, cfg.rl.temperature)
    right0, wrong0 = _answer_logps(model, RIGHT), _answer_logps(model, WRONG)
    stats = _rl_steps(model, cfg, algo, 6, reference_policy(model))
    right1, wrong1 = _answer_logps(model, RIGHT), _answer_logps(model, WRONG)
    share1 = _rewarded_share(model, _IntTokenizer(), 64, cfg.rl.temperature)
    assert torch.all(right1 > right0 + 0.05), (right0, right1)
    assert torch.all(wrong1 < wrong0 - 0.05), (wrong0, wrong1)
    assert share1 > share0 + 0.15, (share0, share1)
    assert all(s.get("kl_ref") is not None for s in stats if not s.get("skipped_update"))


def test_reference_kl_keeps_the_policy_closer_to_where_it_started(start_policy):
    """The same 6 GRPO steps with and without rl.ref_kl: the anchored policy moves its answers' log-probs
    less (measured: mean |change| 0.49 vs 0.70 on the rewarded answers, 2.0 vs 5.6 on the wrong ones)."""
    import copy

    drift = {}
    for ref_kl in (0.0, 1.0):
        model = copy.deepcopy(start_policy).train()
        cfg = load_config(None, {"rl.algo": "grpo", "rl.lr": 1e-3, "rl.updates_per_batch": 2, "rl.ref_kl": ref_kl,
                                 "rl.temperature": 0.8, "device": "cpu"})
        _rl_steps(model, cfg, "grpo", 6, reference_policy(start_policy))
        drift[ref_kl] = [float((_answer_logps(model, a) - _answer_logps(start_policy, a)).abs().mean())
                         for a in (RIGHT, WRONG)]
    assert drift[1.0][0] < drift[0.0][0] and drift[1.0][1] < drift[0.0][1], drift


@pytest.mark.parametrize("algo", ["drpo", "grpo"])
def test_groups_with_one_reward_leave_the_policy_unchanged(start_policy, algo):
    import copy

    model = copy.deepcopy(start_policy).train()
    cfg = load_config(None, {"rl.algo": algo, "rl.lr": 1e-2, "rl.updates_per_batch": 2, "device": "cpu"})
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.rl.lr)
    before = [q.detach().clone() for q in model.parameters()]
    # prompt 0: every rollout right; prompt 1: every rollout wrong -> no contrast anywhere
    scored = [ScoredRollout(Rollout(0, PROMPTS[0], RIGHT[0], ""), Outcome("correct")) for _ in range(4)]
    scored += [ScoredRollout(Rollout(1, PROMPTS[1], WRONG[1], ""), Outcome("incorrect")) for _ in range(4)]
    stats = policy_update(model, opt, scored, algo, cfg, PAD)
    assert stats["skipped_update"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("algo", ["drpo", "grpo"])
def test_an_update_ignores_a_group_without_contrast(start_policy, algo):
    """A batch = one mixed group + one all-correct group gives the same update as the mixed group alone
    (plain SGD; the loss-level check of GRPO's mean is in test_losses, as the gradient clip hides it here)."""
    import copy

    mixed = [ScoredRollout(Rollout(0, PROMPTS[0], RIGHT[0], ""), Outcome("correct")),
             ScoredRollout(Rollout(0, PROMPTS[0], WRONG[0], ""), Outcome("incorrect"))]
    flat = [ScoredRollout(Rollout(1, PROMPTS[1], RIGHT[1], ""), Outcome("correct")) for _ in range(2)]
    cfg = load_config(None, {"rl.algo": algo, "rl.lr": 1e-3, "rl.updates_per_batch": 1, "device": "cpu"})
    after = []
    for batch in (mixed, mixed + flat):
        model = copy.deepcopy(start_policy).train()
        policy_update(model, torch.optim.SGD(model.parameters(), lr=cfg.rl.lr), batch, algo, cfg, PAD)
        after.append([q.detach().clone() for q in model.parameters()])
    start = list(start_policy.parameters())
    assert any(not torch.allclose(a, b) for a, b in zip(after[0], start))  # the mixed group moved it
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(*after))


def test_warmup_lr_ramps_linearly_then_holds():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert [warmup_lr(opt, 2e-5, s, 4) for s in range(6)] == pytest.approx([5e-6, 1e-5, 1.5e-5, 2e-5, 2e-5, 2e-5])
    assert opt.param_groups[0]["lr"] == pytest.approx(2e-5) and warmup_lr(opt, 1e-4, 0, 0) == 1e-4


def test_completion_logps_match_each_sequence_scored_alone_with_prompts_of_different_lengths(start_policy):
    """Only completion tokens are scored, each by the logits of the position before it, whatever the other
    rows' prompt lengths (the logits are computed from the shortest prompt's end on)."""
    prompts, completions = [[2, 3, 4], [5, 6, 7, 8, 9, 10], [2, 3]], [[5, 6, EOS], [7, EOS], [9, 9, 9, 9, EOS]]
    with torch.no_grad():
        logps, mask = completion_logps(start_policy, prompts, completions, PAD)
        for i, (p, c) in enumerate(zip(prompts, completions)):
            full = torch.log_softmax(start_policy(input_ids=torch.tensor([p + c])).logits[0].float(), -1)
            alone = torch.stack([full[len(p) - 1 + k, t] for k, t in enumerate(c)])
            assert torch.allclose(logps[i, : len(c)], alone, atol=1e-5), i
            assert mask[i].tolist() == [1.0] * len(c) + [0.0] * (5 - len(c))
            assert torch.all(logps[i, len(c):] == 0)


@pytest.mark.parametrize("algo", ["drpo", "grpo"])
def test_micro_batched_update_moves_the_policy_exactly_as_the_whole_batch_does(start_policy, algo):
    """rl.micro_batch backpropagates chunk by chunk (the loss's gradient w.r.t. the log-probs of the whole
    batch first): the same step as one backward over the batch, with a reference KL term too."""
    import copy

    batch = []
    for i, (right, wrong) in enumerate(zip(RIGHT, WRONG)):
        batch += [ScoredRollout(Rollout(i, PROMPTS[i], right, ""), Outcome("correct")),
                  ScoredRollout(Rollout(i, PROMPTS[i], wrong, ""), Outcome("incorrect")),
                  ScoredRollout(Rollout(i, PROMPTS[i], wrong[:2] + [EOS], ""), Outcome("incorrect"))]
    after, losses = [], []
    for micro in (0, 2, 4):
        cfg = load_config(None, {"rl.algo": algo, "rl.lr": 1e-2, "rl.updates_per_batch": 2, "rl.ref_kl": 0.1,
                                 "rl.micro_batch": micro, "device": "cpu"})
        model = copy.deepcopy(start_policy)
        ref = reference_policy(model)
        stats = policy_update(model, torch.optim.SGD(model.parameters(), lr=cfg.rl.lr), batch, algo, cfg, PAD, ref)
        after.append([q.detach().clone() for q in model.parameters()])
        losses.append(stats["loss"])
    start = list(start_policy.parameters())
    assert any(not torch.allclose(a, b) for a, b in zip(after[0], start))
    for other in after[1:]:
        assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-5) for a, b in zip(after[0], other))
    assert losses[1] == pytest.approx(losses[0], rel=1e-5) and losses[2] == pytest.approx(losses[0], rel=1e-5)


def test_micro_batch_must_not_be_negative():
    with pytest.raises(UsageError, match="micro_batch"):
        load_config(None, {"rl.micro_batch": -1})
