"""Shared by the frontend tests: compile a program and compare ModelNew with Model in this process.

The verifier (drtriton.verify) runs the full protocol in sandboxed workers; this direct check is the fast
inner loop the CI tier can afford on hundreds of programs under TRITON_INTERPRET=1.
"""

from __future__ import annotations

import time
import types

import torch

from drtriton.frontend import CompileConfig, compile_problem


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


def synth_tasks(level: int, chunk: int, n: int) -> list[dict]:
    """The synthesizer's tasks for one chunk of the 2,000-program check (seeded by level and chunk)."""
    from drtriton import synth

    return list(synth.synthesize(synth.SynthConfig(n=n, level=level, seed=5000 + 100 * level + chunk)))


def check_chunk(level: int, chunk: int, n: int) -> tuple[list[str], float]:
    """Compiles (mixed) and checks one chunk in-process; returns (failures, seconds). Runs in a worker."""
    torch.set_num_threads(1)  # one worker process per core: no oversubscription
    start = time.perf_counter()
    failures = []
    for task in synth_tasks(level, chunk, n):
        try:
            result = compile_problem(task["program"], CompileConfig(policy="mixed"))
            run_pair(task["program"], result.source, seeds=(task["seed"] % 1000,))
        except Exception as exc:  # noqa: BLE001 - every failure is collected and reported with its program
            failures.append(f"{task['hash']} ({', '.join(task['ops'])}): {type(exc).__name__}: {str(exc)[:300]}")
    return failures, time.perf_counter() - start


def kernelbench_program(forward: str, inputs: str, init: str = "", init_inputs: str = "[]", args: str = "x",
                        init_args: str = "") -> str:
    """A KernelBench-format problem whose Model returns `forward` over `args` (a parameter list such as
    "x, t"), with `init` in __init__ (parameters `init_args`, e.g. ", margin"), inputs `inputs` and
    init inputs `init_inputs` (Python expressions)."""
    return f"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self{init_args}):
        super().__init__()
        {init or "pass"}

    def forward(self, {args}):
        return {forward}


def get_inputs():
    return {inputs}


def get_init_inputs():
    return {init_inputs}
"""


def compiled_matches(src: str, library_calls: bool = True) -> dict:
    """Compiles `src` under mixed, checks it defines a Triton kernel (and, with library_calls=False, that
    nothing stayed a PyTorch call), compares ModelNew with Model (run_pair); returns the compile report."""
    result = compile_problem(src, CompileConfig(policy="mixed"))
    assert "@triton.jit" in result.source
    if not library_calls:
        assert not result.report["library_calls"]
    run_pair(src, result.source)
    return result.report
