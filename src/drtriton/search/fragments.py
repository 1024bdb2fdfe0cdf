"""Fragments: connected, convex subgraphs of a program's graph (IR JSON), each a program of its own.

A fragment is a set of nodes that is connected (ignoring edge direction) and convex (no path leaves the
set and comes back), so it can be replaced by one kernel call: its inputs are the values entering it,
its outputs the values it produces that the rest of the program (or the program's result) uses.

    frags = enumerate_fragments(GraphView(graph_json), max_nodes=4)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from drtriton.util.errors import UsageError


@dataclass(frozen=True, slots=True)
class ValueType:
    shape: tuple[int, ...]
    dtype: str

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}


class GraphView:
    """Read-only view of an IR graph (the JSON of docs/ARCHITECTURE.md) with the adjacency search needs.

    Args:
        graph: the parsed graph JSON.
        value_types: shape and dtype of every value id (inputs first, then nodes). Intermediate types
            come from the engine's shape rules (see `drtriton.search.adapters.value_types`); when a
            node in the JSON carries "shape"/"dtype" those are used.
    """

    def __init__(self, graph: dict, value_types: list[ValueType] | None = None):
        for key in ("inputs", "nodes", "outputs"):
            if key not in graph:
                raise UsageError(f"graph JSON has no '{key}' list (keys seen: {sorted(graph)}); "
                                 "pass the IR JSON of docs/ARCHITECTURE.md")
        self.graph = graph
        self.num_inputs = len(graph["inputs"])
        # Module tensors the program reads directly (x + self.bias) are its last graph inputs, named here;
        # they are not forward arguments: fragments and composites read them from the module.
        self.extra_inputs: list[str] = [str(e) for e in graph.get("extra_inputs", [])]
        self.num_args = self.num_inputs - len(self.extra_inputs)
        if self.num_args < 0:
            raise UsageError(f"graph names {len(self.extra_inputs)} extra inputs but has only "
                             f"{self.num_inputs} inputs; extra inputs are the last graph inputs")
        self.num_nodes = len(graph["nodes"])
        self.outputs = [int(v) for v in graph["outputs"]]
        # preds[i]: node indices feeding node i; succs[i]: node indices consuming node i's value.
        self.preds: list[set[int]] = [set() for _ in range(self.num_nodes)]
        self.succs: list[set[int]] = [set() for _ in range(self.num_nodes)]
        for i, node in enumerate(graph["nodes"]):
            for v in node["inputs"]:
                v = int(v)
                if not 0 <= v < self.num_inputs + i:
                    raise UsageError(f"graph node {i} ({node.get('op')}) reads value {v}, which is not "
                                     "defined before it; nodes must be in topological order")
                if v >= self.num_inputs:
                    self.preds[i].add(v - self.num_inputs)
                    self.succs[v - self.num_inputs].add(i)
        self.pred_mask = [sum(1 << p for p in ps) for ps in self.preds]
        self.desc_mask = self._descendants()
        self.value_types = value_types if value_types is not None else self._types_from_json()

    def _descendants(self) -> list[int]:
        desc = [0] * self.num_nodes
        for i in reversed(range(self.num_nodes)):
            for s in self.succs[i]:
                desc[i] |= (1 << s) | desc[s]
        return desc

    def _types_from_json(self) -> list[ValueType] | None:
        types = [ValueType(tuple(t["shape"]), t.get("dtype", "float32")) for t in self.graph["inputs"]]
        for node in self.graph["nodes"]:
            if "shape" not in node:
                return None
            types.append(ValueType(tuple(node["shape"]), node.get("dtype", "float32")))
        return types

    def op(self, node: int) -> str:
        return str(self.graph["nodes"][node]["op"])

    def is_connected(self, mask: int) -> bool:
        nodes = _bits(mask)
        if not nodes:
            return False
        seen, stack = 1 << nodes[0], [nodes[0]]
        while stack:
            n = stack.pop()
            for m in self.preds[n] | self.succs[n]:
                if mask >> m & 1 and not seen >> m & 1:
                    seen |= 1 << m
                    stack.append(m)
        return seen == mask

    def is_convex(self, mask: int) -> bool:
        """True when no path leaves the node set and re-enters it."""
        reach_from_set = 0
        for n in _bits(mask):
            reach_from_set |= self.desc_mask[n]
        outside_reached = reach_from_set & ~mask
        return all(not (self.desc_mask[v] & mask) for v in _bits(outside_reached))


@dataclass(frozen=True, slots=True)
class Fragment:
    """A convex connected node set and the program it forms on its own."""

    nodes: tuple[int, ...]            # global node indices, ascending (a topological order)
    mask: int                         # bit i set for node i
    entry_values: tuple[int, ...]     # global value ids read from outside, in fragment-input order
    exit_values: tuple[int, ...]      # global value ids produced inside and used outside / returned
    ext_pred_mask: int                # nodes outside the fragment that feed it
    graph: dict = field(hash=False, compare=False)  # the fragment as IR JSON (inputs renumbered)
    num_extra: int = 0                # the last entries are module tensors (graph["extra_inputs"])

    @property
    def arg_values(self) -> tuple[int, ...]:
        """Entry values passed as forward arguments (module tensors excluded: the module reads them)."""
        return self.entry_values[:len(self.entry_values) - self.num_extra]

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def key(self) -> str:
        """Content hash of the fragment program (ops, attrs, wiring, shapes), independent of where it sits.

        Same fragment in another program, or at another place in this one, gives the same key, so
        verdicts cached under it are reused.
        """
        return hashlib.sha256(json.dumps(self.graph, sort_keys=True).encode()).hexdigest()[:32]


def _bits(mask: int) -> list[int]:
    out, i = [], 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return out


def make_fragment(view: GraphView, mask: int) -> Fragment:
    """Builds the fragment for a connected convex node set (checked); the whole program is always
    accepted (connected or not: one file computes it, as the single-shot code generator does).

    Raises:
        UsageError: the set is empty, not connected, or not convex.
    """
    nodes = tuple(_bits(mask))
    whole = mask == (1 << view.num_nodes) - 1
    if not nodes or not (whole or view.is_connected(mask)) or not view.is_convex(mask):
        raise UsageError(f"nodes {list(nodes)} do not form a connected convex fragment; "
                         "pick a set with no path leaving and re-entering it")
    k = view.num_inputs
    entry: list[int] = []
    for n in nodes:
        for v in view.graph["nodes"][n]["inputs"]:
            v = int(v)
            inside = v >= k and mask >> (v - k) & 1
            if not inside and v not in entry:
                entry.append(v)
    # Forward arguments and inner values first, module tensors last (the emitter's extra_inputs order).
    entry.sort(key=lambda v: (view.num_args <= v < k, v))
    extras = [view.extra_inputs[v - view.num_args] for v in entry if view.num_args <= v < k]
    exits = []
    for n in nodes:
        used_outside = any(not mask >> s & 1 for s in view.succs[n]) or (k + n) in view.outputs
        if used_outside:
            exits.append(k + n)
    if not exits:  # dead-end set whose values nobody reads: keep its last node as the result
        exits.append(k + nodes[-1])
    # Graph outputs keep their order when the whole program is one fragment.
    if mask == (1 << view.num_nodes) - 1:
        exits = list(dict.fromkeys(view.outputs))
    local = {v: i for i, v in enumerate(entry)}
    for j, n in enumerate(nodes):
        local[k + n] = len(entry) + j
    frag_nodes = []
    for n in nodes:
        src = view.graph["nodes"][n]
        node = {key: val for key, val in src.items() if key not in ("inputs", "shape", "dtype")}
        node["inputs"] = [local[int(v)] for v in src["inputs"]]
        frag_nodes.append(node)
    if view.value_types is None:
        raise UsageError("the graph's intermediate value types are unknown; build the GraphView with "
                         "value_types (drtriton.search.adapters.value_types)")
    graph = {
        "inputs": [view.value_types[v].to_json() for v in entry],
        "nodes": frag_nodes,
        "outputs": [local[v] for v in exits],
    }
    if extras:
        graph["extra_inputs"] = extras
    ext_pred = 0
    for n in nodes:
        ext_pred |= view.pred_mask[n]
    ext_pred &= ~mask
    return Fragment(nodes, mask, tuple(entry), tuple(exits), ext_pred, graph, len(extras))


def connected_convex_sets(view: GraphView, max_nodes: int) -> Iterator[int]:
    """Yields every connected convex node set of 1..max_nodes nodes once (as a bit mask).

    Sets grow from their lowest node by adding neighbours of higher index, so each set has one anchor.
    """
    seen: set[int] = set()
    for anchor in range(view.num_nodes):
        frontier = [1 << anchor]
        while frontier:
            nxt = []
            for mask in frontier:
                if mask in seen:
                    continue
                seen.add(mask)
                if view.is_convex(mask):
                    yield mask
                if mask.bit_count() >= max_nodes:
                    continue
                for n in _bits(mask):
                    for m in view.preds[n] | view.succs[n]:
                        if m > anchor and not mask >> m & 1:
                            nxt.append(mask | 1 << m)
            frontier = nxt


def enumerate_fragments(view: GraphView, max_nodes: int = 4, max_fragments: int | None = None,
                        include_whole: bool = True) -> list[Fragment]:
    """All connected convex fragments up to `max_nodes` nodes, plus the whole program.

    Order is the order search spends budget in: the whole program first (the single-shot plan, always
    present so search never ends worse than the single-shot kernel when that verifies), then
    single nodes (so a full cover exists early), then larger fragments, biggest first (more fusion).
    A non-convex set whose convex closure is small is not added: its closure is enumerated on its own.

    Args:
        view: the program's graph.
        max_nodes: largest fragment size enumerated (the whole program is added regardless).
        max_fragments: stop after this many (None: all).
        include_whole: add the whole program as one fragment.
    """
    if max_nodes < 1:
        raise UsageError(f"max fragment size must be at least 1, got {max_nodes}; pass 1..8")
    masks = list(connected_convex_sets(view, max_nodes))
    full = (1 << view.num_nodes) - 1
    ordered: list[int] = []
    if include_whole and view.num_nodes:  # even when disconnected: the single-shot plan is one file
        ordered.append(full)
    ordered += [m for m in masks if m.bit_count() == 1 and m != full]
    ordered += sorted((m for m in masks if m.bit_count() > 1 and m != full),
                      key=lambda m: (-m.bit_count(), _bits(m)))
    if max_fragments is not None:
        ordered = ordered[:max_fragments]
    return [make_fragment(view, m) for m in ordered]
