"""Shared fixtures for training tests: two tiny problems with hand-written Triton solutions, and a run
config for the 2-layer hidden-64 "test" model."""


import pytest

from drtriton.train.config import load_config
from drtriton.train.data import text_hash, write_jsonl
from drtriton.train.prompt import build_prompt, format_answer

RELU_PROBLEM = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.randn(33, 17)]


def get_init_inputs():
    return []
'''

RELU_SOLUTION = '''import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        relu_kernel[(triton.cdiv(n, 256),)](x, out, n, BLOCK=256)
        return out
'''

SCALE_PROBLEM = RELU_PROBLEM.replace("torch.relu(x)", "x * 2.0")
SCALE_SOLUTION = RELU_SOLUTION.replace("tl.maximum(x, 0.0)", "x * 2.0").replace("relu_kernel", "scale_kernel")


@pytest.fixture
def tiny_problems():
    return [(RELU_PROBLEM, RELU_SOLUTION), (SCALE_PROBLEM, SCALE_SOLUTION)]


@pytest.fixture
def problem_folder(tmp_path):
    folder = tmp_path / "problems"
    folder.mkdir()
    (folder / "relu.py").write_text(RELU_PROBLEM)
    (folder / "scale.py").write_text(SCALE_PROBLEM)
    return folder


@pytest.fixture
def sft_run(tmp_path, problem_folder, tiny_problems):
    pairs = [{"hash": text_hash(p), "level": 1, "prompt": build_prompt(p), "completion": format_answer(s),
              "verified": False} for p, s in tiny_problems]
    write_jsonl(tmp_path / "pairs.jsonl", pairs)

    def make(**overrides):
        base = {
            "run_dir": str(tmp_path / "run"), "device": "cpu",
            "model.builtin": "test", "model.tokenizer_dir": str(tmp_path / "tok"), "model.vocab_size": 400,
            "data.source": "folder", "data.folder": str(problem_folder), "data.levels": [1],
            "data.heldout_n": 1, "data.sft_pairs": str(tmp_path / "pairs.jsonl"),
            "sft.max_steps": 3, "sft.batch_size": 2, "sft.max_len": 512, "sft.save_every": 2, "sft.lr": 1e-3,
            "curriculum.levels": [1],
        }
        base.update(overrides)
        return load_config(None, base)

    return make
