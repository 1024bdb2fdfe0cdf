"""The proposer interface: given a fragment program (and feedback on earlier tries), return candidates.

Every proposer -- the rule-based generator's knob space, a local Hugging Face model, an
OpenAI-compatible endpoint -- implements `propose`; search treats them alike.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FragmentTask:
    """What a proposer is asked to implement: one KernelBench-format program (a fragment or the whole)."""

    key: str               # fragment content hash (cache key)
    program: str           # KernelBench-format source: Model, get_inputs, get_init_inputs
    graph: dict            # the same program as IR JSON (the rule-based proposer lowers this)
    policy: str            # verifier policy the candidate must pass: strict, mixed or hybrid
    params: tuple = ()     # per fragment node: parameter role -> the user's attribute ("self.fc.weight")


@dataclass(frozen=True, slots=True)
class Candidate:
    source: str                       # a full ModelNew file
    proposer: str                     # which proposer made it ("rule", "hf", "openai")
    meta: dict = field(default_factory=dict, hash=False, compare=False)  # knobs, round, prompt kind


@dataclass(frozen=True, slots=True)
class Feedback:
    """An earlier candidate for the same fragment and what the verifier said about it."""

    source: str
    status: str                       # Verdict status value ("correct", "incorrect", ...)
    reason: str                       # the verifier's one-line reason (empty when correct)
    speedup_vs_eager: float | None    # None when not measured (no GPU, or not correct)


class Proposer(ABC):
    name: str = "proposer"

    @abstractmethod
    def propose(self, task: FragmentTask, n: int, feedback: Sequence[Feedback] = ()) -> list[Candidate]:
        """Up to `n` candidate ModelNew sources for `task`; fewer (or none) when the space is exhausted.

        `feedback` holds earlier verified tries for this fragment, newest last; model proposers turn it
        into a refinement prompt, the rule-based proposer uses it to skip knobs already tried.
        """


_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str | None:
    """The ModelNew file in a model's reply: the last fenced block defining ModelNew, else the whole
    reply when it defines ModelNew itself; None when there is none."""
    blocks = [b for b in _FENCE.findall(text) if "class ModelNew" in b]
    if blocks:
        return blocks[-1].strip() + "\n"
    if "class ModelNew" in text and "```" not in text:
        return text.strip() + "\n"
    return None
