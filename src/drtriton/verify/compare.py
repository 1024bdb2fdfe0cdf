"""Output comparison in the parent (a process the candidate never shares memory with).

compare(ref_outputs, cand_outputs, atol=1e-4, rtol=1e-4) -> Comparison
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, slots=True)
class Comparison:
    ok: bool
    reason: str = ""
    max_abs_err: float | None = None
    max_rel_err: float | None = None


def compare(ref: list, cand: list, atol: float, rtol: float) -> Comparison:
    """Exact count/shape/dtype match, no NaN/Inf where the reference is finite, |c-r| <= atol + rtol|r|."""
    if len(ref) != len(cand):
        return Comparison(False, f"returns {len(cand)} outputs, the reference returns {len(ref)}")
    worst_abs, worst_rel = 0.0, 0.0
    for i, (r, c) in enumerate(zip(ref, cand)):
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
        r64, c64 = r.to(torch.float64), c.to(torch.float64)
        r_fin, c_fin = torch.isfinite(r64), torch.isfinite(c64)
        bad_nonfinite = (~c_fin & r_fin) | (c_fin & ~r_fin)
        if bad_nonfinite.any():
            n = int(bad_nonfinite.sum())
            return Comparison(
                False,
                f"output {i} has {n} NaN/Inf elements where the reference is finite "
                f"(or the reverse); an unwritten or poisoned output reads as NaN",
            )
        same_special = ~r_fin & ~c_fin
        if same_special.any() and not torch.equal(torch.isnan(r64), torch.isnan(c64)):
            return Comparison(False, f"output {i} disagrees with the reference on NaN/Inf positions")
        diff = (c64 - r64).abs().masked_fill(same_special, 0.0)
        if same_special.any():
            infs = ~r_fin & ~torch.isnan(r64)
            if not torch.equal(r64[infs], c64[infs]):
                return Comparison(False, f"output {i} has Inf of the wrong sign")
        tol = atol + rtol * r64.abs().masked_fill(same_special, 0.0)
        abs_err = float(diff.max())
        rel_err = float((diff / r64.abs().clamp_min(1e-12)).masked_fill(same_special | (r64 == 0), 0.0).max())
        worst_abs, worst_rel = max(worst_abs, abs_err), max(worst_rel, rel_err)
        over = diff > tol
        if over.any():
            n = int(over.sum())
            return Comparison(
                False,
                f"output {i}: {n} of {r.numel()} elements exceed atol={atol:g} rtol={rtol:g} "
                f"(max abs err {abs_err:.3g})",
                abs_err,
                rel_err,
            )
    return Comparison(True, "", worst_abs, worst_rel)


def outputs_equal(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))
