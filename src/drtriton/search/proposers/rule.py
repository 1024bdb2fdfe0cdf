"""The rule-based proposer: the code generator over its knob space (tiles, warps, stages, fusion splits).

The first candidate is always the generator's default knobs (the single-shot output). After it come
knob settings chosen for the fragment's kernels and shapes (`knob_plan`): matmul tiles from the Triton
tutorial's fp32-safe configurations clamped to M/N/K, row tiles that cover a whole row (one pass) or loop
in large chunks, wide pointwise blocks with more warps for large tensors, and fusion splits (no
epilogue or prologue fusion) where a kernel fuses several operators. Without a GPU no knob can be told
apart by speed, so only the defaults are proposed.

    RuleProposer(emit, tune=True, describe=backend.describe_kernels).propose(task, n=4)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drtriton.search.proposers.base import Candidate, Feedback, FragmentTask, Proposer

# A static, spread-out space for fragments the proposer cannot describe (no kernel plan available).
DEFAULT_SPACE: dict[str, tuple] = {
    "block": (1024, 256, 2048, 512, 128),
    "num_warps": (4, 8, 2),
    "num_stages": (2, 3, 4),
}

# Matmul tiles (block_m, block_n, block_k, num_warps, num_stages), best-first for large fp32 problems.
# fp32 operands take twice the shared memory of fp16: every entry keeps (BM*BK + BK*BN)*4*stages under
# ~150 KB, inside an H100's 228 KB (the fp16 tutorial's 128x256x64x3 would not fit).
MATMUL_TILES: tuple[tuple[int, int, int, int, int], ...] = (
    # 128 x 64 x 32 with 4 warps and 4 stages first: the fastest fp32 (3xTF32) tile on an H100 for
    # 1024^3-4096^3 and small-K GEMMs in bench/matmul_probe_gpu.py (2026-11-24; 1.0-1.1x cuBLAS there)
    (128, 64, 32, 4, 4),
    (128, 128, 32, 8, 3),
    (64, 128, 32, 4, 4),
    (128, 256, 32, 8, 3),
    (64, 64, 32, 4, 4),
    (128, 128, 64, 8, 2),
    (256, 128, 32, 8, 3),
    (64, 256, 32, 8, 3),
    (32, 64, 32, 2, 5),
    (64, 32, 32, 2, 5),
)
MAX_ROW_TILE = 16384  # one-pass rows up to this length; the emitter caps the tile area anyway
LARGE = 1 << 20       # elements past which a tensor is "large" (wider blocks, more warps pay off)


@dataclass(frozen=True, slots=True)
class KernelShape:
    """One kernel of a fragment's plan, with the sizes that decide its knobs."""

    kind: str            # matmul | reduction | normalization | pointwise | library
    ops: int = 1         # operators fused into it (more than 1: a fusion split is a real alternative)
    m: int = 0           # matmul: rows, columns, reduction depth, batch
    n: int = 0
    k: int = 0
    batch: int = 1
    row: int = 0         # reduction/normalization: length of the reduced axis
    inner: int = 1       # elements after the reduced axis (1: rows are contiguous)
    numel: int = 0       # elements written

    @property
    def work(self) -> float:
        """A rough time estimate (arbitrary units) to find the kernel that dominates the fragment."""
        if self.kind == "matmul":
            return 2.0 * self.m * self.n * self.k * self.batch / 20.0  # fp32 FLOPs are ~20x cheaper than bytes
        return float(max(self.numel, self.row * self.inner))


def _pow2(x: int) -> int:
    return 1 << max(0, int(x) - 1).bit_length()


def _matmul_knobs(ks: KernelShape) -> list[dict]:
    out, seen = [], set()
    for bm, bn, bk, w, s in MATMUL_TILES:
        tile = (max(16, min(bm, _pow2(ks.m))), max(16, min(bn, _pow2(ks.n))), max(16, min(bk, _pow2(ks.k))))
        if tile in seen:
            continue  # clamped to the same tile as an earlier entry: same kernel
        seen.add(tile)
        out.append({"block_m": tile[0], "block_n": tile[1], "block_k": tile[2], "num_warps": w, "num_stages": s})
    return out


def _row_knobs(ks: KernelShape) -> list[dict]:
    if ks.inner > 1:  # reduced axis is strided: tune how many contiguous columns a program takes
        return [{"reduce_block_inner": c, "num_warps": w} for c, w in ((64, 4), (128, 8), (16, 4), (32, 8))]
    whole = min(_pow2(ks.row), MAX_ROW_TILE)
    warps = 16 if whole >= 8192 else 8 if whole >= 2048 else 4
    out = [{"reduce_block": whole, "num_warps": warps}, {"reduce_block": whole, "num_warps": max(2, warps // 2)},
           {"reduce_block": 2048, "num_warps": 8}, {"reduce_block": 4096, "num_warps": 8},
           {"reduce_block": whole, "num_warps": min(16, warps * 2)}, {"reduce_block": 512, "num_warps": 4}]
    return [k for k in out if k["reduce_block"] <= max(whole, 512)]


def _pointwise_knobs(ks: KernelShape) -> list[dict]:
    if ks.numel >= LARGE:
        pairs = ((2048, 8), (4096, 8), (1024, 8), (4096, 16), (512, 4))
    else:
        pairs = ((256, 2), (512, 4), (2048, 8), (128, 1))
    return [{"block": b, "num_warps": w} for b, w in pairs]


def knob_plan(kernels: Sequence[KernelShape], tf32: bool = False, limit: int = 24) -> list[dict]:
    """Knob settings for a fragment, best guesses first, after the defaults ({} is always first).

    The kernel that dominates the estimated time picks the tiles, warps and stages; every other kind of
    kernel in the fragment gets its own size-based choice (knobs are per program, shared by its kernels).
    With library calls (convolutions) channels-last in full fp32 comes second and the plain layout third. Fusion splits (fuse_epilogue /
    fuse_prologue off) come next when the dominant kernel fuses several operators; TF32 variants only when the verifier's tolerance admits them (`tf32`).
    """
    compute = [k for k in kernels if k.kind != "library"]
    if not compute:
        return [{}]
    dom = max(compute, key=lambda k: (k.work, k.ops))  # on a tie, the kernel with more to split
    by_kind = {"matmul": _matmul_knobs, "reduction": _row_knobs, "normalization": _row_knobs,
               "pointwise": _pointwise_knobs}
    primary = by_kind.get(dom.kind, _pointwise_knobs)(dom)
    # the other kernels' own best choice, without warps/stages (the dominant kernel sets those)
    others: dict = {}
    for k in compute:
        if k is dom or k.kind == dom.kind or (k.kind in ("reduction", "normalization")
                                              and dom.kind in ("reduction", "normalization")):
            continue
        first = by_kind.get(k.kind, _pointwise_knobs)(k)[0]
        others.update({n: v for n, v in first.items() if n not in ("num_warps", "num_stages")})
    plan: list[dict] = [{}]
    if any(k.kind == "library" for k in kernels):
        # Library convolutions run channels-last by default, where cuDNN picks TF32 tensor-core kernels;
        # where the reference's NCHW convolution ran in plain fp32 that can miss even a 1e-2 check on
        # heavy-tailed inputs (KernelBench level 2: 21, 71, 87). First alternative: channels-last in full
        # fp32; then the plain layout (the reference's own call).
        plan.append({"conv_tf32": False})
        plan.append({"conv_channels_last": False})
    splits = []
    if dom.ops > 1 and dom.kind != "pointwise":
        splits = [{"fuse_epilogue": False}, {"fuse_prologue": False}]
    for i, knobs in enumerate(primary):
        plan.append({**others, **knobs})
        if i == 0 and splits:
            plan.append({**others, **knobs, **splits[0]})
        if i == 1 and splits:
            plan.append({**others, **knobs, **splits[1]})
        if i == 0 and tf32 and dom.kind == "matmul":
            plan.append({**others, **knobs, "allow_tf32": True})
    unique: list[dict] = []
    for knobs in plan:
        if knobs not in unique:
            unique.append(knobs)
    return unique[:limit]


def _prod(xs: Sequence[int]) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def kernel_shapes(graph: dict, shapes: Sequence[Sequence[int]], plan: dict) -> list[KernelShape]:
    """The kernels of a code-generator plan (`_core.triton_plan`) with their sizes.

    Args:
        graph: the fragment's IR JSON (value ids: inputs first, then nodes).
        shapes: every value id's shape (`_core.Graph.shapes`).
        plan: the plan JSON: {"kernels": [{"kind", "ops", "root", "anchor"}, ...]}.
    """
    n_in = len(graph["inputs"])
    out: list[KernelShape] = []
    for k in plan.get("kernels", []):
        kind, ops = str(k.get("kind")), len(k.get("ops") or []) or 1
        root, anchor = int(k.get("root", -1)), int(k.get("anchor", -1))
        numel = _prod(shapes[root]) if 0 <= root < len(shapes) else 0
        if anchor < n_in or anchor - n_in >= len(graph["nodes"]) or kind not in ("matmul", "reduction",
                                                                                  "normalization"):
            out.append(KernelShape(kind, ops, numel=numel))
            continue
        node = graph["nodes"][anchor - n_in]
        a_shape = list(shapes[int(node["inputs"][0])])
        o_shape = list(shapes[anchor])
        if kind == "matmul":
            kdim = a_shape[-1] if a_shape else 1
            n = o_shape[-1] if o_shape else 1
            if node.get("op") == "linear":
                m, batch = _prod(a_shape) // max(kdim, 1), 1
            else:
                m, batch = (o_shape[-2] if len(o_shape) > 1 else 1), _prod(o_shape[:-2])
            out.append(KernelShape(kind, ops, m=m, n=n, k=kdim, batch=batch, numel=numel))
            continue
        rank, attrs, op = len(a_shape), node.get("attrs", {}), str(node.get("op"))
        groups = 1
        if "dim" in attrs:
            first = last = int(attrs["dim"]) % max(rank, 1)
        elif op == "group_norm":
            first, last, groups = 1, rank - 1, int(attrs.get("num_groups", 1)) or 1
        elif op == "instance_norm":
            first, last = 2, rank - 1
        else:
            first = last = rank - 1
        row = _prod(a_shape[first:last + 1]) // groups
        out.append(KernelShape(kind, ops, row=row, inner=_prod(a_shape[last + 1:]), numel=max(numel, _prod(a_shape))))
    return out


def knob_grid(space: dict[str, tuple] | None = None) -> list[dict]:
    """[{}] (the defaults) followed by every combination of a static space, in a spread-out order."""
    space = space or DEFAULT_SPACE
    keys = sorted(space)
    combos = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(space[k] for k in keys))]
    # Interleave so that a small budget still sees different block sizes, not only warp variations.
    combos.sort(key=lambda d: (d.get("num_stages", 0) != space.get("num_stages", (0,))[0],
                               d.get("num_warps", 0) != space.get("num_warps", (0,))[0]))
    return [{}, *combos]


class RuleProposer(Proposer):
    """Lowers the fragment with `emit(task, knobs) -> source` for successive knob settings.

    Args:
        emit: the code generator (Backend.emit_triton); a failing emit yields no candidate and is
            recorded in `errors`.
        tune: propose knob variations beyond the defaults (only useful where speed is measured).
        space: a static knob space (used when `describe` is None or cannot describe a fragment).
        describe: `task -> [KernelShape]`, the fragment's kernel plan with sizes; knobs then follow it.
        tf32: the verifier's tolerance admits TF32 matmuls (about 1e-3 off), so propose them too.
    """

    name = "rule"

    def __init__(self, emit: Callable[[FragmentTask, dict], str], tune: bool, space: dict | None = None,
                 describe: Callable[[FragmentTask], list[KernelShape]] | None = None, tf32: bool = False):
        self.emit = emit
        self.tune, self.space, self.describe, self.tf32 = tune, space, describe, tf32
        self.grids: dict[str, list[dict]] = {}
        self.cursor: dict[str, int] = {}
        self.seen: dict[str, set[str]] = {}
        self.errors: list[str] = []

    def grid(self, task: FragmentTask) -> list[dict]:
        if task.key not in self.grids:
            kernels: list[KernelShape] = []
            if self.describe is not None:
                try:
                    kernels = self.describe(task)
                except Exception as exc:  # noqa: BLE001 - fall back to the static space, say why
                    self.errors.append(f"kernel plan unavailable ({type(exc).__name__}: {exc}); static knobs")
            if kernels and all(k.kind == "library" for k in kernels):
                # e.g. a lone convolution under mixed/hybrid: the file would hold no Triton kernel, which the
                # verifier rejects (launch.no_triton_kernel); spend no candidate on it
                grid: list[dict] = []
            elif not self.tune:
                grid = [{}]
            elif kernels and self.space is None:
                grid = knob_plan(kernels, tf32=self.tf32)
            else:
                grid = knob_grid(self.space)
            self.grids[task.key] = grid
        return self.grids[task.key]

    def propose(self, task: FragmentTask, n: int, feedback: Sequence[Feedback] = ()) -> list[Candidate]:
        out: list[Candidate] = []
        grid = self.grid(task)
        seen = self.seen.setdefault(task.key, set())
        i = self.cursor.get(task.key, 0)
        while len(out) < n and i < len(grid):
            knobs = grid[i]
            i += 1
            try:
                source = self.emit(task, knobs)
            except Exception as exc:  # noqa: BLE001 - a knob the generator refuses is not fatal to search
                self.errors.append(f"emit_triton({knobs}) failed: {type(exc).__name__}: {exc}")
                if not knobs:
                    break  # the defaults do not lower: no knob will
                continue
            if source in seen:
                continue  # a knob this fragment's kernels do not use: same file, nothing to verify
            seen.add(source)
            out.append(Candidate(source, self.name, {"knobs": knobs}))
        self.cursor[task.key] = i
        return out
