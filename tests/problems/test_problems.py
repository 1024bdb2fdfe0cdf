"""Checks our own KernelBench-format problems: each imports, runs on CPU, has a stable output shape, and is
not degenerate (its output depends on its inputs and is not constant).

    PYTHONPATH=src python -m pytest tests/problems
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent.parent / "examples"
PROBLEMS = sorted(p for p in HERE.glob("*.py") if not p.name.startswith(("test_", "_", "conftest")))
ALL_FILES = PROBLEMS + sorted(EXAMPLES.glob("*.py"))


def load_problem(path: Path):
    spec = importlib.util.spec_from_file_location(f"problem_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(module, seed: int = 0):
    torch.manual_seed(seed)
    model = module.Model(*module.get_init_inputs())
    return model


def run(model, inputs):
    with torch.no_grad():
        return model(*inputs)


def test_there_are_at_least_thirty_problems():
    assert len(PROBLEMS) >= 30, [p.name for p in PROBLEMS]


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_problem_has_kernelbench_interface(path):
    module = load_problem(path)
    assert isinstance(module.Model, type) and issubclass(module.Model, torch.nn.Module)
    assert isinstance(module.get_init_inputs(), list)
    inputs = module.get_inputs()
    assert isinstance(inputs, list) and inputs and all(isinstance(t, torch.Tensor) for t in inputs)
    # Size constants live in one upper-case block at module level so a GPU run can scale them.
    constants = [name for name, value in vars(module).items() if name.isupper() and isinstance(value, int)]
    assert constants, f"{path.name} has no module-level size constants"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_problem_output_shape_is_stable_and_fast(path):
    module = load_problem(path)
    model = build(module)
    torch.manual_seed(1)
    start = time.perf_counter()
    first = run(model, module.get_inputs())
    elapsed = time.perf_counter() - start
    second = run(model, module.get_inputs())
    assert isinstance(first, torch.Tensor)
    assert first.shape == second.shape and first.dtype == second.dtype
    assert first.numel() > 0
    assert elapsed < 1.0, f"{path.name} took {elapsed:.2f}s on CPU; shrink its sizes"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_problem_output_depends_on_inputs_and_is_not_constant(path):
    module = load_problem(path)
    model = build(module)
    torch.manual_seed(2)
    out_a = run(model, module.get_inputs())
    torch.manual_seed(3)
    out_b = run(model, module.get_inputs())
    assert torch.isfinite(out_a.double()).all(), f"{path.name} produced NaN/Inf"
    assert not torch.equal(out_a, out_b), f"{path.name}: output does not depend on the inputs"
    if out_a.numel() > 1:
        # 100x the fp32 tolerance: a constant guess must fail a 1e-4 comparison by a wide margin.
        assert out_a.double().std() > 1e-2, f"{path.name}: output is (nearly) constant across elements"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_seeded_init_is_reproducible(path):
    module = load_problem(path)
    state_a = build(module, seed=7).state_dict()
    state_b = build(module, seed=7).state_dict()
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def test_examples_are_copies_of_problems():
    # The embedded defaults of `drtriton optimize` must stay in sync with the tested problems.
    for example in EXAMPLES.glob("*.py"):
        twin = HERE / example.name
        assert twin.exists(), f"examples/{example.name} has no twin in tests/problems"
        assert twin.read_text() == example.read_text(), f"examples/{example.name} drifted from its twin"
