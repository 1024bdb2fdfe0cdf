"""KernelBench coverage (import + compile only): outcomes per stage, root causes, meta-device shapes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drtriton.bench.coverage import CoverageChecker, CoverageRow, reason_key, root_causes

FAKE = Path(__file__).parent / "fake_kernelbench"
REPO = Path(__file__).resolve().parents[2]

_HEADER = "import torch\nimport torch.nn as nn\n\n"
_HUGE_RELU = _HEADER + """
class Model(nn.Module):
    def __init__(self, width):
        super(Model, self).__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return torch.relu(self.fc(x))

def get_inputs():
    return [torch.randn(1 << 20, 1 << 14)]   # 64 GiB of fp32: only the meta device can hold it

def get_init_inputs():
    return [1 << 14]
"""
_BESSEL = _HEADER + """
class Model(nn.Module):
    def forward(self, x):
        return torch.special.bessel_j0(x).relu()  # an operator no code generator lowers

def get_inputs():
    return [torch.randn(4, 8)]

def get_init_inputs():
    return []
"""
_SCALAR_ARG = _HEADER + """
class Model(nn.Module):
    def forward(self, x, s: float):
        return x * s

def get_inputs():
    return [torch.randn(4, 8), 3.0]

def get_init_inputs():
    return []
"""
_NO_MODEL = "import torch\n\ndef get_inputs():\n    return []\n"


@pytest.fixture(scope="module")
def rows():
    sources = {"huge": _HUGE_RELU, "bessel": _BESSEL, "scalar": _SCALAR_ARG, "no_model": _NO_MODEL}
    with CoverageChecker(policy="mixed", timeout_s=120) as checker:
        return {k: checker.check(k, src) for k, src in sources.items()}


def test_huge_problem_compiles_on_meta_shapes_without_allocating(rows):
    row = rows["huge"]
    assert row.outcome == "ok", row.reason
    assert row.shapes == "meta" and row.kernels and row.kernels >= 1


def test_unmapped_operator_is_named_as_the_root_cause(rows):
    row = rows["bessel"]
    assert row.outcome == "unsupported_op"
    assert any("bessel" in u["target"] for u in row.unsupported)
    assert root_causes(row) and "bessel" in root_causes(row)[0]
    assert "bessel" in reason_key(row)


def test_non_tensor_forward_argument_has_its_own_outcome(rows):
    assert rows["scalar"].outcome == "non_tensor_input"
    assert "float" in rows["scalar"].reason


def test_missing_model_is_a_load_error(rows):
    assert rows["no_model"].outcome == "load_error"


def test_cascaded_unmapped_operands_are_not_root_causes():
    row = CoverageRow("l/p", "unsupported_op", unsupported=[
        {"target": "bn", "why": "BatchNorm in training mode uses batch statistics"},
        {"target": "relu", "why": "operand bn is not a tensor computed in the graph"},
        {"target": "_VariableFunctionsClass.cumsum", "why": "no mapping to a registry operator"}])
    assert root_causes(row) == ["BatchNorm in training mode uses batch statistics",
                                "torch.cumsum: no mapping to a registry operator"]


def test_coverage_script_reports_fake_layout_and_resumes(tmp_path):
    out = tmp_path / "cov.json"
    cmd = [sys.executable, str(REPO / "bench" / "kernelbench_coverage.py"), "--path", str(FAKE), "--levels", "1",
           "--problems", "2", "--out", str(out)]
    env = {"PYTHONPATH": str(REPO / "src"), "TRITON_INTERPRET": "1", "PATH": "/usr/bin:/bin"}
    first = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    record = json.loads(out.read_text())
    assert [r["outcome"] for r in record["rows"]] == ["ok"]
    assert record["summary"]["by_level"]["1"] == {"problems": 1, "ok": 1, "outcomes": {"ok": 1}}
    rows_before = record["rows"]
    second = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0
    assert json.loads(out.read_text())["rows"] == rows_before  # rows kept, not recomputed (same seconds)
