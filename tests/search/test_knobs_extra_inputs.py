"""Knob plans chosen for a fragment's kernels and shapes; module tensors (x + self.bias) in fragments,
fragment programs and composites; the whole program is always a fragment (single-shot in the set)."""

import torch

from drtriton.search.compose import Step, compose
from drtriton.search.fragments import GraphView, enumerate_fragments, make_fragment
from drtriton.search.program import fragment_program
from drtriton.search.proposers.base import FragmentTask
from drtriton.search.proposers.rule import KernelShape, RuleProposer, kernel_shapes, knob_plan


def _t(shape):
    return {"shape": list(shape), "dtype": "float32"}


# ---- knob plans ----


def test_knob_plan_starts_with_defaults_and_clamps_matmul_tiles_to_small_dims():
    plan = knob_plan([KernelShape("matmul", m=20, n=40, k=8, numel=800)])
    assert plan[0] == {}
    tiles = [(k["block_m"], k["block_n"], k["block_k"]) for k in plan[1:]]
    assert len(tiles) == len(set(tiles)) >= 2  # clamped duplicates are dropped, not re-verified
    assert all(m <= 32 and n <= 64 and bk == 16 for m, n, bk in tiles)


def test_knob_plan_for_a_large_matmul_spreads_tiles_warps_and_stages():
    plan = knob_plan([KernelShape("matmul", m=4096, n=4096, k=4096, numel=4096 * 4096)])[1:6]
    assert len({(k["block_m"], k["block_n"]) for k in plan}) >= 4
    assert {k["num_warps"] for k in plan} >= {4, 8} and len({k["num_stages"] for k in plan}) >= 2
    for k in plan:  # fp32 operands: stay within an H100's shared memory
        assert (k["block_m"] + k["block_n"]) * k["block_k"] * 4 * k["num_stages"] <= 160 * 1024


def test_knob_plan_reads_whole_long_rows_in_one_pass_with_more_warps():
    long_rows = knob_plan([KernelShape("normalization", row=8000, numel=8000 * 512)])
    short_rows = knob_plan([KernelShape("reduction", row=100, numel=100 * 64)])
    assert long_rows[1] == {"reduce_block": 8192, "num_warps": 16}
    assert short_rows[1]["reduce_block"] == 128 and all(k.get("reduce_block", 0) <= 512 for k in short_rows)
    strided = knob_plan([KernelShape("reduction", row=64, inner=4096, numel=64 * 4096)])
    assert {"reduce_block_inner"} <= set(strided[1])


def test_knob_plan_tries_fusion_splits_only_where_a_kernel_fuses_several_ops():
    fused = knob_plan([KernelShape("matmul", ops=3, m=512, n=512, k=512)])
    assert {"fuse_epilogue": False}.items() <= fused[2].items()
    assert any(k.get("fuse_prologue") is False for k in fused[:6])
    alone = knob_plan([KernelShape("matmul", ops=1, m=512, n=512, k=512)])
    assert not any("fuse_epilogue" in k or "fuse_prologue" in k for k in alone)


def test_knob_plan_offers_tf32_only_when_the_tolerance_admits_it():
    ks = [KernelShape("matmul", m=512, n=512, k=512)]
    assert not any(k.get("allow_tf32") for k in knob_plan(ks))
    assert any(k.get("allow_tf32") for k in knob_plan(ks, tf32=True)[:4])


def test_knob_plan_sets_other_kernels_knobs_for_their_own_sizes():
    plan = knob_plan([KernelShape("matmul", m=1024, n=1024, k=1024),
                      KernelShape("pointwise", ops=2, numel=1 << 22)])
    assert plan[1]["block"] == 2048 and plan[1]["block_m"] == 128
    assert knob_plan([KernelShape("library", numel=10)]) == [{}]


def test_kernel_shapes_reads_matmul_and_row_sizes_from_the_plan():
    graph = {"inputs": [_t((8, 6, 5)), _t((8, 5, 7))],
             "nodes": [{"op": "bmm", "inputs": [0, 1], "attrs": {}},
                       {"op": "softmax", "inputs": [2], "attrs": {"dim": 1}}], "outputs": [3]}
    shapes = [(8, 6, 5), (8, 5, 7), (8, 6, 7), (8, 6, 7)]
    plan = {"kernels": [{"kind": "matmul", "ops": ["bmm"], "root": 2, "anchor": 2},
                        {"kind": "normalization", "ops": ["softmax"], "root": 3, "anchor": 3}]}
    mm, sm = kernel_shapes(graph, shapes, plan)
    assert (mm.m, mm.n, mm.k, mm.batch) == (6, 7, 5, 8)
    assert (sm.row, sm.inner) == (6, 7)


def test_rule_proposer_follows_the_described_plan_and_skips_identical_files():
    task = FragmentTask("k", "src", {}, "hybrid")
    emitted = []

    def emit(t, knobs):
        emitted.append(knobs)
        return f"# {knobs.get('block_m', 0)}\nclass ModelNew: pass\n"  # only block_m changes the file

    prop = RuleProposer(emit, tune=True, describe=lambda t: [KernelShape("matmul", m=4096, n=4096, k=4096)])
    first, second = prop.propose(task, 3), prop.propose(task, 3)
    assert emitted[0] == {} and first[1].meta["knobs"]["block_m"] == 128
    sources = [c.source for c in first + second]
    assert len(sources) == len(set(sources)) == 5  # block_m 0 (defaults), 128, 64, 256, 32: no repeats
    assert [c.meta["knobs"].get("block_m") for c in first] == [None, 128, 64]


# ---- module tensors read directly (extra inputs) ----


def _bias_graph():
    # forward(x, y): (x + self.bias) * y ; graph inputs: x, y, self.bias (the extra input, last)
    return {"inputs": [_t((2, 3, 4, 5)), _t((2, 3, 4, 5)), _t((1, 3, 1, 1))],
            "extra_inputs": ["self.bias"],
            "nodes": [{"op": "add", "inputs": [0, 2], "attrs": {}, **_t((2, 3, 4, 5))},
                      {"op": "mul", "inputs": [3, 1], "attrs": {}, **_t((2, 3, 4, 5))}],
            "outputs": [4]}


_BIAS_SRC = '''import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(1, channels, 1, 1))

    def forward(self, x, y):
        return (x + self.bias) * y

def get_inputs():
    return [torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)]

def get_init_inputs():
    return [3]
'''

_SPEC = {"add": ("torch.add({0}, {1})", {}), "mul": ("torch.mul({0}, {1})", {})}


def test_module_tensor_entries_come_last_and_are_not_arguments():
    view = GraphView(_bias_graph())
    assert (view.num_args, view.extra_inputs) == (2, ["self.bias"])
    frag = make_fragment(view, 0b01)
    assert frag.entry_values == (0, 2) and frag.arg_values == (0,)
    assert frag.graph["extra_inputs"] == ["self.bias"]
    renamed = _bias_graph()
    renamed["extra_inputs"] = ["self.other"]
    assert make_fragment(GraphView(renamed), 0b01).key != frag.key  # a kernel for self.bias is not self.other's
    assert make_fragment(view, 0b10).arg_values == (1, 3)


def test_fragment_programs_read_module_tensors_from_the_module_and_compute_the_fragment():
    view = GraphView(_bias_graph())
    for mask in (0b01, 0b10):
        frag = make_fragment(view, mask)
        src = fragment_program(_BIAS_SRC, view, frag, [{}, {}], _SPEC.__getitem__)
        ns: dict = {}
        exec(compile(src, "<frag>", "exec"), ns)  # noqa: S102 - our own generated program
        torch.manual_seed(0)
        model = ns["Model"](*ns["get_init_inputs"]())
        inputs = ns["get_inputs"]()
        assert len(inputs) == len(frag.arg_values)
        out = model(*inputs)
        if mask == 0b01:
            torch.testing.assert_close(out, inputs[0] + model.bias)
        else:
            assert out.shape == (2, 3, 4, 5)


def test_composite_passes_only_arguments_and_matches_the_program():
    view = GraphView(_bias_graph())
    frags = [make_fragment(view, 0b01), make_fragment(view, 0b10)]
    steps = [Step(fragment_program(_BIAS_SRC, view, f, [{}, {}], _SPEC.__getitem__), "Model", f.arg_values,
                  f.exit_values, "torch") for f in frags]
    src = compose(_BIAS_SRC, steps, view.num_args, view.outputs, ["bias"])
    ns: dict = {}
    exec(compile(src, "<composite>", "exec"), ns)  # noqa: S102 - our own generated program
    ref: dict = {}
    exec(compile(_BIAS_SRC, "<ref>", "exec"), ref)  # noqa: S102
    torch.manual_seed(0)
    model = ref["Model"](3)
    torch.manual_seed(0)
    new = ns["ModelNew"](3)
    x, y = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(new(x, y), model(x, y))


def test_disconnected_program_still_has_its_whole_program_fragment_first():
    g = {"inputs": [_t((4,)), _t((4,))],
         "nodes": [{"op": "relu", "inputs": [0], "attrs": {}, **_t((4,))},
                   {"op": "relu", "inputs": [1], "attrs": {}, **_t((4,))}],
         "outputs": [2, 3]}
    frags = enumerate_fragments(GraphView(g), max_nodes=2)
    assert frags[0].size == 2 and frags[0].exit_values == (2, 3)


def test_rule_proposer_spends_nothing_on_a_fragment_that_is_only_a_library_call():
    task = FragmentTask("conv", "src", {}, "hybrid")
    prop = RuleProposer(lambda t, k: "class ModelNew: pass\n", tune=True,
                        describe=lambda t: [KernelShape("library", numel=100)])
    assert prop.propose(task, 4) == []
    cpu = RuleProposer(lambda t, k: "class ModelNew: pass\n", tune=False,
                       describe=lambda t: [KernelShape("pointwise", numel=100)])
    assert [c.meta for c in cpu.propose(task, 4)] == [{"knobs": {}}]


def test_knob_plan_tries_fp32_then_the_plain_conv_layout_when_a_library_call_is_there():
    with_conv = knob_plan([KernelShape("library", 1, numel=4096), KernelShape("pointwise", 2, numel=4096)])
    assert with_conv[:3] == [{}, {"conv_tf32": False}, {"conv_channels_last": False}]
    without = knob_plan([KernelShape("pointwise", 2, numel=4096)])
    assert all("conv_channels_last" not in k and "conv_tf32" not in k for k in without)
