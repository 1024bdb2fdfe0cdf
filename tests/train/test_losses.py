"""DRPO and GRPO loss math: hand-computed values and gradient signs."""

import math

import torch

from drtriton.train.losses import (
    DRPOHyper,
    drpo_group_objective,
    drpo_loss,
    grpo_advantages,
    grpo_loss,
    kl_k3,
    kl_to_reference,
    sequence_scores,
)


def test_sequence_scores_are_length_normalised_over_the_mask():
    logps = torch.tensor([[-1.0, -3.0, -100.0], [-2.0, -2.0, -2.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.allclose(sequence_scores(logps, mask), torch.tensor([-2.0, -2.0]))


def test_drpo_group_objective_matches_hand_computation():
    scores = torch.tensor([-1.0, -2.0, -3.0, -4.0])
    correct = torch.tensor([True, True, False, False])
    speed = torch.tensor([math.log(2.0), 0.0, float("nan"), float("nan")])
    tau, lam = 5.0, 0.1
    j = drpo_group_objective(scores, correct, speed, tau, lam)
    # weights = softmax([log2/0.1, 0]) ; neg term = tau * log(mean(exp(s/tau)))
    w0 = math.exp(math.log(2) / lam) / (math.exp(math.log(2) / lam) + 1.0)
    pos = w0 * -1.0 + (1 - w0) * -2.0
    neg = tau * math.log(0.5 * (math.exp(-3.0 / tau) + math.exp(-4.0 / tau)))
    assert abs(float(j) - (pos - neg)) < 1e-5


def test_drpo_groups_all_correct_or_all_wrong_give_no_signal():
    scores = torch.tensor([-1.0, -2.0])
    nan = torch.tensor([float("nan")] * 2)
    assert drpo_group_objective(scores, torch.tensor([True, True]), torch.zeros(2), 5.0, 0.1) is None
    assert drpo_group_objective(scores, torch.tensor([False, False]), nan, 5.0, 0.1) is None


def test_drpo_gradient_raises_correct_and_lowers_incorrect_rollouts():
    logps = torch.tensor([[-1.0, -1.0], [-2.0, -2.0], [-1.5, -1.5], [-3.0, -3.0]], requires_grad=True)
    old = logps.detach().clone()
    mask = torch.ones(4, 2)
    groups = torch.zeros(4, dtype=torch.long)
    correct = torch.tensor([True, True, False, False])
    speed = torch.tensor([0.5, 0.0, float("nan"), float("nan")])
    loss, stats = drpo_loss(logps, old, mask, groups, correct, speed, DRPOHyper())
    loss.backward()
    g = logps.grad.sum(-1)
    assert g[0] < 0 and g[1] < 0  # gradient descent raises log-likelihood of correct rollouts
    assert g[2] > 0 and g[3] > 0  # ... and lowers incorrect ones
    assert abs(g[0]) > abs(g[1])  # the faster correct rollout gets the larger weight
    assert abs(g[2]) > abs(g[3])  # the more likely incorrect rollout is pushed down harder (softmax)
    assert stats["groups_with_signal"] == 1 and stats["kl_penalty"] == 0.0


def test_drpo_kl_penalty_is_zero_inside_trust_region_and_linear_outside():
    hyper = DRPOHyper(beta=100.0, delta=0.001)
    old = torch.tensor([[-1.0, -1.0]])
    mask = torch.ones(1, 2)
    groups, correct, speed = torch.zeros(1, dtype=torch.long), torch.tensor([True]), torch.zeros(1)
    _, inside = drpo_loss(old + 0.01, old, mask, groups, correct, speed, hyper)
    assert inside["kl_penalty"] == 0.0 and inside["groups_with_signal"] == 0
    new = old + 0.5
    kl = float(kl_k3(new, old, mask))
    assert abs(kl - (math.exp(0.5) - 1 - 0.5)) < 1e-6
    _, outside = drpo_loss(new, old, mask, groups, correct, speed, hyper)
    assert abs(outside["kl_penalty"] - 100.0 * (kl - 0.001)) < 1e-4


def test_grpo_advantages_are_group_normalised_and_zero_for_equal_rewards():
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0])
    groups = torch.tensor([0, 0, 1, 1])
    adv = grpo_advantages(rewards, groups)
    assert adv[0] > 0 > adv[1] and abs(float(adv[0]) - 1.0) < 1e-3
    assert torch.all(adv[2:] == 0)


def test_grpo_loss_gradient_follows_advantage_sign():
    logps = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]], requires_grad=True)
    loss, _ = grpo_loss(logps, logps.detach().clone(), torch.ones(2, 2), torch.tensor([1.0, -1.0]))
    loss.backward()
    assert torch.all(logps.grad[0] < 0) and torch.all(logps.grad[1] > 0)


def test_grpo_ratio_clip_stops_the_gradient_past_the_trust_region_in_the_advantage_direction():
    old = torch.zeros(4, 1)
    # ratios e^0.5 ~ 1.65 and e^-0.5 ~ 0.61 (outside 1 +- 0.2), for positive then negative advantages
    new = torch.tensor([[0.5], [-0.5], [0.5], [-0.5]], requires_grad=True)
    loss, _ = grpo_loss(new, old, torch.ones(4, 1), torch.tensor([1.0, 1.0, -1.0, -1.0]), clip_eps=0.2)
    loss.backward()
    g = new.grad[:, 0]
    assert g[0] == 0 and g[3] == 0  # already moved past the clip the way the advantage wants: no push
    assert g[1] < 0 and g[2] > 0  # moved the wrong way: the unclipped term still pulls it back


def test_kl_to_reference_is_zero_at_the_reference_and_pulls_back_toward_it():
    ref = torch.tensor([[-1.0, -2.0]])
    assert float(kl_to_reference(ref.clone(), ref, torch.ones(1, 2))) == 0.0
    new = torch.tensor([[-0.5, -2.5]], requires_grad=True)
    kl = kl_to_reference(new, ref, torch.ones(1, 2))
    kl.backward()
    assert float(kl.detach()) > 0 and new.grad[0, 0] > 0 and new.grad[0, 1] < 0  # descent moves each back to ref
    masked = kl_to_reference(new.detach(), ref, torch.tensor([[1.0, 0.0]]))
    assert math.isclose(float(masked), math.exp(-0.5) - 1 + 0.5, rel_tol=1e-6)  # token mean over the mask


def test_grpo_loss_is_a_mean_over_the_sequences_of_groups_with_signal():
    """Sequences of one-reward groups (advantage 0) neither add to nor dilute the loss, as in DRPO."""
    new = torch.tensor([[-1.0, -2.0], [-1.5, -0.5]], requires_grad=True)
    old = torch.tensor([[-1.1, -1.9], [-1.4, -0.7]])
    mask = torch.ones(2, 2)
    alone, _ = grpo_loss(new, old, mask, torch.tensor([1.0, -1.0]))
    flat = torch.tensor([[-0.3, -0.2], [-0.9, -0.4]])
    both, stats = grpo_loss(torch.cat([new, flat]), torch.cat([old, flat]), torch.ones(4, 2),
                            torch.tensor([1.0, -1.0, 0.0, 0.0]))
    assert math.isclose(float(alone.detach()), float(both.detach()), rel_tol=1e-6)
    assert math.isclose(stats["objective"], -float(both.detach()), rel_tol=1e-6)
