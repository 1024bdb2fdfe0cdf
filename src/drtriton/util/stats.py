"""Small statistics the reports share."""

from __future__ import annotations

import math


def quantile(xs, q: float) -> float:
    """The q-quantile of xs (nearest rank, q in [0, 1]); xs must not be empty."""
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
