"""The one prompt template for every model we train or evaluate, and the parser for its answers.

    from drtriton.train.prompt import build_prompt, parse_answer
    parse_answer(model_text)  # -> ParsedAnswer(code=... | None, error=... | None)

A model's answer is one fenced ```python block defining `ModelNew`. Anything else (no block, an
unterminated block, a block without ModelNew) is a *format error*: a value, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The instruction is short on purpose: small models trained from scratch learn the format from SFT pairs,
# and large instruction-tuned models read the same words. Changing this text invalidates checkpoints'
# learned format, so it is versioned.
PROMPT_VERSION = "v1"
PROMPT_TEMPLATE = (
    "### Task\n"
    "Rewrite the PyTorch program below as a faster module `ModelNew` with the same constructor "
    "arguments and outputs, using Triton kernels (`@triton.jit`). Answer with one ```python code block "
    "containing the whole file.\n"
    "### Program\n"
    "```python\n{program}\n```\n"
    "### Answer\n"
)
# The SFT target (and what the parser expects): a fenced block, then the end-of-text token.
ANSWER_TEMPLATE = "```python\n{code}\n```\n"

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)\n?```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """The code extracted from a model's answer, or why none could be."""

    code: str | None
    error: str | None = None  # one line; set exactly when code is None

    @property
    def ok(self) -> bool:
        return self.code is not None


def build_prompt(program: str) -> str:
    """The prompt for one KernelBench-format program (its full source text)."""
    return PROMPT_TEMPLATE.format(program=program.strip("\n"))


def format_answer(code: str) -> str:
    """The SFT target text for a reference solution."""
    return ANSWER_TEMPLATE.format(code=code.strip("\n"))


def parse_answer(text: str) -> ParsedAnswer:
    """Extracts the ModelNew source from a model's answer.

    The first fenced block that defines `class ModelNew` wins (a model may first quote the program);
    failures are returned as ParsedAnswer(code=None, error=...) so the caller scores a format error.
    """
    if not isinstance(text, str):
        return ParsedAnswer(None, f"answer is not text (got {type(text).__name__})")
    blocks = _FENCE.findall(text)
    if not blocks:
        if "```" in text:
            return ParsedAnswer(None, "code block is not closed with ```")
        return ParsedAnswer(None, "no ```python code block in the answer")
    for block in blocks:
        if re.search(r"^\s*class\s+ModelNew\b", block, re.MULTILINE):
            return ParsedAnswer(block.strip("\n") + "\n")
    return ParsedAnswer(None, f"none of the {len(blocks)} code block(s) defines class ModelNew")
