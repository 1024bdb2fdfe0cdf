"""Proposers behind one interface (base.Proposer): rule-based knobs, local HF model, OpenAI endpoint.

`build(config, emit_rule, gpu)` makes the ones a SearchConfig names; `ModelProposer(dir)` is the one-shot
model proposer `drtriton bench --proposer model:DIR` uses.
"""

from __future__ import annotations

from pathlib import Path

from drtriton.search.proposers.base import Candidate, Feedback, FragmentTask, Proposer, extract_code
from drtriton.search.proposers.rule import RuleProposer

__all__ = ["Candidate", "Feedback", "FragmentTask", "ModelProposer", "Proposer", "RuleProposer", "build",
           "extract_code"]


def build(config, emit_rule, gpu: bool, describe=None, tf32: bool = False) -> list[Proposer]:
    """The proposers named in `config.proposers`, in that order.

    Args:
        config: SearchConfig.
        emit_rule: `(task, knobs) -> source`, the rule-based generator for one fragment.
        gpu: speed is measured (only then does tuning knobs beyond the defaults make sense).
        describe: `task -> [KernelShape]` (the backend's kernel plan); the rule proposer tunes for it.
        tf32: the verifier's tolerance admits TF32 matmuls.
    """
    out: list[Proposer] = []
    for name in config.proposers:
        if name == "rule":
            out.append(RuleProposer(emit_rule, tune=gpu, describe=describe, tf32=tf32))
        elif name == "hf":
            from drtriton.search.proposers.hf import HFProposer

            out.append(HFProposer.from_path(config.model_path, temperature=config.temperature,
                                            max_new_tokens=config.max_new_tokens, seed=config.seed))
        elif name == "openai":
            from drtriton.search.proposers.openai import OpenAIClient, OpenAIProposer

            client = OpenAIClient(config.endpoint, config.model_name, config.api_key_env)
            out.append(OpenAIProposer(client, config.temperature, config.max_new_tokens, config.seed))
    return out


class ModelProposer:
    """One sample from a local model for a whole program: `ModelProposer(dir).propose(src) -> str | None`."""

    def __init__(self, model_dir: str | Path, temperature: float = 0.0, max_new_tokens: int = 2048):
        from drtriton.search.proposers.hf import HFProposer

        self.impl = HFProposer.from_path(model_dir, temperature=temperature, max_new_tokens=max_new_tokens)

    def propose(self, problem_src: str, policy: str = "mixed") -> str | None:
        task = FragmentTask("", problem_src, {}, policy)
        cands = self.impl.propose(task, 1)
        return extract_code(cands[0].source) if cands else None
