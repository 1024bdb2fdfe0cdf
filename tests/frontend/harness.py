"""Shared by the frontend tests: compile a program and compare ModelNew with Model in this process.

The verifier (drtriton.verify) runs the full protocol in sandboxed workers; this direct check is the fast
inner loop the CI tier can afford on hundreds of programs under TRITON_INTERPRET=1.
"""

from __future__ import annotations

import types

import torch

from drtriton.frontend import CompileConfig, compile_problem
from drtriton.util.errors import UsageError


def load(src: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(src, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our own test programs
    return module


def run_pair(problem_src: str, solution_src: str, seeds=(0, 1), init_seed: int = 42) -> float:
    """Max abs error of ModelNew vs Model over fresh inputs per seed; raises AssertionError on mismatch."""
    prob, sol = load(problem_src, "problem"), load(solution_src, "solution")
    torch.manual_seed(init_seed)
    model = prob.Model(*prob.get_init_inputs())
    torch.manual_seed(init_seed)
    model_new = sol.ModelNew(*prob.get_init_inputs())
    worst = 0.0
    for seed in seeds:
        torch.manual_seed(seed)
        inputs = prob.get_inputs()
        with torch.no_grad():
            ref = model(*inputs)
            out = model_new(*[t.clone() for t in inputs])
        ref = ref if isinstance(ref, tuple) else (ref,)
        out = out if isinstance(out, tuple) else (out,)
        assert len(ref) == len(out)
        for r, o in zip(ref, out):
            assert r.shape == o.shape and r.dtype == o.dtype, (r.shape, o.shape, r.dtype, o.dtype)
            assert torch.isfinite(o).all() == torch.isfinite(r).all()
            if r.dtype.is_floating_point:
                torch.testing.assert_close(o, r, atol=1e-4, rtol=1e-4)
                worst = max(worst, (o.double() - r.double()).abs().max().item() if r.numel() else 0.0)
            else:
                assert torch.equal(o, r)
    return worst


def compile_or_none(problem_src: str, policy: str = "mixed", knobs: dict | None = None):
    """The compile result, or None when the program uses an operator the compiler does not lower."""
    try:
        return compile_problem(problem_src, CompileConfig(policy=policy, knobs=knobs or {}))
    except UsageError as exc:
        if "cannot lower" in str(exc) or "cannot import" in str(exc):
            return None
        raise
