"""Policy helpers over any transformers causal LM: sampling rollouts and per-token log-probabilities of
completions given prompts (the quantities every loss in losses.py consumes).

    rollouts = sample(model, tokenizer, prompts, n=8, max_new_tokens=512, temperature=1.0)
    logps, mask = completion_logps(model, [r.prompt_ids for r in rollouts], [r.completion_ids for r in rollouts])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    prompt_index: int  # which prompt of the batch (the DRPO/GRPO group)
    prompt_ids: list[int]
    completion_ids: list[int]  # up to and including EOS when the model stopped
    text: str  # decoded completion


def model_device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def sample(model, tokenizer, prompts: list[str], n: int, max_new_tokens: int, temperature: float = 1.0,
           top_p: float = 1.0, greedy: bool = False) -> list[Rollout]:
    """n completions per prompt (left-padded batch generation); greedy ignores temperature/top_p."""
    device = model_device(model)
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    kwargs = {"max_new_tokens": max_new_tokens, "num_return_sequences": n, "pad_token_id": tokenizer.pad_token_id,
                  "eos_token_id": tokenizer.eos_token_id}
    if greedy:
        kwargs.update(do_sample=False, num_beams=1)
    else:
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
    out = model.generate(**enc, **kwargs)
    if was_training:
        model.train()
    width = enc["input_ids"].shape[1]
    rollouts = []
    for row in range(out.shape[0]):
        p = row // n
        prompt_ids = enc["input_ids"][p][enc["attention_mask"][p].bool()].tolist()
        comp = out[row, width:].tolist()
        if tokenizer.eos_token_id in comp:
            comp = comp[: comp.index(tokenizer.eos_token_id) + 1]
        else:
            while comp and comp[-1] == tokenizer.pad_token_id:
                comp.pop()
        text = tokenizer.decode(comp, skip_special_tokens=True)
        rollouts.append(Rollout(p, prompt_ids, comp, text))
    return rollouts


class RolloutSampler:
    """The weights rollouts are sampled with: the policy itself, or a bf16 copy of an fp32 policy (decoding a
    small model is bound by memory traffic and kernel launches, and bf16 halves the KV cache and weights).
    `sync()` copies the policy's current weights in before each batch; buffers (RoPE's inverse frequencies)
    keep their fp32 values: rounded to bf16 they would shift the angle at position 2,000 by radians."""

    def __init__(self, policy, dtype: str = "model"):
        import copy

        self.policy = policy
        self.copy = None
        if dtype == "bfloat16" and any(q.dtype != torch.bfloat16 for q in policy.parameters()):
            self.copy = copy.deepcopy(policy).eval()
            for q in self.copy.parameters():
                q.requires_grad_(False)
                q.data = q.data.to(torch.bfloat16)

    @torch.no_grad()
    def sync(self):
        """The model to sample from, holding the policy's weights of this moment."""
        if self.copy is None:
            return self.policy
        for dst, src in zip(self.copy.parameters(), self.policy.parameters()):
            dst.copy_(src)
        return self.copy


def rollout_dtype(choice: str, device: str) -> str:
    """RolloutSampler's dtype for a choice of auto | model | bfloat16: auto is a bf16 copy on CUDA (where it
    decodes ~5x faster, bench/gen_speed.py) and the policy itself elsewhere."""
    if choice == "auto":
        return "bfloat16" if device == "cuda" else "model"
    return choice


def completion_logps(model, prompt_ids: list[list[int]], completion_ids: list[list[int]],
                     pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log pi(completion_t | prompt, completion_<t): (B, T) log-probs and (B, T) mask.

    Sequences are right-padded to one length; T is the longest completion. Gradients flow when enabled.
    """
    device = model_device(model)
    seqs = [p + c for p, c in zip(prompt_ids, completion_ids)]
    length = max(len(s) for s in seqs)
    t_max = max(1, max(len(c) for c in completion_ids))
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        attn[i, : len(s)] = 1
    ids, attn = ids.to(device), attn.to(device)
    # Logits only from the first position that predicts a completion token on: the vocabulary projection of
    # prompt positions is most of the (B, L, V) tensor and its gradient (128 rollouts x 1,000 tokens x 8,192
    # in fp32 is 4 GB each), and nothing reads it.
    first = max(0, min(len(p) for p in prompt_ids) - 1)
    logits = model(input_ids=ids, attention_mask=attn, use_cache=False, logits_to_keep=length - first).logits
    mask = torch.zeros((len(seqs), t_max), device=device, dtype=torch.float32)
    rows = []
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        if not c:
            rows.append(torch.zeros(t_max, device=device))
            continue
        # logits at position j predict token j+1: completion token k sits at len(p)+k (row j - first here).
        lg = logits[i, len(p) - 1 - first: len(p) - 1 - first + len(c)].float()
        tgt = torch.tensor(c, device=device)
        lp = lg.gather(-1, tgt[:, None]).squeeze(-1) - torch.logsumexp(lg, dim=-1)
        rows.append(torch.nn.functional.pad(lp, (0, t_max - len(c))))
        mask[i, : len(c)] = 1.0
    logps = torch.stack(rows)
    return logps, mask
