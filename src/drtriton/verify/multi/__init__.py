"""Verification past one device: every GPU of a host (HostVerifierPool) and GPUs of several hosts through
Ray actors (RayVerifierPool). Both keep VerifierPool's API: verify, verify_many(pairs, progress=), close.

    from drtriton.verify.multi import HostVerifierPool, RayVerifierPool
    with HostVerifierPool(VerifyConfig(device="auto")) as pool:        # one VerifierPool per local GPU
        verdicts = pool.verify_many(pairs)
Guide: docs/MULTIGPU.md. Tests: tests/verify/test_distributed_pool.py (CPU, local Ray cluster).
"""

from drtriton.verify.multi.base import MultiPoolBase, pick_slot
from drtriton.verify.multi.host import HostVerifierPool
from drtriton.verify.multi.ray_pool import RayVerifierPool, VerifierActor, ray_available

__all__ = ["HostVerifierPool", "MultiPoolBase", "RayVerifierPool", "VerifierActor", "pick_slot", "ray_available"]
