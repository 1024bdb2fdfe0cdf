"""RayVerifierPool: verifier workers on several hosts, one Ray actor per GPU, each owning a VerifierPool.

    ray.init(address="auto")                                   # or let the pool start a local cluster
    with RayVerifierPool(VerifyConfig(device="cuda"), workers_per_actor=4) as pool:   # one actor per GPU
        verdicts = pool.verify_many(pairs)
    RayVerifierPool(VerifyConfig(device="cpu"), num_actors=2, workers_per_actor=1)    # CPU actors (tests)

A driver-side dispatcher thread keeps every actor busy (up to workers_per_actor + prefetch requests
each, least loaded first, problem affinity on ties), keeps input order, turns an actor's death (or a
stall past `stall_s`) into RUNTIME_ERROR verdicts for the candidates it held, and starts a replacement.
Every node needs drtriton installed (the actor imports it); nothing is shipped by the pool.

Covered: actor death (killed, node lost, constructor failure), hung actors, results in input order,
concurrent callers. Not covered: retrying the candidates of a dead actor (one of them may be what killed
it; they are reported, not re-run), heterogeneous GPUs (the cache key names every device the actors report).
"""

from __future__ import annotations

import collections
import os
import platform
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from drtriton.util.errors import UsageError
from drtriton.verify.config import VerifyConfig
from drtriton.verify.multi.base import BoundedSet, MultiPoolBase, pick_slot, problem_key
from drtriton.verify.verdict import Status, Verdict


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "no Ray here"
        return False
    return True


def _config_from_json(data: dict) -> VerifyConfig:
    return VerifyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class VerifierActor:
    """Runs inside a Ray worker process: one VerifierPool on the actor's device (Ray's CUDA_VISIBLE_DEVICES
    leaves a GPU actor exactly one GPU, cuda:0). Verdicts travel as JSON dicts."""

    def __init__(self, config_json: dict, workers: int, prespawn: bool) -> None:
        from drtriton.verify.pool import VerifierPool

        self.pool = VerifierPool(_config_from_json(config_json), workers=workers, prespawn=prespawn)

    def info(self) -> dict:
        from drtriton.util.provenance import Provenance

        return {"host": platform.node(), "pid": os.getpid(), "devices": list(self.pool.devices),
                "gpu": Provenance.here().device, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}

    def verify(self, problem_src: str, candidate_src: str) -> dict:
        return self.pool.verify(problem_src, candidate_src).to_json()

    def close(self) -> None:
        self.pool.close()


@dataclass
class _Item:
    problem_src: str
    candidate_src: str
    future: Future
    key: str = ""


@dataclass
class _Slot:
    handle: object
    in_flight: dict = field(default_factory=dict)  # ObjectRef -> _Item
    last_progress: float = field(default_factory=time.monotonic)
    done: int = 0
    restarts: int = 0
    alive: bool = True
    info: dict | None = None
    info_ref: object = None  # a replacement's pending info() call
    seen: BoundedSet = field(default_factory=BoundedSet)


class RayVerifierPool(MultiPoolBase):
    """The VerifierPool API over Ray actors (one per GPU, or `num_actors` CPU actors); thread-safe."""

    def __init__(
        self,
        config: VerifyConfig | None = None,
        num_actors: int | None = None,
        workers_per_actor: int = 2,
        cpus_per_actor: float | None = None,
        prefetch: int = 1,
        max_restarts: int = 3,
        stall_s: float | None = None,
        address: str | None = None,
        runtime_env: dict | None = None,
        cache_path=None,
        prespawn: bool = True,
        startup_timeout_s: float = 300.0,
    ) -> None:
        """
        Args:
            config: the protocol; device cpu gives CPU actors (num_gpus=0), anything else one GPU per actor.
            num_actors: actors to start (default: one per GPU of the cluster; required on CPU).
            workers_per_actor: concurrent candidates per actor (its VerifierPool's workers).
            cpus_per_actor: CPUs Ray reserves per actor (default workers_per_actor: each worker compiles).
            prefetch: requests queued at an actor beyond its workers, so it never waits for the driver.
            max_restarts: replacements per actor slot before the slot is given up.
            stall_s: an actor holding work that finishes nothing for this long is killed and replaced
                (default 2 * timeout_s + 180: a reference run plus a candidate, plus worker start).
            address: Ray address when Ray is not initialised yet (None starts a local cluster).
            runtime_env: passed to every actor (e.g. env_vars); None uses the cluster's environment.
            cache_path: SQLite verdict cache on the driver.
            startup_timeout_s: how long to wait for every actor to come up.
        Raises:
            UsageError: Ray missing, no GPUs for a GPU config, bad counts, or actors that did not start.
        """
        super().__init__(config, cache_path)
        if not ray_available():
            raise UsageError("RayVerifierPool needs ray; pip install ray (scripts/setup.sh does)")
        import ray

        if workers_per_actor < 1 or prefetch < 0 or max_restarts < 0:
            raise UsageError(f"workers_per_actor >= 1, prefetch >= 0 and max_restarts >= 0 needed, got "
                             f"{workers_per_actor}, {prefetch}, {max_restarts}")
        self._own_ray = not ray.is_initialized()
        if self._own_ray:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self.on_gpu = self.config.device != "cpu"
        resources = ray.cluster_resources()
        if num_actors is None:
            if not self.on_gpu:
                raise UsageError("num_actors is required with device cpu (e.g. num_actors=2)")
            num_actors = int(resources.get("GPU", 0))
            if num_actors == 0:
                raise UsageError(f"device {self.config.device} but the Ray cluster has no GPU "
                                 f"(resources {dict(resources)}); pass device cpu and num_actors")
        if num_actors < 1:
            raise UsageError(f"num_actors must be >= 1, got {num_actors}")
        self.workers_per_actor = workers_per_actor
        self.workers = workers_per_actor * num_actors
        self.capacity = workers_per_actor + prefetch
        self.max_restarts = max_restarts
        self.stall_s = stall_s if stall_s is not None else 2 * self.config.timeout_s + 180
        actor_config = self.config.to_json()
        actor_config["device"] = "cuda:0" if self.on_gpu else "cpu"
        options = {"num_gpus": 1 if self.on_gpu else 0,
                   "num_cpus": workers_per_actor if cpus_per_actor is None else cpus_per_actor,
                   "max_concurrency": workers_per_actor, "max_restarts": 0}
        if runtime_env is not None:
            options["runtime_env"] = runtime_env
        remote_cls = ray.remote(VerifierActor).options(**options)
        self._new_actor = lambda: remote_cls.remote(actor_config, workers_per_actor, prespawn)
        self._slots = [_Slot(self._new_actor()) for _ in range(num_actors)]
        self._wait_for_actors(startup_timeout_s, resources)
        self._lock = threading.Condition()
        self._pending: collections.deque[_Item] = collections.deque()
        self._next = 0
        self._thread = threading.Thread(target=self._loop, name="drt-ray-dispatch", daemon=True)
        self._thread.start()

    def _wait_for_actors(self, timeout_s: float, resources: dict) -> None:
        import ray

        refs = [s.handle.info.remote() for s in self._slots]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        if len(ready) < len(refs):
            self._abort()
            raise UsageError(f"only {len(ready)} of {len(refs)} verifier actors started within {timeout_s:g} s "
                             f"(cluster resources {dict(resources)}); lower num_actors or workers_per_actor")
        try:
            for slot, info in zip(self._slots, ray.get(refs)):
                slot.info = info
        except ray.exceptions.RayError as exc:
            self._abort()
            raise UsageError(f"a verifier actor failed to start: {str(exc).splitlines()[0]}; is drtriton "
                             "installed on every Ray node?") from None

    def _abort(self) -> None:
        """Undoes a failed start: actors, the cache, and Ray itself if this pool started it."""
        import ray

        self._kill_all()
        super().close()
        if self._own_ray:
            ray.shutdown()

    def _cache_extra(self) -> str:
        return ",".join(sorted({str((s.info or {}).get("gpu")) for s in self._slots}))

    # ---- the dispatcher ----
    def _dispatch(self, problem_src: str, candidate_src: str) -> Future:
        item = _Item(problem_src, candidate_src, Future(), problem_key(problem_src))
        with self._lock:
            if self._closed:
                item.future.set_result((self.verdict(Status.RUNTIME_ERROR, "verifier pool is closed"), False))
            else:
                self._pending.append(item)
                self._lock.notify()
        return item.future

    def _place_pending(self) -> None:
        """Moves queued candidates onto actors with room (caller holds the lock)."""
        live = [k for k, s in enumerate(self._slots) if s.alive]
        if not live and self._pending:
            for item in self._pending:
                item.future.set_result((self.verdict(
                    Status.RUNTIME_ERROR,
                    f"no live verifier actors (each replaced {self.max_restarts} times); check the Ray cluster",
                ), False))
            self._pending.clear()
            return
        while self._pending:
            item = self._pending[0]
            loads = [len(s.in_flight) if s.alive else self.capacity for s in self._slots]
            k = pick_slot(loads, [self.capacity] * len(self._slots),
                          [item.key in s.seen for s in self._slots], self._next)
            if k is None:
                return
            self._pending.popleft()
            slot = self._slots[k]
            self._next = (k + 1) % len(self._slots)
            if not slot.in_flight:
                slot.last_progress = time.monotonic()
            slot.seen.add(item.key)
            slot.in_flight[slot.handle.verify.remote(item.problem_src, item.candidate_src)] = item

    def _loop(self) -> None:
        while True:
            try:
                if self._step():
                    return
            except Exception as exc:  # noqa: BLE001 - a dispatcher bug must not leave callers waiting forever
                with self._lock:
                    why = f"verifier internal error (please report): dispatcher: {type(exc).__name__}: {exc}"
                    for item in [i for s in self._slots for i in s.in_flight.values()] + list(self._pending):
                        if not item.future.done():
                            item.future.set_result((self.verdict(Status.RUNTIME_ERROR, why), False))
                    for s in self._slots:
                        s.in_flight.clear()
                    self._pending.clear()
                time.sleep(0.5)

    def _step(self) -> bool:
        """One round: place, wait briefly, collect; True once closed and drained."""
        import ray

        with self._lock:
            self._place_pending()
            refs = [r for s in self._slots for r in s.in_flight]
            if not refs:
                if self._closed:
                    return True
                self._lock.wait(timeout=0.5)
                return False
        ready, _ = ray.wait(refs, num_returns=1, timeout=0.2)
        if ready:  # collect everything that is done, not one per round
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        with self._lock:
            for ref in ready:
                self._collect(ref)
            self._housekeeping()
        return False

    def _owner(self, ref) -> tuple[int, _Item] | None:
        for k, s in enumerate(self._slots):
            if ref in s.in_flight:
                return k, s.in_flight[ref]
        return None

    def _collect(self, ref) -> None:
        import ray

        found = self._owner(ref)
        if found is None:  # its actor already failed and its candidates were answered
            return
        k, item = found
        slot = self._slots[k]
        try:
            data = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            self._replace(k, f"died ({str(exc).splitlines()[0][:200]})")
            return
        except ray.exceptions.RayError as exc:
            del slot.in_flight[ref]
            item.future.set_result((self.verdict(
                Status.RUNTIME_ERROR,
                f"verifier internal error (please report): {str(exc).splitlines()[0][:300]}"), False))
            return
        del slot.in_flight[ref]
        slot.done += 1
        slot.last_progress = time.monotonic()
        item.future.set_result((self.as_own(Verdict.from_json(data)), True))

    def _housekeeping(self) -> None:
        """Replaces stalled actors; records the host and pid of replacements once they answer."""
        import ray

        now = time.monotonic()
        for k, slot in enumerate(self._slots):
            if slot.info_ref is not None and ray.wait([slot.info_ref], timeout=0)[0]:
                try:
                    slot.info = ray.get(slot.info_ref)
                except ray.exceptions.RayError:
                    pass  # the replacement died too: its verify calls will say so
                slot.info_ref = None
            if slot.in_flight and now - slot.last_progress > self.stall_s:
                self._replace(k, f"finished nothing for {self.stall_s:g} s (hung or unreachable)")

    def _replace(self, k: int, why: str) -> None:
        """Answers every candidate the actor held, then starts a replacement (caller holds the lock)."""
        import ray

        slot = self._slots[k]
        where = f"{(slot.info or {}).get('host', '?')} pid {(slot.info or {}).get('pid', '?')}"
        for item in slot.in_flight.values():
            item.future.set_result((self.verdict(
                Status.RUNTIME_ERROR,
                f"verifier actor {k} ({where}) {why} while this candidate was in flight; "
                "the actor was replaced, verify the candidate again to get its own verdict",
            ), False))
        slot.in_flight.clear()
        try:
            ray.kill(slot.handle, no_restart=True)
        except Exception:  # noqa: BLE001, S110 - it is gone already; a replacement follows either way
            pass
        if slot.restarts >= self.max_restarts:
            slot.alive = False
            return
        slot.restarts += 1
        slot.handle = self._new_actor()
        slot.info = {"host": None, "pid": None, "gpu": (slot.info or {}).get("gpu")}
        slot.info_ref = slot.handle.info.remote()
        slot.last_progress = time.monotonic()

    # ---- introspection and shutdown ----
    def stats(self) -> list[dict]:
        """Per actor: host, pid, in flight, done, restarts, alive."""
        with self._lock:
            return [{"actor": k, "host": (s.info or {}).get("host"), "pid": (s.info or {}).get("pid"),
                     "gpu": (s.info or {}).get("gpu"), "in_flight": len(s.in_flight), "done": s.done,
                     "restarts": s.restarts, "alive": s.alive} for k, s in enumerate(self._slots)]

    def in_flight(self) -> dict[int, int]:
        """Actor index -> candidates it holds now."""
        with self._lock:
            return {k: len(s.in_flight) for k, s in enumerate(self._slots)}

    def actor(self, k: int):
        """The Ray handle of actor slot k (for monitoring, or to kill it in a fault test)."""
        return self._slots[k].handle

    def _kill_all(self) -> None:
        import ray

        for s in self._slots:
            try:
                ray.kill(s.handle, no_restart=True)
            except Exception:  # noqa: BLE001, S110 - already dead
                pass

    def close(self) -> None:
        """Answers queued candidates, waits for those in flight, stops the actors (and Ray if it started it)."""
        import ray

        if self._closed:
            return
        with self._lock:
            self._closed = True
            for item in self._pending:
                item.future.set_result((self.verdict(Status.RUNTIME_ERROR, "verifier pool closed before "
                                                     "this candidate ran"), False))
            self._pending.clear()
            self._lock.notify()
        self._thread.join()
        if ray.is_initialized():  # the caller may have shut Ray down first: the actors are gone then
            closing = [s.handle.close.remote() for s in self._slots if s.alive]
            ray.wait(closing, num_returns=len(closing), timeout=30)  # workers stop cleanly, then the actors
            self._kill_all()
        super().close()
        if self._own_ray:
            ray.shutdown()
