"""A small verifier-independent harness for the red-team corpus: loads a problem and a candidate from their
files, builds both models from the same seed, and compares outputs on fresh inputs; counts Triton launches
under TRITON_INTERPRET=1. It checks that our *honest* solutions really are correct; it is not an anti-cheat
verifier (drtriton.verify is).

    PYTHONPATH=src TRITON_INTERPRET=1 python tests/redteam/redteam_harness.py tests/redteam/honest/gelu__elementwise.py

Covered: seeded init parity, several seeds and two input distributions, shape/dtype/finite checks, launches.
Not covered: isolation, timing, poisoning, static rules (the verifier's job).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
PROBLEMS = HERE.parent / "problems"
HONEST = HERE / "honest"
CHEATS = HERE / "cheats"

DISTRIBUTIONS = ("normal", "heavy_tailed")
_HEADER = re.compile(r"^#\s*(problem|policy|rule|expected|why|style|disable|requires|known_gap)\s*:\s*(.+?)\s*$")


def read_header(path: Path) -> dict[str, str]:
    """The `# key: value` lines at the top of a corpus file (problem, policy, rule, expected, why, style)."""
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            fields[match.group(1)] = match.group(2)
    return fields


def problem_for(path: Path) -> Path:
    """The problem file a corpus file targets: its `# problem:` header, else the name before `__`."""
    name = read_header(path).get("problem") or path.stem.split("__")[0]
    return PROBLEMS / f"{name}.py"


def load_module(path: Path, name: str | None = None):
    spec = importlib.util.spec_from_file_location(name or f"rt_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def count_triton_launches():
    """Counts kernel launches through the interpreter's (or the compiled) launcher."""
    counter = {"launches": 0}
    patched = []
    try:
        from triton.runtime.interpreter import InterpretedFunction

        patched.append((InterpretedFunction, InterpretedFunction.run))
    except ImportError:
        pass
    from triton.runtime.jit import JITFunction

    patched.append((JITFunction, JITFunction.run))

    def wrap(original):
        def run(self, *args, **kwargs):
            if not kwargs.get("warmup"):
                counter["launches"] += 1
            return original(self, *args, **kwargs)

        return run

    for cls, original in patched:
        cls.run = wrap(original)
    try:
        yield counter
    finally:
        for cls, original in patched:
            cls.run = original


def fresh_inputs(problem, seed: int, distribution: str) -> list:
    torch.manual_seed(seed)
    inputs = problem.get_inputs()
    if distribution == "heavy_tailed":
        # Like the verifier's heavy_tailed draw: each value times a log-Laplace factor (sign kept), so
        # magnitudes span decades; exposes kernels that only work for well-scaled data.
        laplace = torch.distributions.Laplace(0.0, 1.0)
        inputs = [t * laplace.sample(t.shape).exp() if t.is_floating_point() else t for t in inputs]
    return inputs


@dataclass
class Check:
    ok: bool
    launches: int
    max_abs_err: float | None
    reason: str


def check_candidate(problem_path: Path, candidate_path: Path, seeds=(0, 1, 2), atol=1e-4, rtol=1e-4) -> Check:
    problem = load_module(problem_path, f"rt_problem_{problem_path.stem}")
    candidate = load_module(candidate_path)
    init = problem.get_init_inputs()
    torch.manual_seed(1234)
    ref_model = problem.Model(*init)
    torch.manual_seed(1234)
    new_model = candidate.ModelNew(*init)
    worst = 0.0
    with count_triton_launches() as counter:
        for seed in seeds:
            for distribution in DISTRIBUTIONS:
                inputs = fresh_inputs(problem, seed, distribution)
                with torch.no_grad():
                    expected = ref_model(*[t.clone() for t in inputs])
                    got = new_model(*[t.clone() for t in inputs])
                where = f"seed {seed}, {distribution} inputs"
                if not isinstance(got, torch.Tensor):
                    return Check(False, counter["launches"], None, f"{where}: output is {type(got).__name__}")
                if got.shape != expected.shape or got.dtype != expected.dtype:
                    return Check(False, counter["launches"], None,
                                 f"{where}: got {tuple(got.shape)} {got.dtype}, "
                                 f"expected {tuple(expected.shape)} {expected.dtype}")
                if got.is_floating_point() and not torch.isfinite(got).all():
                    return Check(False, counter["launches"], None, f"{where}: NaN/Inf in output")
                err = (got.double() - expected.double()).abs().max().item() if got.numel() else 0.0
                worst = max(worst, err)
                if not torch.allclose(got.double(), expected.double(), atol=atol, rtol=rtol):
                    return Check(False, counter["launches"], worst, f"{where}: max abs error {err:.3g}")
    if counter["launches"] == 0:
        return Check(False, 0, worst, "no Triton kernel launched")
    return Check(True, counter["launches"], worst, "")


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(HONEST.glob("*.py"))
    failed = 0
    for path in paths:
        result = check_candidate(problem_for(path), path)
        failed += not result.ok
        print(f"{'ok  ' if result.ok else 'FAIL'} {path.name:55s} launches={result.launches:3d} "
              f"max_err={result.max_abs_err} {result.reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
