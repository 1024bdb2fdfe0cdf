"""FX importer: module styles, parameter bindings, the __init__ copy, and the unsupported report."""

from __future__ import annotations

import pytest

from drtriton.frontend import import_program
from drtriton.util.errors import UsageError

MODULE_STYLE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

class Model(nn.Module):
    def __init__(self, d_in, d_out):
        super(Model, self).__init__()
        self.fc = nn.Linear(d_in, d_out)
        self.act = nn.GELU(approximate="tanh")
        self.bias = nn.Parameter(torch.randn(d_out))

    def forward(self, x):
        y = self.act(self.fc(x)) * 2.0 + self.bias
        return torch.softmax(1.0 - y, dim=-1).sum(dim=1, keepdim=True)

def get_inputs():
    return [torch.randn(5, 7)]

def get_init_inputs():
    return [7, 11]
'''


def test_maps_modules_functions_and_scalars_to_registry_ops():
    prog = import_program(MODULE_STYLE)
    assert prog.ok, prog.unsupported
    ops = [n["op"] for n in prog.graph["nodes"]]
    assert ops == ["linear", "gelu", "mul_scalar", "add", "neg", "add_scalar", "softmax", "sum"]
    assert prog.graph["nodes"][1]["attrs"] == {"approximate": 1}
    assert prog.graph["nodes"][6]["attrs"] == {"dim": 1}


def test_module_tensors_become_trailing_inputs_and_params_are_bound():
    prog = import_program(MODULE_STYLE)
    assert [i["shape"] for i in prog.graph["inputs"]] == [[5, 7], [11]]
    assert prog.extra_inputs == ["self.bias"]
    assert prog.params[0]["weight"] == "self.fc.weight" and prog.params[0]["bias"] == "self.fc.bias"


def test_init_is_copied_with_super_rewritten():
    prog = import_program(MODULE_STYLE)
    assert "super(ModelNew, self).__init__()" in prog.init_source
    assert "self.fc = nn.Linear(d_in, d_out)" in prog.init_source


def test_unsupported_operators_are_named_not_dropped():
    src = MODULE_STYLE.replace("return torch.softmax", "return torch.flip(y, dims=[1]) + torch.softmax")
    prog = import_program(src)
    assert not prog.ok
    assert any("flip" in u.target and "no mapping" in u.why for u in prog.unsupported)


def test_training_mode_batchnorm_imports_as_batch_statistics():
    src = '''
import torch, torch.nn as nn
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
    def forward(self, x):
        return self.bn(x)
def get_inputs():
    return [torch.randn(2, 3, 4, 4)]
def get_init_inputs():
    return []
'''
    prog = import_program(src)
    ops = [nd["op"] for nd in prog.graph["nodes"]]
    assert prog.ok and "batch_norm" not in ops and ops.count("mean") == 4  # mean and var, each over S then N
    assert prog.extra_inputs == ["self.bn.weight", "self.bn.bias"]


def test_rejects_source_without_model():
    with pytest.raises(UsageError, match="defines no `Model`"):
        import_program("import torch\ndef get_inputs():\n    return []\ndef get_init_inputs():\n    return []\n")
