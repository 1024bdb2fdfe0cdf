"""Prompts for model proposers: the first ask, and refinement asks that feed the verifier's error message
or measured timing back to the model. Plain chat messages ({"role", "content"}), usable by any backend.
"""

from __future__ import annotations

from collections.abc import Sequence

from drtriton.search.proposers.base import Feedback, FragmentTask

SYSTEM = (
    "You are an expert GPU kernel engineer. You rewrite PyTorch programs as fast Triton kernels. "
    "Reply with one complete Python file in a ```python block that defines `class ModelNew(nn.Module)` "
    "with the same __init__ arguments and forward signature as `Model`, computing the same outputs with "
    "@triton.jit kernels. Do not call or subclass Model, do not fall back to PyTorch on errors."
)

_POLICY_NOTE = {
    "strict": "Only allocation and layout ops may stay in PyTorch; every computation must be a Triton kernel.",
    "mixed": "Matmul and convolution may use PyTorch library calls; everything else must be Triton.",
    "hybrid": "Operators you do not replace may stay in PyTorch, but your Triton kernels must do real work.",
}


def first_prompt(task: FragmentTask) -> list[dict]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": (
            f"Write ModelNew for this program. {_POLICY_NOTE.get(task.policy, '')}\n\n"
            f"```python\n{task.program.strip()}\n```")},
    ]


def refine_prompt(task: FragmentTask, last: Feedback) -> list[dict]:
    """Asks the model to fix (or speed up) its last candidate, quoting what the verifier said."""
    if last.status != "correct":
        ask = (f"The verifier rejected it: status `{last.status}`, reason: {last.reason or '(none given)'}\n"
               "Fix the problem and return the whole corrected file.")
    elif last.speedup_vs_eager is not None:
        ask = (f"It is correct and runs at {last.speedup_vs_eager:.3f}x the speed of eager PyTorch. "
               "Make it faster (fuse more, tune block sizes, warps and stages) and return the whole file.")
    else:
        ask = ("It is correct; its speed was not measured (no GPU). Reduce memory traffic and kernel "
               "launches and return the whole file.")
    return [
        *first_prompt(task),
        {"role": "assistant", "content": f"```python\n{last.source.strip()}\n```"},
        {"role": "user", "content": ask},
    ]


def messages_for(task: FragmentTask, feedback: Sequence[Feedback]) -> list[dict]:
    """First prompt when there is no feedback, else a refinement of the newest try."""
    return refine_prompt(task, feedback[-1]) if feedback else first_prompt(task)


def flatten(messages: Sequence[dict]) -> str:
    """Plain-text rendering for base models with no chat template."""
    parts = [f"### {m['role']}\n{m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\n### assistant\n"
