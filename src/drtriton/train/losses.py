"""Policy losses over per-token log-probabilities: DRPO (the paper's method) and the GRPO baseline.

    loss, stats = drpo_loss(new_logps, old_logps, mask, groups, correct, speed, DRPOHyper())
    loss, stats = grpo_loss(new_logps, old_logps, mask, grpo_advantages(rewards, groups), clip_eps=0.2)

Shapes: `*_logps` and `mask` are (B, T) over completion tokens; `groups` (B,) names each rollout's prompt.
DRPO (DESIGN §5, arXiv 2510.04474), per prompt with correct rollouts S+ and incorrect S-:
    s(o)  = mean_t log pi(o_t | q, o_<t)                       (length-normalised log-likelihood)
    w_i   = softmax_{i in S+}(r_speed_i / lam)                  (unmeasured speed counts as 0)
    J(q)  = sum_{i in S+} w_i s_i - tau * log mean_{j in S-} exp(s_j / tau)
    loss  = -mean_q J(q) + max(beta * (KL(pi_old || pi) - delta), 0)
Groups that are all correct or all wrong give no signal. KL uses the non-negative k3 estimator
(r - 1 - log r, r = pi/pi_old) over every completion token of the batch, sampled from pi_old.
Both losses can add `kl_to_reference` (KL(pi || pi_ref) to the policy RL started from, k3 with
r = pi_ref/pi) times `rl.ref_kl`; rl.policy_update adds it, the same way for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True, slots=True)
class DRPOHyper:
    """DRPO's hyper-parameters; defaults are the paper's settings."""

    beta: float = 100.0  # KL penalty slope past the trust region
    tau: float = 5.0  # temperature of the log-sum-exp over incorrect rollouts
    lam: float = 0.1  # temperature of the speed softmax over correct rollouts
    delta: float = 0.001  # trust-region radius in KL(pi_old || pi)


def sequence_scores(logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Length-normalised log-likelihood of each completion: (B, T) -> (B,)."""
    mask = mask.to(logps.dtype)
    return (logps * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)


def kl_k3(new_logps: torch.Tensor, old_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-mean estimate of KL(pi_old || pi) from tokens sampled by pi_old (k3: never negative)."""
    log_ratio = new_logps - old_logps
    per_token = torch.exp(log_ratio) - 1.0 - log_ratio
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / mask.sum().clamp_min(1.0)


def kl_to_reference(new_logps: torch.Tensor, ref_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-mean estimate of KL(pi || pi_ref) from tokens sampled (about) by pi: k3 with r = pi_ref / pi
    (the GRPO paper's per-token penalty); gradients flow through `new_logps` only."""
    return kl_k3(ref_logps.detach(), new_logps, mask)


def drpo_group_objective(
    scores: torch.Tensor, correct: torch.Tensor, speed: torch.Tensor, tau: float, lam: float
) -> torch.Tensor | None:
    """J(q) for one prompt's rollouts, or None when the group is all correct or all wrong.

    Args:
        scores: (G,) length-normalised log-likelihoods.
        correct: (G,) bool.
        speed: (G,) log speedups; NaN where unmeasured (weighted as 0).
    """
    correct = correct.bool()
    if bool(correct.all()) or not bool(correct.any()):
        return None
    pos, neg = scores[correct], scores[~correct]
    pos_speed = torch.nan_to_num(speed[correct].to(scores.dtype), nan=0.0)
    weights = torch.softmax(pos_speed / lam, dim=0).detach()
    n_neg = neg.numel()
    neg_term = tau * (torch.logsumexp(neg / tau, dim=0) - math.log(n_neg))
    return (weights * pos).sum() - neg_term


def drpo_loss(
    new_logps: torch.Tensor,
    old_logps: torch.Tensor,
    mask: torch.Tensor,
    groups: torch.Tensor,
    correct: torch.Tensor,
    speed: torch.Tensor,
    hyper: DRPOHyper,
) -> tuple[torch.Tensor, dict]:
    """The DRPO loss of one batch (minimise it); stats say how many groups carried signal."""
    scores = sequence_scores(new_logps, mask)
    objectives = []
    for g in torch.unique(groups):
        sel = groups == g
        j = drpo_group_objective(scores[sel], correct[sel], speed[sel], hyper.tau, hyper.lam)
        if j is not None:
            objectives.append(j)
    kl = kl_k3(new_logps, old_logps.detach(), mask)
    penalty = torch.clamp(hyper.beta * (kl - hyper.delta), min=0.0)
    if objectives:
        objective = torch.stack(objectives).mean()
    else:
        objective = scores.sum() * 0.0  # keeps the graph; no signal in this batch
    loss = -objective + penalty
    stats = {
        "objective": float(objective.detach()),
        "kl": float(kl.detach()),
        "kl_penalty": float(penalty.detach()),
        "groups_with_signal": len(objectives),
        "groups": int(torch.unique(groups).numel()),
    }
    return loss, stats


def grpo_advantages(rewards: torch.Tensor, groups: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Group-normalised advantages (r - mean) / (std + eps); a group of equal rewards gets 0."""
    adv = torch.zeros_like(rewards, dtype=torch.float32)
    for g in torch.unique(groups):
        sel = groups == g
        r = rewards[sel].float()
        std = r.std(unbiased=False) if r.numel() > 1 else torch.zeros(())
        adv[sel] = (r - r.mean()) / (std + eps)
    return adv


def grpo_loss(
    new_logps: torch.Tensor,
    old_logps: torch.Tensor,
    mask: torch.Tensor,
    advantages: torch.Tensor,
    clip_eps: float = 0.2,
) -> tuple[torch.Tensor, dict]:
    """GRPO's clipped surrogate, token-mean per sequence, then mean over the sequences of groups with signal
    (non-zero advantage; minimise it). Like DRPO's mean over such groups: a mean over every sequence would
    shrink the surrogate with the share of one-reward groups, and any penalty added beside it (rl.ref_kl)
    would then weigh more for GRPO than for DRPO."""
    ratio = torch.exp(new_logps - old_logps.detach())
    adv = advantages.to(new_logps.dtype).unsqueeze(-1)
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * adv)
    per_seq = sequence_scores(surrogate, mask)
    signal = (advantages != 0).to(per_seq.dtype).to(per_seq.device)
    loss = -(per_seq * signal).sum() / signal.sum().clamp_min(1.0)
    kl = kl_k3(new_logps.detach(), old_logps.detach(), mask)
    stats = {
        "objective": float(-loss.detach()),
        "kl": float(kl),
        "nonzero_advantage_frac": float((advantages != 0).float().mean()),
    }
    return loss, stats
