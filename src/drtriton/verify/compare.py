"""Output comparison in the parent (a process the candidate never shares memory with).

compare(ref_outputs, cand_outputs, atol=1e-4, rtol=1e-4) -> Comparison
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True, slots=True)
class Comparison:
    ok: bool
    reason: str = ""
    max_abs_err: float | None = None
    max_rel_err: float | None = None


CHUNK = 1 << 22  # elements compared at a time: float64 temporaries stay ~100 MB at any output size


def compare(ref: list, cand: list, atol: float, rtol: float) -> Comparison:
    """Exact count/shape/dtype match, no NaN/Inf where the reference is finite, |c-r| <= atol + rtol|r|.

    Floating outputs are compared in chunks of CHUNK elements, so the parent's memory for a comparison
    does not grow with the output (KernelBench outputs reach gigabytes)."""
    if len(ref) != len(cand):
        return Comparison(False, f"returns {len(cand)} outputs, the reference returns {len(ref)}")
    worst_abs, worst_rel = 0.0, 0.0
    for i, (r, c) in enumerate(zip(ref, cand)):
        if not isinstance(c, torch.Tensor):
            return Comparison(False, f"output {i} is {type(c).__name__}, expected a torch.Tensor")
        if tuple(c.shape) != tuple(r.shape):
            return Comparison(False, f"output {i} has shape {tuple(c.shape)}, expected {tuple(r.shape)}")
        if c.dtype != r.dtype:
            return Comparison(False, f"output {i} has dtype {c.dtype}, expected {r.dtype}")
        if c.numel() == 0:
            continue
        if not (r.is_floating_point() or r.is_complex()):
            if not torch.equal(c, r):
                bad = int((c != r).sum())
                return Comparison(False, f"output {i}: {bad} of {r.numel()} integer elements differ")
            continue
        rf, cf = r.reshape(-1), c.reshape(-1)
        nonfinite = nan_pos = inf_sign = over = 0
        abs_err = rel_err = 0.0
        for lo in range(0, rf.numel(), CHUNK):
            r64, c64 = rf[lo : lo + CHUNK].to(torch.float64), cf[lo : lo + CHUNK].to(torch.float64)
            r_fin, c_fin = torch.isfinite(r64), torch.isfinite(c64)
            nonfinite += int(((~c_fin & r_fin) | (c_fin & ~r_fin)).sum())
            same_special = ~r_fin & ~c_fin
            if same_special.any():
                if not torch.equal(torch.isnan(r64), torch.isnan(c64)):
                    nan_pos += 1
                infs = ~r_fin & ~torch.isnan(r64)
                if not torch.equal(r64[infs], c64[infs]):
                    inf_sign += 1
            diff = (c64 - r64).abs().masked_fill(same_special, 0.0)
            tol = atol + rtol * r64.abs().masked_fill(same_special, 0.0)
            abs_err = max(abs_err, float(diff.max()))
            rel = (diff / r64.abs().clamp_min(1e-12)).masked_fill(same_special | (r64 == 0), 0.0)
            rel_err = max(rel_err, float(rel.max()))
            over += int((diff > tol).sum())
        if nonfinite:
            return Comparison(
                False,
                f"output {i} has {nonfinite} NaN/Inf elements where the reference is finite "
                f"(or the reverse); an unwritten or poisoned output reads as NaN",
            )
        if nan_pos:
            return Comparison(False, f"output {i} disagrees with the reference on NaN/Inf positions")
        if inf_sign:
            return Comparison(False, f"output {i} has Inf of the wrong sign")
        worst_abs, worst_rel = max(worst_abs, abs_err), max(worst_rel, rel_err)
        if over:
            return Comparison(
                False,
                f"output {i}: {over} of {r.numel()} elements exceed atol={atol:g} rtol={rtol:g} "
                f"(max abs err {abs_err:.3g})",
                abs_err,
                rel_err,
            )
    return Comparison(True, "", worst_abs, worst_rel)


def outputs_equal(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


def outputs_unchanged(a: list, b: list) -> bool:
    """Two runs' outputs bit for bit alike: tensors of the same shape and dtype, equal values, and NaN where
    the other has NaN (unlike outputs_equal, where NaN equals nothing: here it asks whether anything was
    changed, not whether a result is right)."""

    def same(x, y) -> bool:
        if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)) or x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.is_floating_point() or x.is_complex():
            return bool(((x == y) | (x.isnan() & y.isnan())).all())
        return bool(torch.equal(x, y))

    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))


def outputs_digest(outs: list) -> str:
    """A digest with outputs_equal's meaning: equal digests = equal shapes, dtypes and values (-0.0
    equals 0.0; an output holding NaN equals nothing, so its digest is unique). The parent keeps
    digests, not outputs, to spot input-insensitive candidates and degenerate references."""
    import uuid

    from drtriton.verify.protocol import _tensor_bytes

    h = hashlib.sha256()
    for o in outs:
        if not isinstance(o, torch.Tensor):
            h.update(f"V{o!r}|".encode())
            continue
        t = o.detach().to("cpu")
        h.update(f"T{tuple(t.shape)}:{t.dtype}|".encode())
        flat = t.reshape(-1)
        for lo in range(0, flat.numel(), CHUNK):
            chunk = flat[lo : lo + CHUNK]
            if chunk.is_floating_point() or chunk.is_complex():
                if torch.isnan(chunk).any():
                    return f"nan-{uuid.uuid4().hex}"
                chunk = chunk + 0  # -0.0 becomes 0.0, as torch.equal compares them
            h.update(_tensor_bytes(chunk.contiguous()))
    return h.hexdigest()
