"""Degenerate-task filter: run an emitted program under torch (CPU, or CUDA when present) and say why
its reference output is useless for training (NaN/Inf, constant, insensitive to an input), or None.

Covered: non-finite outputs, outputs constant across elements and across input draws, outputs that do
not change when any single input is redrawn. Not covered: near-degenerate outputs (tiny variance),
outputs insensitive to model parameters.
"""

from __future__ import annotations

import torch

# Relative tolerance below which two outputs count as equal (fp32 noise is ~1e-7 relative).
_EQUAL_RTOL = 1e-5


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype.is_floating_point:
        scale = float(a.abs().max()) if a.numel() else 0.0
        return bool(torch.allclose(a, b, rtol=_EQUAL_RTOL, atol=_EQUAL_RTOL * (1.0 + scale)))
    return bool(torch.equal(a, b))


def degenerate_reason(program: str, seed: int = 0, device: str | None = None) -> str | None:
    """Why `program` (KernelBench-format text) is degenerate, or None when it is fine.

    Args:
        program: source defining Model, get_inputs, get_init_inputs.
        seed: seeds parameters and inputs, so the verdict is reproducible.
        device: "cpu" or "cuda"; default cuda when available.

    Returns:
        A short reason ("nan_or_inf", "constant", "insensitive to input 1") or None.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    scope: dict = {}
    exec(compile(program, "<synth>", "exec"), scope)  # noqa: S102 - our own emitted program
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed % 2**63)
        model = scope["Model"](*scope["get_init_inputs"]()).to(device).eval()
        first = [x.to(device) for x in scope["get_inputs"]()]
        second = [x.to(device) for x in scope["get_inputs"]()]
        out = model(*first)
        if out.dtype.is_floating_point and not bool(torch.isfinite(out).all()):
            return "nan_or_inf"
        if out.numel() > 1 and out.dtype.is_floating_point and _same(out, torch.full_like(out, out.flatten()[0])):
            return "constant"
        for i in range(len(first)):
            changed = list(first)
            changed[i] = second[i]
            other = model(*changed)
            if other.dtype.is_floating_point and not bool(torch.isfinite(other).all()):
                return "nan_or_inf"
            if _same(out, other):
                return f"insensitive to input {i}"
    return None
