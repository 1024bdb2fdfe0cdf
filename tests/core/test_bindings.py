"""The engine's Python surface: registry rows, Graph JSON/hash/cost, error classes.

PYTHONPATH=src python -m pytest tests/core/test_bindings.py
"""

import json

import pytest

from drtriton import _core

MLP = {
    "inputs": [{"shape": [8, 16], "dtype": "float32"}],
    "nodes": [
        {"op": "linear", "inputs": [0], "attrs": {"out_features": 32, "bias": 1}},
        {"op": "relu", "inputs": [1], "attrs": {}},
        {"op": "sigmoid", "inputs": [1], "attrs": {}},
        {"op": "add", "inputs": [2, 3], "attrs": {}},
    ],
    "outputs": [4],
}


def test_registry_lists_at_least_75_operators_with_their_facts():
    rows = _core.ops()
    assert len(rows) >= 75
    assert len({r.name for r in rows}) == len(rows)
    gelu = _core.op("gelu")
    assert gelu.arity == 1 and gelu.lowering == "elementwise" and not gelu.heavy
    assert [(a.name, a.kind, a.enum_names) for a in gelu.attrs] == [("approximate", "enum", ["none", "tanh"])]
    conv = _core.op("conv2d")
    assert conv.heavy and conv.module == "nn.Conv2d" and conv.spatial == 2
    assert [a.name for a in conv.attrs][:2] == ["out_channels", "kernel_size"]
    assert _core.op("add").commutative and not _core.op("sub").commutative
    assert _core.op("sum").reduces and _core.op("sum").pad == "zero"
    assert _core.op("amax").pad == "-inf"
    assert _core.op("log").domain == ["positive"]
    assert _core.op("div").domain == ["any", "positive"]


def test_unknown_operator_raises_core_value_error():
    with pytest.raises(_core.ValueError, match='unknown operator "nope"'):
        _core.op("nope")


def test_error_classes_are_value_error_subclasses():
    for cls in (_core.Error, _core.ShapeError, _core.InfeasibleError, _core.ValueError):
        assert issubclass(cls, ValueError)
    for cls in (_core.ShapeError, _core.InfeasibleError, _core.ValueError):
        assert issubclass(cls, _core.Error)


def test_infer_shape_applies_the_rule_or_says_why():
    assert _core.infer_shape("conv2d", [[2, 4, 10, 12]], [8, 3, 1, 0, 1, 1]) == [2, 8, 8, 10]
    with pytest.raises(_core.ShapeError, match="groups=2"):
        _core.infer_shape("conv2d", [[2, 3, 10, 12]], [8, 3, 1, 0, 2, 1])


def test_value_ranges_are_exposed():
    assert _core.input_domain("pow_scalar", 0, [0.5]) == "non_neg"
    assert _core.output_range("exp", ["any"], []) == "positive"
    assert _core.output_range("add", ["positive", "unit"], []) == "positive"
    with pytest.raises(_core.ValueError, match="unknown"):
        _core.output_range("exp", ["bogus"], [])


def test_graph_json_round_trip_hash_and_cost():
    g = _core.Graph.from_json(json.dumps(MLP))
    assert g.num_nodes == 4 and g.ops == ["linear", "relu", "sigmoid", "add"]
    assert g.shapes[-1] == [8, 32] and g.dtypes[-1] == "float32"
    back = _core.Graph.from_json(g.to_json())
    assert back == g
    assert len(g.canonical_hash()) == 32
    # Swapping the two branches (and add's operands) is the same program.
    swapped = json.loads(json.dumps(MLP))
    swapped["nodes"][1], swapped["nodes"][2] = swapped["nodes"][2], swapped["nodes"][1]
    swapped["nodes"][3]["inputs"] = [2, 3]
    assert _core.Graph.from_json(json.dumps(swapped)).canonical_hash() == g.canonical_hash()
    other = json.loads(json.dumps(MLP))
    other["nodes"][3]["op"] = "mul"
    assert _core.Graph.from_json(json.dumps(other)).canonical_hash() != g.canonical_hash()
    cost = g.cost()
    assert cost["flops"] == pytest.approx(2 * 8 * 16 * 32 + 8 * 32 + 8 * 32 * 4 + 8 * 32 + 8 * 32)
    assert cost["bytes"] > 0


def test_bad_graph_json_names_the_node():
    bad = json.loads(json.dumps(MLP))
    bad["nodes"][3]["inputs"] = [2, 0]  # [8, 32] + [8, 16] does not broadcast
    with pytest.raises(_core.ShapeError, match=r"node 3 \(add\): add cannot broadcast"):
        _core.Graph.from_json(json.dumps(bad))
    with pytest.raises(_core.ValueError, match="does not parse"):
        _core.Graph.from_json("{")
