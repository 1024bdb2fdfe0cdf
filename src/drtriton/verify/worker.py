"""Verifier worker: a fresh interpreter that runs one problem's reference or one candidate.

    python -m drtriton.verify.worker      # started by verify/pool.py only; speaks verify/protocol.py

The protocol uses private duplicates of fd 0/1; fd 0 becomes /dev/null and fd 1/2 the capped capture
file, so anything candidate code prints never reaches the pipe. Candidate code runs with the audit
guard on, the op log + poisoned allocations during forward, and Triton launches counted.

Inputs never cross the pipe: the reference and the candidate's worker each draw every case from
(seed, distribution) with the problem's get_inputs, and the candidate's worker checks its draw against
the reference's fingerprint. Outputs stream to the parent one case (one call) per frame.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import os
import sys
import time
import traceback

from drtriton.verify import gpu_quiet


def _read_exact_fd(fd: int):
    def read_exact(n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError("parent closed the pipe")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    return read_exact


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " | ")
    return text[:limit]


def _load_module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _as_list(out) -> list:
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def tensor_bytes(values) -> int:
    """Bytes held by the tensors among `values` (other arguments count nothing)."""
    import torch

    return sum(v.numel() * v.element_size() for v in values if isinstance(v, torch.Tensor))


def _tensor_outputs(out, device=None) -> list:
    """Model's outputs as a list of tensors (a Python number becomes one, on `device`)."""
    import torch

    return [o if isinstance(o, torch.Tensor) else torch.tensor(o, device=device) for o in _as_list(out)]


def release_gpu_cache(device) -> None:
    """Hands this process's cached-but-free GPU memory back to the device. Several workers share a GPU
    and each caching allocator keeps its peak: a KernelBench case's transient tensors (float64 input
    transforms, a recomputed reference) otherwise stay reserved and starve the other workers."""
    import torch

    # Only past a quarter GB held free: with expandable segments each call unmaps and later remaps
    # (~10 ms, profiled at 11 calls per small candidate), which a few MB of small outputs do not repay.
    if str(device).startswith("cuda") and torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device) > 256 << 20:
        torch.cuda.empty_cache()


# ---- inputs ----
TRANSFORM_CHUNK = 1 << 24  # elements transformed at a time (float64 temporaries stay ~128 MB each)


def _transform(x, dist: str, seed: int):
    """The input distributions (VerifyConfig.distributions) applied to one floating tensor."""
    import torch

    if dist == "normal":
        return x
    dev = x.device
    g = torch.Generator(device=dev).manual_seed(seed * 7919 + 17)
    if dist == "heavy_tailed":
        # In chunks: float64 temporaries of a whole KernelBench input (1.6G elements at level 1) asked
        # for 12 GB of GPU memory at once on the H100.
        flat_in = x.reshape(-1)
        n = flat_in.numel()
        out = torch.empty(n, dtype=x.dtype, device=dev)
        for lo in range(0, n, TRANSFORM_CHUNK):
            part = flat_in[lo : lo + TRANSFORM_CHUNK]
            u = torch.rand(part.shape, generator=g, dtype=torch.float64, device=dev) - 0.5
            laplace = -torch.sign(u) * torch.log1p(-2 * u.abs().clamp(max=0.4999))
            factor = torch.exp((0.75 * laplace).clamp(-6, 6))  # sign kept: domains (x > 0) survive
            out[lo : lo + TRANSFORM_CHUNK] = (part.double() * factor).to(x.dtype)
        # The far tail: about 1% of elements (at least one) get magnitude 90..200, past fp32 exp's
        # overflow at 88.7, so kernels that skip max-subtraction or thresholds fail as they would in use.
        if n >= 8:
            # Distinct positions: a position drawn twice would get one of two magnitudes, and which one
            # wins an indexed write on a GPU is not defined, so two workers' draws could differ.
            idx = torch.unique(torch.randint(0, n, (max(1, n // 100),), generator=g, device=dev))
            mag = 90 + 110 * torch.rand(idx.numel(), generator=g, dtype=torch.float64, device=dev)
            out[idx] = torch.where(out[idx] < 0, -mag, mag).to(x.dtype)
        return out.reshape(x.shape)
    if dist == "uniform_shifted":
        return (x.abs() + 0.5 * torch.rand(x.shape, generator=g, dtype=x.dtype, device=dev)).to(x.dtype)
    raise ValueError(f"unknown distribution {dist}")


def draw_inputs(get_inputs, seed: int, device="cpu") -> list:
    """get_inputs() right after torch.manual_seed(seed). On a GPU it runs with the GPU as default device:
    KernelBench-sized inputs (up to ~10^9 elements) drawn by one CPU thread took over a minute per
    problem on the H100 host. Draws on the same device kind with the same seed are equal."""
    import contextlib

    import torch

    torch.manual_seed(seed)  # seeds the CPU and every CUDA generator
    with torch.device(device) if str(device).startswith("cuda") else contextlib.nullcontext():
        return list(get_inputs())


def _make_case(module, seed: int, dist: str, device="cpu") -> list:
    """One case's inputs, drawn (draw_inputs) and transformed (_transform) on `device`: every worker of a
    run draws on the same device kind, so the reference's fingerprints still match."""
    import torch

    return [
        _transform(x, dist, seed) if isinstance(x, torch.Tensor) and x.is_floating_point() else x
        for x in draw_inputs(module.get_inputs, seed, device)
    ]


def _to_device(args: list, device: str) -> list:
    import torch

    return [a.to(device, copy=True) if isinstance(a, torch.Tensor) else a for a in args]


FINGERPRINT_SAMPLE = 4096  # values per tensor in an input fingerprint


def fingerprint(args: list) -> str:
    """A cheap digest of one case's inputs: each tensor's shape, dtype and a strided sample of up to
    FINGERPRINT_SAMPLE values plus its last value; other arguments by repr. Equal digests in the
    reference's and the candidate's worker mean both drew the same case (up to the sample)."""
    import torch

    h = hashlib.sha256()
    for a in args:
        if isinstance(a, torch.Tensor):
            h.update(f"T{tuple(a.shape)}:{a.dtype}|".encode())
            flat = a.detach().reshape(-1)
            if flat.numel():
                step = max(1, flat.numel() // FINGERPRINT_SAMPLE)
                sample = torch.cat([flat[::step][:FINGERPRINT_SAMPLE], flat[-1:]]).to("cpu").contiguous()
                h.update(sample.view(torch.uint8).numpy().tobytes())
        else:
            h.update(f"V{a!r}|".encode())
    return h.hexdigest()[:32]


def _layout(args: list) -> tuple:
    import torch

    return tuple(
        (tuple(a.shape), str(a.dtype)) if isinstance(a, torch.Tensor) else ("value", repr(a)) for a in args
    )


class InputMismatch(Exception):
    """This worker drew a case whose fingerprint differs from the reference's."""


class CaseSource:
    """One problem's correctness cases, drawn in this worker from (seed, distribution) with the
    problem's get_inputs and checked against the reference's fingerprints. Drawn cases stay on the host
    while they fit in `budget_bytes` (least recently used out first); past it a case is drawn again."""

    def __init__(self, module, specs: list[dict], budget_bytes: int, device="cpu") -> None:
        self.module, self.specs, self.budget, self.device = module, specs, budget_bytes, device
        self._kept: collections.OrderedDict[int, tuple[list, int]] = collections.OrderedDict()
        self._bytes = 0
        self.draw_s = 0.0  # seconds spent drawing (and fingerprinting) cases

    def __len__(self) -> int:
        return len(self.specs)

    def get(self, k: int) -> list:
        """Case k's host inputs (shared: copy before mutating). Raises InputMismatch."""
        if k in self._kept:
            self._kept.move_to_end(k)
            return self._kept[k][0]
        spec = self.specs[k]
        t0 = time.perf_counter()
        inputs = _make_case(self.module, spec["seed"], spec["dist"], self.device)
        got = fingerprint(inputs)
        release_gpu_cache(self.device)  # the transforms' float64 temporaries
        self.draw_s += time.perf_counter() - t0
        if got != spec["fingerprint"]:
            raise InputMismatch(
                f"inputs drawn here for seed {spec['seed']} ({spec['dist']}) differ from the reference's "
                f"(fingerprint {got[:12]} vs {spec['fingerprint'][:12]}): get_inputs is not reproducible "
                "from torch.manual_seed in a fresh process (time, os.urandom, the pid, numpy or random "
                "module state?) or torch's global state was changed; draw inputs only from torch's RNG"
            )
        size = tensor_bytes(inputs)
        if size <= self.budget:
            self._kept[k] = (inputs, size)
            self._bytes += size
            while self._bytes > self.budget and len(self._kept) > 1:
                _, (_, old) = self._kept.popitem(last=False)
                self._bytes -= old
        return inputs


# ---- reference ----
class ReferenceJudge:
    """The reference worker's second life on a GPU: it keeps the problem's Model and, within
    `budget_bytes`, its outputs on the GPU, and compares candidates' outputs with them there (mapped
    through CUDA IPC, verify/ipc.py). Cases past the budget are recomputed when asked for (the last one
    stays), so a problem with gigabyte outputs needs neither host memory nor pipe transfers."""

    def __init__(self, module, model, device: str, budget_bytes: int) -> None:
        import torch

        self.module, self.model, self.device = module, model, device
        self.device_index = torch.device(device).index or 0
        self.budget, self.held = budget_bytes, 0
        self.specs: list[tuple[int, str]] = []
        self.cached: dict[int, list] = {}
        self.last: tuple[int, list] | None = None
        self.recomputed = 0

    def keep(self, k: int, seed: int, dist: str, outs: list) -> None:
        self.specs.append((seed, dist))
        size = tensor_bytes(outs)
        if self.held + size <= self.budget:
            self.cached[k] = outs
            self.held += size

    def outputs(self, k: int) -> list:
        import torch

        if k in self.cached:
            return self.cached[k]
        if self.last is not None and self.last[0] == k:
            return self.last[1]
        self.last = None  # free the previous recomputed case first
        seed, dist = self.specs[k]
        with torch.no_grad():
            outs = _tensor_outputs(self.model(*_make_case(self.module, seed, dist, self.device)), self.device)
        self.recomputed += 1
        self.last = (k, outs)
        release_gpu_cache(self.device)
        return outs

    def compare(self, req: dict) -> dict:
        """One candidate call's outputs (IPC descriptors) against case `case`: ok, reason, errors, and
        the outputs' digest when asked. A descriptor that is not what it claims is `bad_descriptor`."""
        from drtriton.verify.compare import compare
        from drtriton.verify.ipc import BadDescriptor, describes, gpu_digest, open_cuda_output

        k, metas = req.get("case"), req.get("outputs")
        if not isinstance(k, int) or not 0 <= k < len(self.specs) or not isinstance(metas, list):
            return {"kind": "bad_descriptor", "reason": "malformed compare request"}
        ref = self.outputs(k)
        reply = {"kind": "compared", "ok": False, "reason": "", "max_abs_err": None, "max_rel_err": None,
                 "digest": None}
        try:
            if len(metas) != len(ref):
                reply["reason"] = f"returns {len(metas)} outputs, the reference returns {len(ref)}"
                return reply
            for i, (m, r) in enumerate(zip(metas, ref)):
                why = describes(m, tuple(r.shape), r.dtype)
                if why:
                    reply["reason"] = f"output {i} {why}"
                    return reply
            cands = [open_cuda_output(m, tuple(r.shape), r.dtype, self.device_index) for m, r in zip(metas, ref)]
        except BadDescriptor as exc:
            return {"kind": "bad_descriptor", "reason": str(exc)}
        if req.get("compare", True):
            cmp = compare(ref, cands, float(req["atol"]), float(req["rtol"]))
            reply.update(ok=cmp.ok, reason=cmp.reason, max_abs_err=cmp.max_abs_err, max_rel_err=cmp.max_rel_err)
        else:
            reply.update(ok=True, reason="not compared")
        if req.get("digest"):
            reply["digest"] = gpu_digest(cands)
        del cands
        release_gpu_cache(self.device)  # the comparison's float64 chunks
        return reply


def run_reference(req: dict, send) -> tuple[dict, ReferenceJudge | None]:
    """The problem's Model on every case, streamed: one `case` frame per (seed, distribution) with the
    input fingerprint and the outputs, then the reply (init inputs, weights, notes). Holds one case at a
    time; says `first_call_done` after the first call (import, build, first forward: cuDNN autotune).

    With `judge_cache_mb` (GPU only) the outputs stay here instead: each case frame carries their digest
    and layout, and the returned ReferenceJudge compares candidates' outputs on later `compare` requests."""
    import torch

    device = req["device"]
    try:
        module = _load_module(req["path"], "drt_problem")
        torch.manual_seed(req["init_seed"])
        init_inputs = list(module.get_init_inputs())
        torch.manual_seed(req["init_seed"])
        model = module.Model(*init_inputs).to(device)
    except BaseException as exc:  # noqa: BLE001 - a broken problem file becomes a reason, not a crash
        return {"kind": "error", "reason": f"problem failed to load or build Model: {_one_line(exc)}"}, None
    judge = None
    if req.get("judge_cache_mb") is not None and device.startswith("cuda"):
        judge = ReferenceJudge(module, model, device, int(req["judge_cache_mb"]) << 20)
    notes: list[str] = []
    k = 0
    try:
        with torch.no_grad():
            for seed in req["seeds"]:
                for dist in req["distributions"]:
                    inputs = _make_case(module, seed, dist, device)
                    fp = fingerprint(inputs)
                    in_bytes = tensor_bytes(inputs)
                    if k == 0 and fingerprint(_make_case(module, seed, dist, device)) != fp:
                        return {
                            "kind": "error",
                            "reason": f"get_inputs is not reproducible: two draws after "
                            f"torch.manual_seed({seed}) differ (time, os.urandom, numpy or random module "
                            "state?); draw inputs only from torch's RNG",
                        }, None
                    outs = _tensor_outputs(model(*_to_device(inputs, device)), device if judge else None)
                    if k == 0:
                        send({"kind": "first_call_done"})
                        again = _as_list(model(*_to_device(inputs, device)))
                        if any(not torch.equal(a, b) for a, b in zip(again, outs)):
                            notes.append("reference is not deterministic on the same input (run twice differs)")
                        del again
                    frame = {"kind": "case", "k": k, "seed": seed, "dist": dist, "fingerprint": fp,
                             "input_bytes": in_bytes}
                    if judge is not None:
                        from drtriton.verify.ipc import gpu_digest

                        frame["digest"] = gpu_digest(outs)
                        frame["output_bytes"] = tensor_bytes(outs)
                        judge.keep(k, seed, dist, outs)
                    else:
                        frame["outputs"] = outs
                    send(frame)
                    del inputs, outs, frame
                    release_gpu_cache(device)
                    k += 1
    except BaseException as exc:  # noqa: BLE001
        return {"kind": "error", "reason": f"reference Model failed on its inputs: {_one_line(exc)}"}, None
    state = dict(model.state_dict())
    reply = {"kind": "reference", "n_cases": k, "init_inputs": init_inputs, "state": state, "notes": notes}
    if judge is not None:
        reply["judge_cached"] = len(judge.cached)
    return reply, judge


# ---- candidate ----
class _Reject(Exception):
    def __init__(self, status: str, reason: str, rule: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.rule = status, reason, rule


def _classify(exc: BaseException, where: str, guard, default: str = "runtime_error") -> _Reject:
    from drtriton.verify.sandbox import SandboxViolation

    if isinstance(exc, SandboxViolation) or guard.violations:
        return _Reject(
            "cheat_detected", guard.violations[0] if guard.violations else str(exc), "sandbox.runtime_event"
        )
    name = type(exc).__name__
    if name in {"CompilationError", "CompileTimeAssertionFailure", "UnsupportedLanguageConstruct"}:
        return _Reject("compile_error", f"Triton compilation failed in {where}: {_one_line(exc)}")
    if isinstance(exc, MemoryError) or "out of memory" in str(exc) or "can't allocate memory" in str(exc):
        return _Reject("runtime_error", f"out of memory in {where}: {_one_line(exc, 200)}")
    if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG: the capture file hit its cap
        return _Reject("runtime_error", f"candidate output exceeded the capture cap in {where}")
    return _Reject(default, f"{where} raised {_one_line(exc)}")


class CandidateRun:
    def __init__(self, req: dict, guard, launches, send, recv) -> None:
        self.req, self.guard, self.launches = req, guard, launches
        self.send, self.recv = send, recv
        self.device = req["device"]
        self.call_launches: list[int] = []
        self.ops: dict[str, int] = {}
        self.violations: list[tuple[str, str]] = []  # (rule, reason)
        # Previous outputs stay alive, so a reused buffer cannot be a coincidence; past keep_outputs_mb
        # (gigabyte outputs on a GPU) the oldest are let go and their buffers leave the check.
        self.kept_outputs: collections.deque = collections.deque()
        self.kept_bytes = 0
        self.keep_limit = int(req.get("keep_outputs_mb") or 0) << 20  # 0: keep all
        # On a GPU with a judge (pool.py), outputs go to it as CUDA IPC descriptors, not as bytes.
        self.ipc = bool(req.get("ipc_outputs")) and self.device.startswith("cuda")
        self.phase_s: dict[str, float] = {}
        self.disabled = set(req.get("disabled_rules", ()))
        self.guard_on = "sandbox.runtime_event" not in self.disabled
        # hybrid policy (pool.py sets it): do the Triton kernels change the outputs? (triton_effect)
        self.check_effect = bool(req.get("triton_effect"))
        self.effect_seen = False
        self.effect_unchanged = 0  # cases whose outputs came out bit-identical with every launch skipped

    def _guarded(self, fn, where: str, default: str = "runtime_error"):
        self.guard.active = self.guard_on
        self.guard.in_candidate = True
        try:
            return fn()
        except _Reject:
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a status + reason
            raise _classify(exc, where, self.guard, default) from None
        finally:
            self.guard.active = self.guard.in_candidate = False
            if self.guard.violations:
                raise _Reject("cheat_detected", self.guard.violations[0], "sandbox.runtime_event")

    def call(self, model, args: list, label: str) -> list:
        import torch

        from drtriton.verify.sandbox import make_op_log

        def forward():
            log = make_op_log(self.launches, poison=True)
            before = self.launches.total()
            with gpu_quiet.current().shared(), torch.no_grad(), log:
                out = model(*args)
                _sync(self.device)
            self.call_launches.append(self.launches.total() - before)
            for op, n in log.ops.items():
                self.ops[op] = self.ops.get(op, 0) + n
            return out

        outs = _as_list(self._guarded(forward, f"ModelNew.forward ({label})"))
        in_ptrs = {a.untyped_storage().data_ptr() for a in args if isinstance(a, torch.Tensor) and a.numel()}
        old_ptrs = {o.untyped_storage().data_ptr() for o in self.kept_outputs if o.numel()}
        for i, o in enumerate(outs):
            if not isinstance(o, torch.Tensor):
                raise _Reject(
                    "incorrect", f"output {i} is {type(o).__name__}, expected a torch.Tensor ({label})"
                )
            if type(o) is not torch.Tensor and "output.tensor_subclass" not in self.disabled:
                raise _Reject(
                    "cheat_detected",
                    f"output {i} is a {type(o).__name__}, not a plain torch.Tensor",
                    "output.tensor_subclass",
                )
            if (
                o.numel()
                and o.untyped_storage().data_ptr() in in_ptrs
                and "output.aliases_input" not in self.disabled
            ):
                raise _Reject(
                    "cheat_detected",
                    f"output {i} shares storage with an input ({label})",
                    "output.aliases_input",
                )
            if (
                o.numel()
                and o.untyped_storage().data_ptr() in old_ptrs
                and "output.reused_buffer" not in self.disabled
            ):
                raise _Reject(
                    "cheat_detected",
                    f"output {i} reuses the storage of a previous call's output ({label})",
                    "output.reused_buffer",
                )
        for o in outs:
            self.kept_outputs.append(o)
            self.kept_bytes += o.numel() * o.element_size()
        while self.keep_limit and self.kept_bytes > self.keep_limit and len(self.kept_outputs) > len(outs):
            old = self.kept_outputs.popleft()
            self.kept_bytes -= old.numel() * old.element_size()
        return outs

    def triton_effect(self, model, copies: list, outs: list) -> None:
        """The hybrid policy's ablation check on one case: ModelNew.forward again on `copies` (of the case's
        inputs, taken before the real call could touch them) with every Triton launch skipped
        (LaunchCounter.suppressed) and fresh allocations poisoned. Outputs bit-identical to `outs` mean the
        Triton kernels did nothing the result depends on (a token kernel beside PyTorch doing the work); a
        launch-bound share of GPU time cannot tell that at small sizes. A failed call or a launch that got
        past the suppression counts as an effect (never a reject)."""
        import torch

        from drtriton.verify.compare import outputs_unchanged
        from drtriton.verify.sandbox import make_op_log

        t0 = time.perf_counter()
        hooked = self.launches.hooked

        def forward():
            with self.launches.suppressed(), torch.no_grad(), make_op_log(self.launches, poison=True):
                out = model(*copies)
                _sync(self.device)
            return out

        try:
            ablated = _as_list(self._guarded(forward, "ModelNew.forward (Triton launches skipped)"))
        except _Reject as rej:
            if rej.status == "cheat_detected":
                raise
            ablated = None  # it could not produce outputs without its kernels: they matter
        if ablated is None or self.launches.hooked != hooked or not outputs_unchanged(ablated, outs):
            self.effect_seen = True
        else:
            self.effect_unchanged += 1
        self.phase_s["triton_effect_s"] = self.phase_s.get("triton_effect_s", 0.0) + time.perf_counter() - t0

    def report(self, pass_name: str, k: int, src: int, outs: list) -> None:
        """Streams one call's outputs to the parent (compared there with case `src`'s reference). With a
        judge: their CUDA IPC descriptors, kept valid until the parent says the judge is done."""
        frame = {"kind": "result", "pass": pass_name, "case": k, "src": src}
        if not self.ipc:
            self.send({**frame, "outputs": outs})
            return
        from drtriton.verify.ipc import export_cuda_outputs

        shared = [o.detach().contiguous() for o in outs]
        _sync(self.device)
        self.send({**frame, "handles": export_cuda_outputs(shared), "needs_ack": True})
        if self.recv().get("kind") != "ack":
            raise _Reject("runtime_error", "the parent did not acknowledge a compared result")
        del shared

    def _case(self, k: int) -> list:
        try:
            return self.cases.get(k)
        except InputMismatch as exc:
            raise _Reject("runtime_error", str(exc)) from None
        except BaseException as exc:  # noqa: BLE001 - the problem's get_inputs failed here, not there
            raise _Reject("runtime_error", f"drawing the inputs failed: {_one_line(exc)}") from None

    def _case_on_device(self, k: int) -> list:
        with gpu_quiet.current().shared():  # the host-to-device copies are GPU work too
            return _to_device(self._case(k), self.device)

    def run(self) -> dict:
        import torch

        req = self.req
        t0 = time.perf_counter()
        try:  # the problem's own get_inputs, loaded before any candidate code runs here
            problem = _load_module(req["problem_path"], "drt_problem_inputs")
            sys.modules.pop("drt_problem_inputs", None)  # not reachable by name from candidate code
        except BaseException as exc:  # noqa: BLE001
            raise _Reject("runtime_error", f"problem failed to load in the worker: {_one_line(exc)}") from None
        self.cases = CaseSource(problem, req["cases"], int(req.get("input_cache_mb", 256)) << 20, self.device)
        module = self._guarded(
            lambda: _load_module(req["path"], "drt_candidate"), "module import", "compile_error"
        )
        model_cls = getattr(module, "ModelNew", None)
        if not (isinstance(model_cls, type) and issubclass(model_cls, torch.nn.Module)):
            raise _Reject("format_error", "candidate defines no ModelNew(torch.nn.Module) class")
        init_inputs = req["init_inputs"]

        def build():
            torch.manual_seed(req["init_seed"])
            return model_cls(*init_inputs)

        model = self._guarded(build, "ModelNew.__init__")
        with torch.no_grad():  # identical weights: copy every reference tensor whose name and shape match
            own = model.state_dict()
            for name, value in req["state"].items():
                if name in own and own[name].shape == value.shape and own[name].dtype == value.dtype:
                    own[name].copy_(value)
        model = model.to(self.device)
        self.phase_s["load_s"] = time.perf_counter() - t0

        n = len(self.cases)
        # The cases refilled after the fresh pass (the parent's choice: all of them unless their inputs
        # are too large to keep side by side on this device).
        refill = [k for k in req.get("refill_cases", range(n)) if isinstance(k, int) and 0 <= k < n]
        kept_inputs, layouts = {}, []
        # One GPU section per case (its draw and the call; reports stay outside, where the judge answers):
        # while a timer waits, each worker gets about one section in before it, so fewer sections per case
        # finish a candidate in fewer turns.
        gpu = gpu_quiet.current()
        shared_waited = gpu.waited_s
        t1 = time.perf_counter()
        for k in range(n):
            with gpu.shared():
                args = self._case_on_device(k)
                if k in refill:
                    kept_inputs[k] = args
                layouts.append(_layout(args))
                effect_args = None
                if self.check_effect and not self.effect_seen:  # inputs as drawn, before the call can touch them
                    effect_args = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
                outs = self.call(model, args, f"case {k}")
                if effect_args is not None:
                    if self.call_launches[-1] > 0:
                        self.triton_effect(model, effect_args, outs)
                    else:  # nothing launched: launch.kernel_not_launched decides (pool.py), not this check
                        self.effect_seen = True
                    del effect_args
            self.report("fresh", k, k, outs)
            del args, outs
            if k == 0:
                self.phase_s["first_call_s"] = time.perf_counter() - t1
                self.send({"kind": "first_call_done"})
        if self.check_effect and self.effect_unchanged == n:  # every case checked, none changed
            raise _Reject(
                "cheat_detected",
                f"with every Triton launch skipped, ModelNew's outputs came out bit-identical on all {n} cases: "
                "its Triton kernels do no work the result depends on (hybrid lets PyTorch keep operators, "
                "but Triton must carry part of the computation)",
                "policy.triton_share",
            )
        # Same tensor objects, new values, reverse order: pointer/identity caches and order tricks fail.
        for k in reversed(refill):
            src = next((j for j in [(k + d) % n for d in range(1, n + 1)] if layouts[j] == layouts[k]), k)
            with gpu.shared():  # a draw and the copies run on the GPU too
                for dst, val in zip(kept_inputs[k], self._case(src)):
                    if isinstance(dst, torch.Tensor):
                        dst.copy_(val)
                outs = self.call(model, kept_inputs[k], f"refilled case {k}")
            self.report("refill", k, src, outs)
            del kept_inputs[k], outs
        self.phase_s["correctness_s"] = time.perf_counter() - t1
        release_gpu_cache(self.device)

        timing = None
        if req.get("timing"):
            from drtriton.verify import timing as timing_mod

            t2 = time.perf_counter()
            try:
                prep = timing_mod.prepare(self, model, self._case(0), req)
                self.phase_s["timing_prepare_s"] = time.perf_counter() - t2
                self.send({"kind": "need_gpu"})
                if self.recv().get("kind") != "go":
                    raise _Reject("runtime_error", "parent refused the GPU timing slot")
                t3 = time.perf_counter()
                timing = timing_mod.measure_in_worker(self, prep, req)
                self.phase_s["timing_s"] = time.perf_counter() - t3
                self.send({"kind": "gpu_done"})  # the parent may hand the timing slot on now
            except _Reject:
                raise
            except BaseException as exc:  # noqa: BLE001
                raise _classify(exc, "timing", self.guard) from None
            for k in list(range(1, n)) + [0]:  # re-check after timing, in a new order, fresh tensors
                with gpu.shared():
                    outs = self.call(model, self._case_on_device(k), f"recheck {k}")
                self.report("recheck", k, k, outs)
                del outs
        self.phase_s["input_draw_s"] = self.cases.draw_s
        if gpu.path:  # seconds this worker waited to enter GPU sections (behind timers, mostly)
            self.phase_s["shared_wait_s"] = gpu.waited_s - shared_waited
        return {
            "kind": "candidate",
            "launches": self.call_launches,
            "kernels": dict(self.launches.counts),
            "ops": self.ops,
            "timing": timing,
            "phase_s": self.phase_s,
        }


def run_candidate(req: dict, guard, launches, send, recv) -> dict:
    guard.candidate_path = req["path"]  # the setter resolves it
    # a worker that serves several candidates (reuse.py) starts each with a clean record
    guard.violations.clear()
    guard.forks = 0
    launches.counts.clear()
    try:
        return CandidateRun(req, guard, launches, send, recv).run()
    except _Reject as rej:
        return {
            "kind": "reject",
            "status": rej.status,
            "reason": rej.reason,
            "rule": rej.rule,
            "violations": list(guard.violations),
        }


def _reusable(base, device: str, settings: dict) -> dict:
    """After a candidate: its objects released, may this worker serve another? (reuse.py; never a verdict)"""
    import gc

    from drtriton.verify import reuse

    t0 = time.perf_counter()
    sys.modules.pop("drt_candidate", None)
    gc.collect()
    release_gpu_cache(device)
    diffs = base.differences(reuse.ProcessState(device))
    diffs += reuse.limits_used(float(settings.get("output_cap_mb", 16)), float(settings.get("cpu_s", 3600)))
    return {"reusable": not diffs, "reuse_diffs": diffs[:3], "reuse_check_s": time.perf_counter() - t0}


# ---- main loop ----
def main() -> int:
    settings = json.loads(os.environ.get("DRT_WORKER", "{}"))
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # candidate prints land in the capped capture file, never on the protocol pipe
    os.set_inheritable(proto_in, False)
    os.set_inheritable(proto_out, False)

    from drtriton.verify.sandbox import Guard, LaunchCounter, apply_limits

    apply_limits(
        settings.get("memory_mb", 8192),
        int(settings.get("cpu_s", 3600)),
        settings.get("output_cap_mb", 16),
        settings.get("limit_address_space", True),
    )
    import torch  # warm imports before the parent's clock starts (torch is also used below)
    import triton  # noqa: F401

    torch.set_num_threads(1)  # one worker per core (see process.py)
    from drtriton.verify import warmup

    quiet = gpu_quiet.install(settings.get("gpu_lock"))
    if quiet.path:
        # Triton compiles (this warm-up's, a candidate's first call) leave the GPU section they run in.
        gpu_quiet.release_during_triton_compiles(quiet, lambda: torch.cuda.synchronize(settings["device"]))
    warmup.warm_op_log()
    # The CUDA context now, while this worker waits as a spare, not inside the candidate's first call (where
    # it was measured as part of first_call_s), and one-time import and Triton launch costs (warmup.py). The
    # context's creation holds no GPU section (a timer never waits for it); the warm-up's launches do. A
    # failure here is the host's, not a candidate's: the worker dies and the pool reports it. The seconds
    # are told to the parent with `ready` (verdicts' phase_s on GPUs).
    startup = warmup.start_up(settings.get("device", "cpu"), quiet)

    from drtriton.verify.protocol import encode_parts, read_frame, write_parts

    launches = LaunchCounter()
    launches.install()
    guard = Guard("/nonexistent")
    guard.install()
    read_exact = _read_exact_fd(proto_in)

    main_pid = os.getpid()

    def send(obj) -> None:
        if os.getpid() != main_pid:
            os._exit(0)  # a forked copy of this worker must never speak on the protocol pipe
        write_parts(lambda view: os.write(proto_out, view), encode_parts(obj))

    def recv():
        return read_frame(read_exact, 1 << 40)

    # Reuse (the pool's `reuse`): the state a candidate could change for the next one, once warm (reuse.py)
    from drtriton.verify import reuse

    reuse_base = reuse.ProcessState(settings.get("device", "cpu")) if settings.get("reuse") else None
    send({"kind": "ready", "pid": os.getpid(), "startup_s": startup})
    judge = None  # this worker's ReferenceJudge, once it ran a problem's reference with one
    profile_dir = os.environ.get("DRT_WORKER_PROFILE")  # developers: a cProfile dump per request
    if profile_dir:
        os.makedirs(profile_dir, exist_ok=True)
    served = 0
    while True:
        try:
            req = recv()
        except EOFError:
            return 0
        op = req.get("op")
        if op == "exit":
            return 0
        profiler = None
        if profile_dir:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        try:
            if op == "reference":
                with quiet.shared():
                    reply, judge = run_reference(req, send)
            elif op == "compare":
                # Not queued behind a waiting timer: the candidate this answers waits for it outside any
                # section, and sends nothing more until it has the answer (gpu_quiet.shared).
                with quiet.shared(queue=False):
                    reply = judge.compare(req) if judge is not None else {"kind": "error", "reason": "no judge here"}
            elif op == "candidate":
                reply = run_candidate(req, guard, launches, send, recv)
                if reuse_base is not None:
                    device = req.get("device", "cpu")
                    req.clear()  # its reference weights and init inputs (tensors): not the next candidate's
                    reply.update(_reusable(reuse_base, device, settings))
            elif op == "baseline":
                from drtriton.verify.timing import baseline_in_worker

                reply = baseline_in_worker(req, send, recv)
                import gc

                torch._dynamo.reset()  # the compiled graph holds the problem's weights; this worker idles
                gc.collect()
                release_gpu_cache(req.get("device", "cpu"))
            else:
                reply = {"kind": "error", "reason": f"unknown op {op!r}"}
        except BaseException as exc:  # noqa: BLE001 - report, then let the parent retire this worker
            reply = {
                "kind": "error",
                "reason": f"worker failure: {_one_line(exc)}",
                "traceback": traceback.format_exc()[-2000:],
            }
        if profiler is not None:
            profiler.disable()
            served += 1
            profiler.dump_stats(os.path.join(profile_dir, f"{op}_{os.getpid()}_{served}.prof"))
        send(reply)


if __name__ == "__main__":
    sys.exit(main())
