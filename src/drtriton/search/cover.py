"""Best cover of a program by verified fragments: dynamic programming over fragment boundaries.

A state is a *cut*: the set of nodes already computed, closed under predecessors. From a cut, any
option (a fragment with a verified kernel, or, under the hybrid policy, a node left in PyTorch) whose
outside inputs are all computed and whose nodes are not can run next; the cut grows by its nodes.
best(cut) = min over such options of cost(option) + best(cut | option). Because every cut is closed
under predecessors, the chosen options always form a schedulable (acyclic) composite program.

Costs are tuples compared lexicographically and summed element-wise:
- with timings (GPU): (milliseconds,), the fragment's measured median time alone;
- without timings (CPU, interpreter): (nodes left in PyTorch, kernels) -- the documented non-speed
  rule: put as much of the program as possible into verified kernels, then use the fewest kernels
  (the most fusion; the single-shot whole-program kernel wins when it verified). No time is invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

Cost = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Option:
    """One way to compute a node set: a verified kernel for a fragment, or PyTorch (kind="torch")."""

    mask: int
    ext_pred_mask: int
    cost: Cost
    kind: str        # "kernel" or "torch"
    ref: str         # fragment key (kernel) or node label (torch); carried into the plan


@dataclass(frozen=True, slots=True)
class Cover:
    options: tuple[Option, ...]   # in a valid execution order
    cost: Cost
    states: int                   # cuts the DP visited
    exact: bool                   # False when the state cap was hit and a greedy cover was used


def _add(a: Cost, b: Cost) -> Cost:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def best_cover(num_nodes: int, options: list[Option], max_states: int = 200_000) -> Cover | None:
    """Cheapest set of disjoint options covering every node, in execution order; None if none covers.

    Args:
        num_nodes: nodes in the program (bits 0..num_nodes-1).
        options: candidate options; all costs must have the same length.
        max_states: cap on cuts visited; past it a greedy cover (largest cheapest options first) is
            returned with exact=False.
    """
    full = (1 << num_nodes) - 1
    if num_nodes == 0:
        return Cover((), (), 0, True)
    if not options:
        return None
    zero: Cost = tuple(0.0 for _ in options[0].cost)
    # Cheapest option per node set: two verified kernels for the same set never both matter.
    cheapest: dict[int, Option] = {}
    for opt in options:
        if opt.mask & ~full:
            continue
        cur = cheapest.get(opt.mask)
        if cur is None or opt.cost < cur.cost:
            cheapest[opt.mask] = opt
    # Index options by their lowest node so each cut only scans options that can extend it.
    by_low: dict[int, list[Option]] = {}
    for opt in cheapest.values():
        by_low.setdefault((opt.mask & -opt.mask).bit_length() - 1, []).append(opt)
    visited = 0

    class _CapHit(Exception):
        pass

    @cache
    def solve(cut: int) -> tuple[Cost, Option | None] | None:
        nonlocal visited
        visited += 1
        if visited > max_states:
            raise _CapHit
        if cut == full:
            return zero, None
        best: tuple[Cost, Option | None] | None = None
        # Every cover must eventually include the lowest uncomputed node; only options containing a node
        # whose predecessors are all computed can be next, and options are keyed by their lowest node,
        # which is ready whenever the option is ready.
        for low, opts in by_low.items():
            if cut >> low & 1:
                continue
            for opt in opts:
                if opt.mask & cut or opt.ext_pred_mask & ~cut:
                    continue
                rest = solve(cut | opt.mask)
                if rest is None:
                    continue
                total = _add(opt.cost, rest[0])
                if best is None or total < best[0]:
                    best = (total, opt)
        return best

    try:
        root = solve(0)
    except _CapHit:
        solve.cache_clear()
        return _greedy(full, list(cheapest.values()), zero, visited)
    if root is None:
        solve.cache_clear()
        return None
    chosen, cut = [], 0
    while cut != full:
        step = solve(cut)
        assert step is not None and step[1] is not None
        chosen.append(step[1])
        cut |= step[1].mask
    states = solve.cache_info().currsize
    solve.cache_clear()
    return Cover(tuple(chosen), root[0], states, True)


def _greedy(full: int, options: list[Option], zero: Cost, visited: int) -> Cover | None:
    """Fallback past the state cap: repeatedly take the ready option covering most nodes per unit cost."""
    cut, chosen, total = 0, [], zero
    while cut != full:
        ready = [o for o in options if not o.mask & cut and not o.ext_pred_mask & ~cut]
        if not ready:
            return None
        pick = min(ready, key=lambda o: (-o.mask.bit_count(), o.cost))
        chosen.append(pick)
        cut |= pick.mask
        total = _add(total, pick.cost)
    return Cover(tuple(chosen), total, visited, False)
