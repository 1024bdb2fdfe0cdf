"""HostVerifierPool: every GPU of one host, one VerifierPool (its own sandboxed workers) per device.

    with HostVerifierPool(VerifyConfig(device="auto"), workers_per_device=4) as pool:   # all local GPUs
        verdicts = pool.verify_many(pairs)

Candidates go to the least-loaded device (a device that already ran the problem's reference wins ties);
compilation and correctness run in each pool's worker processes, so they spread over the CPU cores,
while GPU timing stays serialised per device by that device's pool. On CPU, `devices=["cpu", "cpu"]`
runs the same code with two worker groups.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from drtriton.util.errors import UsageError
from drtriton.verify.config import VerifyConfig
from drtriton.verify.multi.base import BoundedSet, MultiPoolBase, pick_slot, problem_key
from drtriton.verify.pool import VerifierPool, resolve_devices


class HostVerifierPool(MultiPoolBase):
    """The VerifierPool API over one VerifierPool per device of this host; thread-safe."""

    def __init__(
        self,
        config: VerifyConfig | None = None,
        devices: list[str] | None = None,
        workers_per_device: int | None = None,
        cache_path=None,
        prespawn: bool = True,
    ) -> None:
        """
        Args:
            config: the protocol; its `device` picks the devices when `devices` is None (auto/cuda: all
                GPUs torch sees, cuda:N: that one, cpu: one CPU group).
            devices: explicit device strings, e.g. ["cuda:0", "cuda:1"] or ["cpu", "cpu"].
            workers_per_device: concurrent candidates per device (default: CPU cores / devices, at least 1).
            cache_path: SQLite verdict cache shared by all devices (keyed by this pool's config).
            prespawn: keep warm spare workers per device (VerifierPool's option).
        Raises:
            UsageError: an empty or malformed device list, or workers_per_device < 1.
        """
        super().__init__(config, cache_path)
        devices = list(devices) if devices is not None else resolve_devices(self.config.device)
        if not devices:
            raise UsageError("devices is empty; pass e.g. ['cuda:0', 'cuda:1'] or leave it None for all GPUs")
        for d in devices:
            replace(self.config, device=d)  # VerifyConfig validates the spelling (UsageError)
        gpus = [d for d in devices if d != "cpu"]
        if len(set(gpus)) != len(gpus) or any(d in ("auto", "cuda") for d in gpus):
            raise UsageError(f"devices must name each GPU once as cuda:N, got {devices}; two pools on one GPU "
                             "would time kernels concurrently (raise workers_per_device instead)")
        if workers_per_device is None:
            workers_per_device = max(1, (os.cpu_count() or 2) // len(devices))
        if workers_per_device < 1:
            raise UsageError(f"workers_per_device must be >= 1, got {workers_per_device}")
        self.devices = devices
        self.workers_per_device = workers_per_device
        self.workers = workers_per_device * len(devices)
        self.pools = [
            VerifierPool(replace(self.config, device=d), workers=workers_per_device, prespawn=prespawn,
                         memory_peers=len(devices))
            for d in devices
        ]
        self._lock = threading.Lock()
        self._loads = [0] * len(devices)
        self._done = [0] * len(devices)
        self._seen = [BoundedSet() for _ in devices]
        self._next = 0
        # One thread per concurrent candidate over all devices: concurrent verify_many callers share it,
        # so the devices never hold more than workers_per_device candidates each.
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="drt-host-verify")

    def _dispatch(self, problem_src: str, candidate_src: str) -> Future:
        return self._executor.submit(self._run, problem_src, candidate_src)

    def _run(self, problem_src: str, candidate_src: str):
        key = problem_key(problem_src)
        with self._lock:
            k = pick_slot(self._loads, [self.workers_per_device] * len(self.pools),
                          [key in s for s in self._seen], self._next)
            if k is None:  # cannot happen: threads == total capacity; keep the candidate anyway
                k = min(range(len(self.pools)), key=self._loads.__getitem__)
            self._next = (k + 1) % len(self.pools)
            self._loads[k] += 1
            self._seen[k].add(key)
        try:
            verdict = self.pools[k].verify(problem_src, candidate_src)
        finally:
            with self._lock:
                self._loads[k] -= 1
                self._done[k] += 1
        return self.as_own(verdict), True

    def stats(self) -> list[dict]:
        """Per device: its name, candidates in flight now, candidates finished."""
        with self._lock:
            return [{"device": d, "in_flight": n, "done": m} for d, n, m in zip(self.devices, self._loads, self._done)]

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True)
        for pool in self.pools:
            pool.close()
        super().close()

