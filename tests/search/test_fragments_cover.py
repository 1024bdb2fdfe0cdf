"""Fragment enumeration over IR JSON and the DP cover (no engine needed: types ride in the JSON)."""

import itertools

import pytest

from drtriton.search.cover import Option, best_cover
from drtriton.search.fragments import GraphView, enumerate_fragments, make_fragment
from drtriton.util.errors import UsageError


def _t(shape):
    return {"shape": list(shape), "dtype": "float32"}


def _diamond():
    # x -> relu(1) -> gelu(2) -> add(3) <- sum path: add(4) = relu + gelu ; values: 0=x
    # node0 relu(x), node1 gelu(node0), node2 mul(node0, x), node3 add(node1, node2)
    return {
        "inputs": [_t((4, 8))],
        "nodes": [
            {"op": "relu", "inputs": [0], "attrs": {}, **_t((4, 8))},
            {"op": "gelu", "inputs": [1], "attrs": {"approximate": 0}, **_t((4, 8))},
            {"op": "mul", "inputs": [1, 0], "attrs": {}, **_t((4, 8))},
            {"op": "add", "inputs": [2, 3], "attrs": {}, **_t((4, 8))},
        ],
        "outputs": [4],
    }


def _brute_connected_convex(view, max_nodes):
    out = set()
    for r in range(1, max_nodes + 1):
        for combo in itertools.combinations(range(view.num_nodes), r):
            mask = sum(1 << n for n in combo)
            if view.is_connected(mask) and view.is_convex(mask):
                out.add(mask)
    return out


def test_enumeration_finds_every_connected_convex_set_including_non_contiguous():
    view = GraphView(_diamond())
    frags = enumerate_fragments(view, max_nodes=3, include_whole=False)
    masks = {f.mask for f in frags}
    assert masks == _brute_connected_convex(view, 3)
    assert len(masks) == len(frags)  # each once
    # {relu, mul} (nodes 0 and 2) is not a contiguous run of the chain order but is a fragment.
    assert 0b0101 in masks
    # {relu, add} is connected? no edge; {gelu, mul} not connected either.
    assert 0b0110 not in masks


def test_non_convex_set_is_rejected():
    view = GraphView(_diamond())
    # relu + add without gelu/mul: path relu -> gelu -> add leaves and re-enters.
    assert not view.is_convex(0b1001)
    with pytest.raises(UsageError):
        make_fragment(view, 0b1001)


def test_fragment_program_renumbers_inputs_and_names_exits():
    view = GraphView(_diamond())
    frag = make_fragment(view, 0b0110 | 0b0001)  # relu, gelu, mul: reads x, feeds the add twice
    assert frag.entry_values == (0,)
    assert frag.exit_values == (2, 3)  # gelu's and mul's values feed the add outside
    g = frag.graph
    assert [n["op"] for n in g["nodes"]] == ["relu", "gelu", "mul"]
    assert g["nodes"][1]["inputs"] == [1] and g["nodes"][2]["inputs"] == [1, 0]
    assert g["outputs"] == [2, 3]
    assert "shape" not in g["nodes"][0]
    tail = make_fragment(view, 0b1000)
    assert tail.entry_values == (2, 3) and tail.exit_values == (4,)
    assert tail.graph["nodes"][0]["inputs"] == [0, 1]


def test_same_fragment_at_two_places_has_one_key():
    chain = {"inputs": [_t((3, 5))],
             "nodes": [{"op": "relu", "inputs": [0], "attrs": {}, **_t((3, 5))},
                       {"op": "relu", "inputs": [1], "attrs": {}, **_t((3, 5))}],
             "outputs": [2]}
    view = GraphView(chain)
    a, b = make_fragment(view, 0b01), make_fragment(view, 0b10)
    assert a.key == b.key
    assert a.key != make_fragment(view, 0b11).key


def test_whole_program_comes_first_then_singletons():
    frags = enumerate_fragments(GraphView(_diamond()), max_nodes=2)
    assert frags[0].size == 4
    assert [f.size for f in frags[1:5]] == [1, 1, 1, 1]


def _opt(view, mask, cost, kind="kernel"):
    frag = make_fragment(view, mask)
    return Option(mask, frag.ext_pred_mask, cost, kind, frag.key)


def test_dp_picks_cheapest_cover_and_matches_brute_force():
    view = GraphView(_diamond())
    masks = sorted(_brute_connected_convex(view, 4))
    # Deterministic pseudo-random costs.
    opts = [_opt(view, m, (float((m * 2654435761) % 97 + 1),)) for m in masks]
    cover = best_cover(view.num_nodes, opts)
    assert cover is not None and cover.exact

    def schedulable(chosen):
        cut, left = 0, list(chosen)
        while left:
            ready = [o for o in left if not o.ext_pred_mask & ~cut]
            if not ready:
                return False
            cut |= ready[0].mask
            left.remove(ready[0])
        return True

    best = None
    for r in range(1, 5):
        for combo in itertools.combinations(opts, r):
            union = 0
            ok = True
            for o in combo:
                if union & o.mask:
                    ok = False
                union |= o.mask
            if ok and union == 0b1111 and schedulable(combo):
                c = sum(o.cost[0] for o in combo)
                best = c if best is None else min(best, c)
    assert cover.cost[0] == pytest.approx(best)


def test_dp_never_returns_a_cyclic_composite():
    # a -> d and c -> b inside fragments {a,d}, {c,b}; cross edges a->b, c->d make them a cycle.
    g = {"inputs": [_t((2,))],
         "nodes": [{"op": "relu", "inputs": [0], "attrs": {}, **_t((2,))},          # a  (node0, value1)
                   {"op": "relu", "inputs": [0], "attrs": {}, **_t((2,))},          # c  (node1, value2)
                   {"op": "add", "inputs": [1, 2], "attrs": {}, **_t((2,))},        # b <- a, c (node2)
                   {"op": "add", "inputs": [1, 2], "attrs": {}, **_t((2,))},        # d <- a, c (node3)
                   {"op": "mul", "inputs": [3, 4], "attrs": {}, **_t((2,))}],
         "outputs": [5]}
    view = GraphView(g)
    ad = _opt(view, 0b01001, (1.0,))   # {a, d}: d also needs c, so this waits for {c, b}
    cb = _opt(view, 0b00110, (1.0,))   # {c, b}: b also needs a, so this waits for {a, d}
    tail = _opt(view, 0b10000, (1.0,))
    singles = [_opt(view, 1 << n, (5.0,)) for n in range(4)]
    cover = best_cover(view.num_nodes, [ad, cb, tail, *singles])
    assert cover is not None
    assert ad not in cover.options or cb not in cover.options
    assert best_cover(view.num_nodes, [ad, cb, tail]) is None


def test_dp_non_speed_rule_prefers_full_kernel_coverage_then_fewest_kernels():
    view = GraphView(_diamond())
    whole = _opt(view, 0b1111, (0.0, 1.0))
    singles = [_opt(view, 1 << n, (0.0, 1.0)) for n in range(4)]
    torch_nodes = [_opt(view, 1 << n, (1.0, 0.0), kind="torch") for n in range(4)]
    cover = best_cover(view.num_nodes, [*singles, *torch_nodes, whole])
    assert [o.mask for o in cover.options] == [0b1111]
    cover = best_cover(view.num_nodes, [*singles, *torch_nodes])
    assert all(o.kind == "kernel" for o in cover.options) and len(cover.options) == 4


def test_dp_falls_back_to_greedy_past_the_state_cap():
    view = GraphView(_diamond())
    opts = [_opt(view, 1 << n, (1.0,)) for n in range(4)]
    cover = best_cover(view.num_nodes, opts, max_states=2)
    assert cover is not None and not cover.exact and len(cover.options) == 4
