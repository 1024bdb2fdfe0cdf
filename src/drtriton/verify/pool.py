"""VerifierPool: verify candidates concurrently in sandboxed workers; `verify()` for one candidate.

    with VerifierPool(VerifyConfig(), workers=4) as pool:
        verdicts = pool.verify_many([(problem_src, candidate_src), ...])

Compilation and correctness run in parallel, one fresh worker per candidate (pre-spawned so the
interpreter start overlaps other work); GPU timing is serialised per GPU by a lock the worker must ask
for. The reference runs in a separate, reusable worker and its outputs are cached per problem.
"""

from __future__ import annotations

import atexit
import collections
import hashlib
import shutil
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from drtriton.util.provenance import Provenance
from drtriton.verify.cache import VerdictCache, cache_key
from drtriton.verify.compare import compare, outputs_equal
from drtriton.verify.config import VerifyConfig
from drtriton.verify.process import WorkerCrash, WorkerProcess, WorkerTimeout, ZygoteClient
from drtriton.verify.rules import RULES, check_static, has_model_new, parse_candidate
from drtriton.verify.sandbox import policy_violations
from drtriton.verify.verdict import Status, Timing, Verdict

_REF_CACHE_SIZE = 32


def resolve_devices(device: str) -> list[str]:
    import torch

    if device == "cpu":
        return ["cpu"]
    if device.startswith("cuda:"):
        return [device]
    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if device == "cuda":
        from drtriton.util.errors import UsageError

        raise UsageError("device cuda requested but torch sees no CUDA GPU; pass --device cpu")
    return ["cpu"]


class _GpuSlot:
    """One request's hold on a GPU's timing lock: taken when the worker asks, given back once."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock, self._held = lock, False

    def acquire(self) -> None:
        self._lock.acquire()  # blocks until this GPU is free; waiting is not the candidate's time
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


class VerifierPool:
    """Verifies (problem_src, candidate_src) pairs under one VerifyConfig; thread-safe."""

    def __init__(
        self,
        config: VerifyConfig | None = None,
        workers: int = 2,
        cache_path: Path | None = None,
        prespawn: bool = True,
        spawn: str = "auto",
    ) -> None:
        self.config = config or VerifyConfig()
        self.workers = max(1, int(workers))
        self.prespawn = prespawn  # keep warm spare workers (interpreter + torch import done) ready
        if spawn not in ("auto", "zygote", "exec"):
            from drtriton.util.errors import UsageError

            raise UsageError(f"spawn must be auto, zygote or exec, got {spawn!r}")
        # "zygote": workers are forks of one process that imported torch and triton (zygote.py);
        # "exec": each worker is a new interpreter. auto = zygote on CPU devices, where it is tested in
        # CI; exec on GPUs until the zygote has been measured there.
        self.spawn = spawn
        self._zygotes: dict[str, ZygoteClient] = {}
        self.devices = resolve_devices(self.config.device)
        self._tmp = tempfile.mkdtemp(prefix="drt-verify-")
        self._cache = VerdictCache(cache_path) if cache_path else None
        self._lock = threading.Lock()
        self._gpu_locks = {d: threading.Lock() for d in self.devices}
        self._idle_candidates: dict[str, list[WorkerProcess]] = {d: [] for d in self.devices}
        self._idle_refs: dict[str, list[WorkerProcess]] = {d: [] for d in self.devices}
        self._refs: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._ref_locks: dict[str, threading.Lock] = {}
        self._next_device = 0
        self._closed = False
        # Per-problem torch.compile baselines run beside the candidates (compile on a CPU core, timing
        # under the GPU lock); a few at a time so they do not starve candidate compilation.
        self._baselines = ThreadPoolExecutor(max_workers=max(1, min(4, self.workers // 4)))

    # ---- workers ----
    def _zygote_for(self, device: str) -> ZygoteClient | None:
        use = self.spawn == "zygote" or (self.spawn == "auto" and device == "cpu")
        if not use:
            return None
        kind = "cpu" if device == "cpu" else "cuda"
        with self._lock:
            zygote = self._zygotes.get(kind)
            if zygote is None or not zygote.alive():
                if zygote is not None:
                    zygote.close()
                zygote = self._zygotes[kind] = ZygoteClient(kind)
            return zygote

    def _spawn(self, device: str) -> WorkerProcess:
        c = self.config
        args = (device, c.memory_mb, int(c.timeout_s * 3 + 120), c.output_cap_mb, self._tmp)
        zygote = self._zygote_for(device)
        if zygote is not None:
            try:
                return WorkerProcess(*args, zygote=zygote)
            except WorkerCrash:  # a zygote that cannot fork: fall back to a fresh interpreter
                zygote.close()
        return WorkerProcess(*args)

    def _pick_device(self) -> str:
        with self._lock:
            device = self.devices[self._next_device % len(self.devices)]
            self._next_device += 1
            return device

    def _take_candidate_worker(self, device: str) -> WorkerProcess:
        with self._lock:
            idle = self._idle_candidates[device]
            worker = idle.pop() if idle else None
            # keep one warm spare per concurrent slot so interpreter start overlaps the running check
            spares_needed = max(1, self.workers // len(self.devices)) - len(idle) if self.prespawn else 0
        if worker is None or not worker.alive():
            if worker is not None:
                worker.close()
            worker = self._spawn(device)
        if spares_needed > 0 and not self._closed:
            spare = self._spawn(device)
            with self._lock:
                self._idle_candidates[device].append(spare)
        return worker

    def _reference(self, problem_src: str, device: str) -> dict:
        key = hashlib.sha256(f"{device}\0{problem_src}".encode()).hexdigest()
        with self._lock:
            if key in self._refs:
                self._refs.move_to_end(key)
                return self._refs[key]
            key_lock = self._ref_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._refs:
                    return self._refs[key]
                idle = self._idle_refs[device]
                worker = idle.pop() if idle else None
            worker = worker if worker is not None and worker.alive() else self._spawn(device)
            path = Path(self._tmp) / f"problem_{key[:16]}.py"
            path.write_text(problem_src)
            c = self.config
            req = {
                "op": "reference",
                "path": str(path),
                "device": device,
                "seeds": list(c.seeds),
                "distributions": list(c.distributions),
                "init_seed": c.init_seed,
            }
            try:
                ref = worker.request(req, c.timeout_s)
            except WorkerTimeout:
                ref = {"kind": "error", "reason": f"reference Model took longer than {c.timeout_s:g} s"}
            except WorkerCrash as exc:
                ref = {"kind": "error", "reason": f"reference run crashed: {exc}"}
            if worker.alive() and ref.get("kind") == "reference":
                with self._lock:
                    self._idle_refs[device].append(worker)
            else:
                worker.close()
            ref["problem_path"] = str(path)
            if (
                ref.get("kind") == "reference"
                and device.startswith("cuda")
                and c.time_compile_baseline
                and c.compile_scope == "problem"
                and not self._closed
            ):
                ref["baseline"] = self._baselines.submit(self._baseline, ref, device)
            with self._lock:
                self._refs[key] = ref
                while len(self._refs) > _REF_CACHE_SIZE:
                    self._refs.popitem(last=False)
            return ref

    def _baseline(self, ref: dict, device: str) -> dict:
        """Eager and torch.compile(Model) timed once for a problem, in a worker that only runs problems."""
        c = self.config
        with self._lock:
            idle = self._idle_refs[device]
            worker = idle.pop() if idle else None
        worker = worker if worker is not None and worker.alive() else self._spawn(device)
        req = {
            "op": "baseline",
            "problem_path": ref["problem_path"],
            "device": device,
            "init_seed": c.init_seed,
            "init_inputs": ref["init_inputs"],
            "case": ref["cases"][0]["inputs"],
            "timing_seed": c.timing_seed,
            "timing_config": self._timing_config(),
        }
        slot = _GpuSlot(self._gpu_locks[device])
        try:
            reply = worker.request(req, c.timeout_s * 2, on_need_gpu=slot.acquire)
        except WorkerTimeout:
            reply = {"kind": "error", "reason": f"baseline took longer than {2 * c.timeout_s:g} s"}
        except WorkerCrash as exc:
            reply = {"kind": "error", "reason": f"baseline run crashed: {exc}"}
        finally:
            slot.release()
        with self._lock:
            keep = worker.alive() and reply.get("kind") == "baseline" and not self._closed
            if keep:
                self._idle_refs[device].append(worker)
        if not keep:
            worker.close()
        return reply

    def _problem_baseline(self, ref: dict) -> dict | None:
        future = ref.get("baseline")
        if future is None:
            return None
        try:
            return future.result(timeout=self.config.timeout_s * 3)
        except Exception as exc:  # noqa: BLE001 - a baseline failure is a note, never the candidate's fault
            return {"kind": "error", "reason": f"{type(exc).__name__}: {exc}"}

    def _timing_config(self) -> dict:
        """The timing knobs a worker reads (candidate timing and the per-problem baseline alike)."""
        c = self.config
        return {
            "n_timing": c.n_timing,
            "warmup": c.warmup,
            "time_compile_baseline": c.time_compile_baseline,
            "compile_scope": c.compile_scope,
            "policy": c.policy,
        }

    # ---- one candidate ----
    def verify(self, problem_src: str, candidate_src: str) -> Verdict:
        c = self.config
        key = cache_key(problem_src, candidate_src, c) if self._cache else None
        if key and (hit := self._cache.get(key)) is not None:
            return hit
        verdict = self._verify_uncached(problem_src, candidate_src)
        if key and verdict.status is not Status.TIMEOUT:  # a timeout may be load, not the candidate
            self._cache.put(key, verdict)
        return verdict

    def _verdict(self, status: Status, reason: str = "", **kw) -> Verdict:
        return Verdict(
            status=status, reason=reason, policy=self.config.policy, config_hash=self.config.hash(), **kw
        )

    def _verify_uncached(self, problem_src: str, candidate_src: str) -> Verdict:
        c = self.config
        tree, why = parse_candidate(candidate_src)
        if tree is None:
            return self._verdict(Status.FORMAT_ERROR, why)
        if not has_model_new(tree):
            return self._verdict(
                Status.FORMAT_ERROR,
                "candidate defines no top-level class ModelNew; define class ModelNew(nn.Module)",
            )
        findings = check_static(tree, c.disabled_rules)
        if findings:
            f = findings[0]
            more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
            return self._verdict(Status.CHEAT_DETECTED, f"{f.rule}: {f.reason}{more}", rule=f.rule)
        device = self._pick_device()
        ref = self._reference(problem_src, device)
        if ref.get("kind") != "reference":
            return self._verdict(Status.FORMAT_ERROR, f"problem: {ref.get('reason')}; fix the problem file")
        return self._run_candidate(candidate_src, ref, device)

    def _run_candidate(self, candidate_src: str, ref: dict, device: str) -> Verdict:
        c = self.config
        path = Path(self._tmp) / f"candidate_{uuid.uuid4().hex[:12]}.py"
        path.write_text(candidate_src)
        on_gpu = device.startswith("cuda")
        req = {
            "op": "candidate",
            "path": str(path),
            "device": device,
            "init_seed": c.init_seed,
            "init_inputs": ref["init_inputs"],
            "state": ref["state"],
            "cases": [case["inputs"] for case in ref["cases"]],
            "disabled_rules": list(c.disabled_rules),
            "timing": on_gpu,
            "problem_path": ref["problem_path"],
            "timing_seed": c.timing_seed,
            "timing_config": self._timing_config(),
        }
        slot = _GpuSlot(self._gpu_locks[device])
        worker = self._take_candidate_worker(device)
        try:
            reply = worker.request(req, c.timeout_s, on_need_gpu=slot.acquire, on_gpu_done=slot.release)
        except WorkerTimeout:
            return self._verdict(
                Status.TIMEOUT,
                f"candidate did not finish within {c.timeout_s:g} s; worker "
                "killed (infinite loop or far too slow)",
            )
        except WorkerCrash as exc:
            return self._verdict(Status.RUNTIME_ERROR, str(exc))
        finally:
            slot.release()
            worker.discard()  # one candidate per worker: nothing to shut down gracefully
            path.unlink(missing_ok=True)
        return self.evaluate(ref, reply)

    # ---- judging the worker's reply (parent side) ----
    def evaluate(self, ref: dict, reply: dict) -> Verdict:
        c = self.config
        notes = tuple(ref.get("notes", ()))
        kind = reply.get("kind")
        if kind == "reject":
            status, rule = Status(reply["status"]), reply.get("rule")
            return self._verdict(
                status, f"{rule}: {reply['reason']}" if rule else reply["reason"], rule=rule, notes=notes
            )
        if kind != "candidate":
            return self._verdict(Status.RUNTIME_ERROR, str(reply.get("reason", "malformed worker reply")))
        ops = reply.get("ops", {})
        launches = reply.get("launches", [])
        common = {
            "notes": notes,
            "torch_ops": tuple(sorted(ops)),
            "phase_s": dict(reply.get("phase_s", {})),
            "triton_launches": min(launches) if launches else None,
        }
        if c.rule_on("launch.kernel_not_launched") and (not launches or min(launches) == 0):
            n = sum(1 for x in launches if x == 0)
            return self._verdict(
                Status.CHEAT_DETECTED,
                f"launch.kernel_not_launched: {n} of {len(launches)} forward calls launched no Triton kernel",
                rule="launch.kernel_not_launched",
                **common,
            )
        bad_ops = policy_violations(ops, c.policy)
        if c.rule_on("policy.torch_compute") and bad_ops:
            return self._verdict(
                Status.CHEAT_DETECTED,
                f"policy.torch_compute: ModelNew.forward runs torch compute "
                f"ops {', '.join(bad_ops[:6])} under policy {c.policy}; write them in Triton "
                "(or use --policy hybrid)",
                rule="policy.torch_compute",
                **common,
            )
        cases = ref["cases"]
        worst_abs, worst_rel = 0.0, 0.0
        fresh = reply["fresh"]
        for k, (case, out) in enumerate(zip(cases, fresh)):
            cmp = compare(case["outputs"], out, c.atol, c.rtol)
            if not cmp.ok:
                if c.rule_on("memo.input_insensitive") and self._input_insensitive(cases, fresh):
                    return self._verdict(
                        Status.CHEAT_DETECTED,
                        "memo.input_insensitive: outputs are identical "
                        "for inputs whose reference outputs differ",
                        rule="memo.input_insensitive",
                        max_abs_err=cmp.max_abs_err,
                        max_rel_err=cmp.max_rel_err,
                        **common,
                    )
                return self._verdict(
                    Status.INCORRECT,
                    f"seed {case['seed']} ({case['dist']} inputs): {cmp.reason}",
                    max_abs_err=cmp.max_abs_err,
                    max_rel_err=cmp.max_rel_err,
                    **common,
                )
            worst_abs, worst_rel = (
                max(worst_abs, cmp.max_abs_err or 0.0),
                max(worst_rel, cmp.max_rel_err or 0.0),
            )
        for label, outs, srcs in (
            ("refilled inputs, reverse order", reply["refill"], reply["refill_src"]),
            ("re-check after timing", reply["recheck"], reply["recheck_order"]),
        ):
            for src, out in zip(srcs, outs):
                cmp = compare(cases[src]["outputs"], out, c.atol, c.rtol)
                if not cmp.ok and c.rule_on("memo.stale_result"):
                    return self._verdict(
                        Status.CHEAT_DETECTED,
                        f"memo.stale_result: correct on fresh inputs but "
                        f"wrong on {label} (case {src}): {cmp.reason}",
                        rule="memo.stale_result",
                        max_abs_err=cmp.max_abs_err,
                        max_rel_err=cmp.max_rel_err,
                        **common,
                    )
        timing, speed_eager, speed_compile = None, None, None
        t = reply.get("timing")
        gpu_notes = ()
        if t:
            gpu_notes = tuple(t.pop("notes", ()))
            t.pop("gpu", None)
            base = self._problem_baseline(ref)
            if base is not None and base.get("kind") == "baseline":
                gpu_notes += tuple(base.get("notes", ()))
                t["compile_ms"] = base["compile_ms"]
                t["compile_samples"] = base["compile_samples"]
                t["compile_scope"] = "problem" if base["compile_ms"] is not None else None
                clean_eager = base.get("eager_ms")
                # The candidate's worker times eager Model beside the candidate (drift-robust ratio);
                # a clean worker timed it too. A candidate that slows torch down in its own process
                # would inflate its speedup: the smaller eager time is the one compared with.
                if clean_eager and t.get("eager_ms") and t["eager_ms"] > 1.25 * clean_eager + 0.005:
                    gpu_notes += (
                        f"eager Model ran {t['eager_ms']:.4f} ms in the candidate's worker but "
                        f"{clean_eager:.4f} ms in a clean worker; the clean figure is used",
                    )
                    t["eager_ms"] = clean_eager
            elif base is not None:
                gpu_notes += (f"torch.compile baseline not measured: {base.get('reason')}",)
            timing = Timing.from_json(t)
            if (
                c.policy == "hybrid"
                and c.rule_on("policy.triton_share")
                and (timing.triton_share or 0.0) < c.min_triton_share
            ):
                return self._verdict(
                    Status.CHEAT_DETECTED,
                    f"policy.triton_share: Triton kernels carry "
                    f"{(timing.triton_share or 0.0):.1%} of GPU time, below {c.min_triton_share:.0%}",
                    rule="policy.triton_share",
                    timing=timing,
                    **common,
                )
            if timing.host_agrees is False:
                gpu_notes += (
                    f"host clock {timing.host_ms:.3f} ms disagrees with CUDA events "
                    f"{timing.candidate_ms:.3f} ms (work outside the timed stream?)",
                )
            if timing.candidate_ms:
                speed_eager = timing.eager_ms / timing.candidate_ms if timing.eager_ms else None
                speed_compile = timing.compile_ms / timing.candidate_ms if timing.compile_ms else None
        if self._input_insensitive_ref(cases):
            notes += ("reference outputs do not depend on the inputs (degenerate problem)",)
        common["notes"] = notes + gpu_notes
        return self._verdict(
            Status.CORRECT,
            "",
            max_abs_err=worst_abs,
            max_rel_err=worst_rel,
            timing=timing,
            speedup_vs_eager=speed_eager,
            speedup_vs_compile=speed_compile,
            **common,
        )

    @staticmethod
    def _input_insensitive(cases: list, fresh: list) -> bool:
        """Two cases whose references differ but whose candidate outputs are bit-identical."""
        for i in range(len(cases)):
            for j in range(i + 1, len(cases)):
                if outputs_equal(fresh[i], fresh[j]) and not outputs_equal(
                    cases[i]["outputs"], cases[j]["outputs"]
                ):
                    return True
        return False

    @staticmethod
    def _input_insensitive_ref(cases: list) -> bool:
        return len(cases) > 1 and all(outputs_equal(cases[0]["outputs"], c["outputs"]) for c in cases[1:])

    # ---- batches ----
    def verify_many(self, pairs: list[tuple[str, str]], progress=None) -> list[Verdict]:
        """Verdicts in input order; `progress(done, total)` is called after each candidate."""
        results: list[Verdict | None] = [None] * len(pairs)
        done = [0]

        def one(i: int) -> None:
            try:
                results[i] = self.verify(*pairs[i])
            except Exception as exc:  # noqa: BLE001 - a verifier bug still yields a verdict, named as such
                results[i] = self._verdict(
                    Status.RUNTIME_ERROR,
                    f"verifier internal error (please report): {type(exc).__name__}: {exc}",
                )
            with self._lock:
                done[0] += 1
            if progress:
                progress(done[0], len(pairs))

        with ThreadPoolExecutor(max_workers=self.workers) as ex:
            list(ex.map(one, range(len(pairs))))
        return results  # type: ignore[return-value]

    def close(self) -> None:
        self._closed = True
        self._baselines.shutdown(wait=False, cancel_futures=True)  # a running one closes its worker
        with self._lock:
            workers = [w for ws in self._idle_candidates.values() for w in ws]
            workers += [w for ws in self._idle_refs.values() for w in ws]
            for ws in list(self._idle_candidates.values()) + list(self._idle_refs.values()):
                ws.clear()
        for w in workers:
            w.close()
        with self._lock:
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
        for z in zygotes:
            z.close()
        if self._cache:
            self._cache.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- the library entry point ----
_shared: dict[str, VerifierPool] = {}
_shared_lock = threading.Lock()


def verify(problem_src: str, candidate_src: str, config: VerifyConfig | None = None) -> Verdict:
    """Verifies one candidate; never raises for anything the candidate or problem does.

    Args:
        problem_src: KernelBench-format source defining Model, get_inputs, get_init_inputs.
        candidate_src: source defining ModelNew with at least one @triton.jit kernel.
        config: the protocol (VerifyConfig()); its policy is named in the verdict.
    Returns:
        A Verdict; `.ok` only when correct and honest.
    """
    config = config or VerifyConfig()
    with _shared_lock:
        pool = _shared.get(config.hash())
        if pool is None:
            pool = _shared[config.hash()] = VerifierPool(config, workers=1)
    return pool.verify(problem_src, candidate_src)


@atexit.register
def _close_shared() -> None:
    for pool in _shared.values():
        pool.close()
    _shared.clear()


__all__ = ["VerifierPool", "verify", "RULES", "Provenance"]
