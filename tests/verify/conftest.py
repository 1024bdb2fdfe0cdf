"""Shared pools for tests/verify: each batch of inline candidates is verified once, concurrently."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
# CPU tiers run Triton in its interpreter. Not on a GPU: this conftest is imported while pytest collects,
# so the variable would reach every test of the session (tests/frontend's GPU fast-launch test then got
# interpreted kernels); the verifier's own GPU workers drop it anyway (process.worker_env).
if not __import__("torch").cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

PROBLEM = (Path(__file__).resolve().parents[1] / "problems" / "relu.py").read_text()
