"""Emitted KernelBench programs run under torch (CPU) with the shapes the IR inferred, and every
registry row's spelling, domain and range claim holds on real tensors.

    PYTHONPATH=src python -m pytest tests/core/test_emit_pytorch.py
"""

import json

import pytest
import torch

from drtriton import _core

TYPICAL_SHAPES = [[6, 10], [3, 6, 9], [2, 4, 7, 9], [2, 4, 5, 6, 7], [4, 1, 8]]
SPECIAL_ATTRS = {"transpose": [0, 1], "squeeze": [1]}
CLASS_CHECKS = {
    "any": lambda t: True,
    "non_neg": lambda t: bool((t >= 0).all()),
    "positive": lambda t: bool((t > 0).all()),
    "unit": lambda t: bool(((t > 0) & (t < 1)).all()),
}


def _run(source: str, seed: int = 0):
    namespace: dict = {}
    exec(compile(source, "<emitted>", "exec"), namespace)
    torch.manual_seed(seed)
    model = namespace["Model"](*namespace["get_init_inputs"]())
    inputs = namespace["get_inputs"]()
    with torch.no_grad():
        out = model(*inputs)
    return out if isinstance(out, tuple) else (out,)


def _single_node_graph(op) -> tuple[str, list[list[int]], list[float]] | None:
    """JSON of `op` applied to the first typical shape its rule accepts (first attr choices)."""
    attrs = SPECIAL_ATTRS.get(op.name, [a.choices[0] for a in op.attrs])
    for shape in TYPICAL_SHAPES:
        shapes = [shape] * op.arity
        if op.name in ("matmul", "bmm"):
            shapes = [shape, shape[:-2] + [shape[-1], 5]]
        try:
            _core.infer_shape(op.name, shapes, attrs)
        except _core.ShapeError:
            continue
        node = {
            "op": op.name,
            "inputs": list(range(op.arity)),
            "attrs": {a.name: v for a, v in zip(op.attrs, attrs)},
        }
        graph = {"inputs": [{"shape": s} for s in shapes], "nodes": [node], "outputs": [op.arity]}
        return json.dumps(graph), shapes, attrs
    return None


@pytest.mark.parametrize("name", [op.name for op in _core.ops()])
def test_every_operator_emits_runnable_code_with_inferred_shape(name):
    op = _core.op(name)
    found = _single_node_graph(op)
    assert found is not None, f"{name}: no typical shape accepted"
    text, shapes, attrs = found
    graph = _core.Graph.from_json(text)
    domains = [_core.input_domain(name, i, attrs) for i in range(op.arity)]
    (out,) = _run(_core.emit_pytorch(graph, input_ranges=domains))
    assert list(out.shape) == graph.shapes[-1]
    assert str(out.dtype) == f"torch.{graph.dtypes[-1]}"
    if out.is_floating_point():
        assert torch.isfinite(out).all(), f"{name} produced NaN/Inf on inputs inside its domain {domains}"


@pytest.mark.parametrize("name", [op.name for op in _core.ops() if op.dtype_rule == "float_only"])
def test_output_range_claims_hold_on_random_inputs(name):
    op = _core.op(name)
    text, shapes, attrs = _single_node_graph(op)
    graph = _core.Graph.from_json(text)
    for cls in ("any", "non_neg", "positive", "unit"):
        # Inputs of class `cls`, strengthened where the op's domain asks for more.
        ranges = []
        for i in range(op.arity):
            need = _core.input_domain(name, i, attrs)
            order = ["any", "non_neg", "positive", "unit"]
            ranges.append(max(cls, need, key=order.index))
        claimed = _core.output_range(name, ranges, attrs)
        for seed in range(3):
            (out,) = _run(_core.emit_pytorch(graph, input_ranges=ranges), seed=seed)
            assert CLASS_CHECKS[claimed](out), f"{name} on {ranges} claims {claimed}, got min {out.min()}"


def test_emitted_program_is_kernelbench_format_and_runs():
    graph = _core.Graph.from_json(
        json.dumps(
            {
                "inputs": [{"shape": [2, 3, 12, 10]}, {"shape": [2, 8, 6, 5]}],
                "nodes": [
                    {
                        "op": "conv2d",
                        "inputs": [0],
                        "attrs": {
                            "out_channels": 8,
                            "kernel_size": 3,
                            "stride": 2,
                            "padding": 1,
                            "groups": 1,
                            "bias": 1,
                        },
                    },
                    {"op": "group_norm", "inputs": [2], "attrs": {"num_groups": 4, "eps": 1e-5}},
                    {"op": "mish", "inputs": [3]},
                    {"op": "add", "inputs": [4, 1]},
                    {"op": "adaptive_avg_pool2d", "inputs": [5], "attrs": {"output_size": 1}},
                    {"op": "flatten", "inputs": [6], "attrs": {"start_dim": 1}},
                    {"op": "linear", "inputs": [7], "attrs": {"out_features": 16, "bias": 1}},
                    {"op": "log_softmax", "inputs": [8], "attrs": {"dim": 1}},
                    {"op": "amax", "inputs": [2], "attrs": {"dim": 1, "keepdim": 1}},
                ],
                "outputs": [9, 10],
            }
        )
    )
    source = _core.emit_pytorch(graph, title="Conv, norm, residual, head")
    assert source.startswith('"""Conv, norm, residual, head')
    for needle in (
        "class Model(nn.Module):",
        "def get_inputs():",
        "def get_init_inputs():",
        "self.conv2d = nn.Conv2d(",
        "self.group_norm = nn.GroupNorm(",
        "self.linear = nn.Linear(",
    ):
        assert needle in source
    out, peak = _run(source)
    assert list(out.shape) == graph.shapes[9] == [2, 16]
    assert list(peak.shape) == graph.shapes[10] == [2, 1, 6, 5]
    # Deterministic weights under a fixed seed: the program is a reproducible reference.
    again, _ = _run(source)
    assert torch.equal(out, again)


def test_one_sided_clamp_from_python_json_runs():
    # json.dumps writes float("-inf") as -Infinity; the engine reads it and emits float('-inf').
    text = json.dumps(
        {
            "inputs": [{"shape": [5, 7]}],
            "nodes": [{"op": "clamp", "inputs": [0], "attrs": {"min": float("-inf"), "max": 0.5}}],
            "outputs": [1],
        }
    )
    source = _core.emit_pytorch(_core.Graph.from_json(text))
    assert "torch.clamp(x, min=float('-inf'), max=0.5)" in source
    (out,) = _run(source)
    assert out.max() <= 0.5 and out.min() < 0
