"""Importing with meta-device shapes gives the same graph and ModelNew as a real import, and falls back
to real tensors when the program needs real values."""

from pathlib import Path

import pytest

pytest.importorskip("drtriton._core")

from drtriton.frontend import CompileConfig, compile_problem
from drtriton.frontend.importer import import_program
from drtriton.search.meta import import_fast, meta_shapes, on_meta_else_real

ROOT = Path(__file__).resolve().parents[2]

_NEEDS_VALUES = """import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()
        self.scale = float(torch.linspace(0, 2, 5)[1].item())  # a real value at construction

    def forward(self, x):
        return torch.relu(x) * self.scale

def get_inputs():
    return [torch.randn(4, 6)]

def get_init_inputs():
    return []
"""


@pytest.mark.parametrize("name", ["channel_bias_add", "linear_gelu_layernorm", "conv_bn_silu", "argmax_rows"])
def test_meta_import_matches_the_real_import_and_the_generated_file(name):
    src = (ROOT / "tests" / "problems" / f"{name}.py").read_text()
    real, fast = import_program(src), import_fast(src)
    assert (fast.graph, fast.params, fast.extra_inputs) == (real.graph, real.params, real.extra_inputs)
    assert on_meta_else_real(lambda: compile_problem(src, CompileConfig())).source == \
        compile_problem(src, CompileConfig()).source


def test_program_needing_real_values_falls_back_to_a_real_import():
    with pytest.raises(Exception, match="meta"), meta_shapes():
        import_program(_NEEDS_VALUES)
    prog = import_fast(_NEEDS_VALUES)
    assert [n["op"] for n in prog.graph["nodes"]] == ["relu", "mul_scalar"]
