"""Losses the importer decomposes into registry operators: cross_entropy (logsumexp minus the target's logit,
picked by a one-hot built from comparisons with a column-index constant; ignore_index honoured),
pairwise_distance and triplet_margin_loss (norms of differences, clamp, reduction). Each is compiled under
mixed and compared with torch under the Triton interpreter at small irregular shapes.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest -q tests/frontend/test_losses_import.py
"""

from __future__ import annotations

import os
import re

import pytest

from harness import compiled_matches, kernelbench_program

from drtriton.frontend import compile_problem, import_program

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1" and not __import__("torch").cuda.is_available(),
                                reason="needs TRITON_INTERPRET=1 on CPU")


def _program(*pos, args: str = "x, t", **kw) -> str:
    return kernelbench_program(*pos, args=args, **kw)


def _compiled_matches(src: str) -> dict:
    return compiled_matches(src, library_calls=False)


# ---- cross_entropy ----
LOGITS = "torch.randn(37, 23) * 3"


@pytest.mark.parametrize("forward", [
    "F.cross_entropy(x, t)",
    "F.cross_entropy(x, t, reduction='sum')",
    "F.cross_entropy(x, t, reduction='none')",
])
def test_cross_entropy_matches_torch(forward):
    _compiled_matches(_program(forward, f"[{LOGITS}, torch.randint(0, 23, (37,))]"))


def test_cross_entropy_module_skips_ignored_targets_in_the_mean():
    # targets equal to ignore_index (here 5 and the default -100) contribute nothing and are not counted
    targets = "torch.where(torch.rand(37) < 0.3, torch.full((37,), {ii}), torch.randint(0, 23, (37,)))"
    for init, ii in [("self.loss = nn.CrossEntropyLoss()", -100),
                     ("self.loss = nn.CrossEntropyLoss(ignore_index=5)", 5)]:
        _compiled_matches(_program("self.loss(x, t)", f"[{LOGITS}, {targets.format(ii=ii)}]", init=init))


def test_cross_entropy_target_is_read_as_an_int64_input_without_a_host_cast():
    src = _program("F.cross_entropy(x, t)", f"[{LOGITS}, torch.randint(0, 23, (37,))]")
    prog = import_program(src)
    assert prog.ok and prog.graph["inputs"][1] == {"shape": [37], "dtype": "float32"}
    source = compile_problem(src).source
    assert ".float()" not in source and ".to(torch.float32)" not in source


@pytest.mark.parametrize("forward,inputs,why", [
    ("F.cross_entropy(x, t, label_smoothing=0.1)", f"[{LOGITS}, torch.randint(0, 23, (37,))]", "label_smoothing"),
    ("F.cross_entropy(x, t)", f"[{LOGITS}, torch.rand(37, 23).softmax(1)]", "class indices"),
    ("F.cross_entropy(x, t)", "[torch.randn(4, 5, 6), torch.randint(0, 5, (4, 6))]", "only \\[N, C\\]"),
])
def test_cross_entropy_forms_not_imported_are_named(forward, inputs, why):
    prog = import_program(_program(forward, inputs))
    assert not prog.ok and any(re.search(why, u.why) for u in prog.unsupported), \
        prog.unsupported


# ---- pairwise_distance / triplet_margin_loss ----
TRIPLET = "[torch.rand(19, 45) * 0.5, torch.rand(19, 45), torch.rand(19, 45)]"


@pytest.mark.parametrize("init,init_args,init_inputs", [
    ("self.loss = nn.TripletMarginLoss(margin=margin)", ", margin", "[0.7]"),
    ("self.loss = nn.TripletMarginLoss(margin=margin, swap=True)", ", margin", "[2.0]"),
    ("self.loss = nn.TripletMarginLoss(margin=margin, reduction='none', eps=1e-3)", ", margin", "[0.3]"),
    ("self.loss = nn.TripletMarginLoss(margin=margin, reduction='sum')", ", margin", "[1.0]"),
])
def test_triplet_margin_loss_module_matches_torch(init, init_args, init_inputs):
    _compiled_matches(_program("self.loss(a, p, n)", TRIPLET, init=init, init_args=init_args,
                               init_inputs=init_inputs, args="a, p, n"))


@pytest.mark.parametrize("forward", [
    "F.triplet_margin_loss(a, p, n, margin=0.5)",
    "F.pairwise_distance(a, p) - F.pairwise_distance(a, n, keepdim=True).squeeze(1)",
])
def test_functional_distances_match_torch(forward):
    _compiled_matches(_program(forward, TRIPLET, args="a, p, n"))


def test_triplet_margin_loss_with_p1_is_named():
    prog = import_program(_program("F.triplet_margin_loss(a, p, n, p=1)", TRIPLET, args="a, p, n"))
    assert not prog.ok and "p != 2" in prog.unsupported[0].why


def test_cross_entropy_of_computed_class_indices_is_named():
    prog = import_program(_program("F.cross_entropy(x, t.argmax(1))", f"[{LOGITS}, torch.randn(37, 23)]"))
    assert not prog.ok and "computed in the graph" in prog.unsupported[0].why
