"""Shared pools for tests/verify: each batch of inline candidates is verified once, concurrently."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("TRITON_INTERPRET", "1")

PROBLEM = (Path(__file__).resolve().parents[1] / "problems" / "relu.py").read_text()
