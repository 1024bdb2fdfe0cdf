"""GPU timing inside a candidate worker: CUDA events, L2 flush, warm-up, interleaved contestants.

Runs only on a GPU (the parent grants one timing slot per GPU at a time); on CPU the verifier reports
timing as None. Contestants: the candidate and the reference Model in eager mode, built in the
candidate's worker with the same weights and fed the same timing inputs (a different seed from every
correctness input); torch.compile(Model) is timed once per problem in a clean worker by
`baseline_in_worker` (compile_scope "problem", the default) or next to every candidate ("candidate").
Each sample: queue an L2 flush (zero a buffer of 2x L2), record start, call, record end, with no
synchronisation between samples; a separate pass of synchronised calls timed by the host clock is the
cross check.
"""

from __future__ import annotations

import contextlib
import statistics
import time

HOST_SLACK_MS = 0.1  # launch + sync latency the host clock may add over the event clock
WARMUP_S = 0.1  # wall time of back-to-back calls before the timed samples (clock ramp; do_bench: 25 ms)
QUIET_WAIT_S = 20.0  # how long a timing waits for other workers' GPU work to finish (gpu_quiet.py)
PAD_FACTOR = 1.5  # the GPU pad queued before each sample, as a multiple of the call's host launch time
PAD_MAX_MS = 5.0  # longest pad: past it a call is host-bound whatever the pad (its host clock says so)
NOT_QUIET = "timed while other GPU work was still running after {:.0f} s: times may include it"


def _time_quietly(contestants: dict, cfg: dict, device, notes: list[str], phases: dict | None = None) -> dict:
    """time_interleaved with the GPU to itself for the timed samples (gpu_quiet.py), or with a note saying
    it was not; `phases` gets the seconds waited for the GPU alone (quiet_wait_s) and held it alone
    (quiet_hold_s)."""
    from drtriton.verify import gpu_quiet

    quiet = gpu_quiet.current()
    result = time_interleaved(contestants, cfg["n_timing"], cfg["warmup"], device, quiet=quiet, notes=notes)
    if phases is not None and quiet.path and quiet.last_wait_s is not None:
        phases["quiet_wait_s"] = quiet.last_wait_s
        if quiet.last_hold_s is not None:
            phases["quiet_hold_s"] = quiet.last_hold_s
    return result


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _sleep_cycles_per_ms(device) -> float:
    """torch.cuda._sleep's spin cycles per millisecond at the current clock (measured with events)."""
    import torch

    cycles = 200_000
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(cycles)
    start.record()
    torch.cuda._sleep(cycles)
    end.record()
    torch.cuda.synchronize(device)
    return cycles / max(start.elapsed_time(end), 1e-3)


def gpu_pads(launch_ms: dict[str, list[float]], device) -> dict[str, int]:
    """Spin cycles to queue before each contestant's samples: PAD_FACTOR x its median host launch time,
    at most PAD_MAX_MS (0 when it launches in under 10 us: the flush alone covers that)."""
    rate = None
    pads = {}
    for name, xs in launch_ms.items():
        ms = min(PAD_MAX_MS, PAD_FACTOR * (_median(xs) or 0.0))
        if ms < 0.01:
            pads[name] = 0
            continue
        rate = rate or _sleep_cycles_per_ms(device)
        pads[name] = int(ms * rate)
    return pads


def l2_flush_buffer(device):
    import torch

    props = torch.cuda.get_device_properties(device)
    l2 = int(getattr(props, "L2_cache_size", 0) or 50 << 20)
    # At least 256 MB (as do_bench): zeroing it keeps the GPU busy ~80 us on an H100, long enough for
    # the host to enqueue the timed call, so launch latency stays out of the event interval.
    return torch.empty(max(2 * l2, 256 << 20), dtype=torch.int8, device=device)


def time_interleaved(
    contestants: dict, n_calls: int, warmup: int, device, host_calls: int = 20, *, quiet=None, notes=None
) -> dict:
    """Times each callable n_calls times, round-robin so drifts (clocks, thermals) hit all alike.

    Every sample is queued as: L2 flush, start event, call, end event, with no host synchronisation
    between samples (as triton.testing.do_bench does). The host therefore runs ahead of the GPU and the
    events time the GPU work of each call, not the host's launch latency. (Measured on an H100: syncing
    after every sample let a ~100 us host-side launch path show up as 5-24x the true kernel time of
    4 us kernels.) A call whose host launch path takes longer than the flush runs (a candidate under
    the verifier's guard, a many-op eager Model) would still let the GPU idle inside its interval, so each
    sample is preceded by a GPU spin (torch.cuda._sleep) of PAD_FACTOR x that contestant's measured launch
    time: the GPU stays busy until the call is queued and the events time only its GPU work. The
    host-clock cross check is a separate pass of synchronised calls.

    With `quiet` (a gpu_quiet.GpuQuiet) only the pad calibration, the timed samples and the host-clock
    check hold the GPU alone: the warm-up calls and the clock ramp run before, while other workers' GPU
    work goes on (it keeps the clock up too; the caller is the GPU's only timer, by the pool's timing
    slot), and the ramp goes on while the timer waits for their sections to end, so the GPU never idles
    between ramp and samples. Every worker's GPU work stops while a timer holds the GPU or waits for it,
    so this is most of what a pool of workers on one GPU spends per timing. Workers' CUDA context
    creations hold no section (gpu_quiet.py): a timer never waits for one. `notes` gets a line when the
    GPU could not be had alone within QUIET_WAIT_S.
    """
    import torch

    flush = l2_flush_buffer(device)
    for fn in contestants.values():
        for _ in range(warmup):
            fn()
    # Then keep the GPU busy for WARMUP_S of wall time: an idle H100 drops its SM clock to 345 MHz
    # (from 1980) and a few thousand microsecond-scale calls do not bring it back; timed at the low
    # clock, 4 us kernels measured 5-40x their do_bench time (H100, session 6).
    # The same loop measures each contestant's host launch time (the call returns once its work is queued).
    names = list(contestants)
    launch_ms: dict[str, list[float]] = {name: [] for name in names}

    def ramp() -> None:
        for name, fn in contestants.items():
            flush.zero_()
            t0 = time.perf_counter()
            fn()
            launch_ms[name].append((time.perf_counter() - t0) * 1e3)
        torch.cuda.synchronize(device)

    deadline = time.perf_counter() + WARMUP_S
    while time.perf_counter() < deadline:
        ramp()
    section = contextlib.nullcontext(True) if quiet is None else quiet.exclusive(QUIET_WAIT_S, busy=ramp)
    with section as alone:
        if not alone and notes is not None:
            notes.append(NOT_QUIET.format(QUIET_WAIT_S))
        pad = gpu_pads(launch_ms, device)
        events, host = _timed_calls(contestants, n_calls, host_calls, flush, pad, device)
    samples = {name: [s.elapsed_time(e) for s, e in events[name]] for name in names}
    return {
        name: {
            "samples": samples[name],
            "median": _median(samples[name]),
            "host_median": _median(host[name]),
            "launch_ms": _median(launch_ms[name]),
        }
        for name in names
    }


def _timed_calls(contestants: dict, n_calls: int, host_calls: int, flush, pad: dict, device) -> tuple:
    """time_interleaved's part with the GPU alone: the interleaved samples (CUDA event pairs per
    contestant) and the host-clock check (milliseconds per contestant)."""
    import torch

    names = list(contestants)
    events = {name: [] for name in names}
    for i in range(n_calls):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            if pad[name]:
                torch.cuda._sleep(pad[name])
            flush.zero_()
            start.record()
            contestants[name]()
            end.record()
            events[name].append((start, end))
    torch.cuda.synchronize(device)
    # Host-clock cross check from an idle device: wall time of one call, launch latency included.
    # Work hidden on other streams or on the host (a candidate that computes on the CPU) shows up here.
    host = {name: [] for name in names}
    for _ in range(max(1, min(host_calls, n_calls))):
        for name in names:
            torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            contestants[name]()
            torch.cuda.synchronize(device)
            host[name].append((time.perf_counter() - t0) * 1e3)
    return events, host


# The library calls `mixed` allows (DESIGN §4): convolutions (every conv and conv_transpose reaches
# aten::convolution) and matrix products. Their GPU time is left out of the hybrid share's denominator: a
# conv + fused-epilogue solution is honest under mixed, so it must not fail hybrid for having a big conv.
LIBRARY_OPS = frozenset({"aten::convolution", "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm",
                         "aten::addbmm"})


def _device_time(evt) -> float:
    return float(getattr(evt, "device_time_total", 0.0) or getattr(evt, "cuda_time_total", 0.0) or 0.0)


def library_device_time(events) -> float:
    """GPU time under the outermost LIBRARY_OPS calls of a profile's events (nested ones counted once)."""
    total = 0.0
    for evt in events:
        if evt.name not in LIBRARY_OPS:
            continue
        parent, nested = getattr(evt, "cpu_parent", None), False
        while parent is not None and not nested:
            nested = parent.name in LIBRARY_OPS
            parent = getattr(parent, "cpu_parent", None)
        if not nested:
            total += _device_time(evt)
    return total


def triton_share(fn, kernel_names: set[str], device, calls: int = 5) -> float | None:
    """Share of GPU kernel time in kernels named like the candidate's Triton kernels (profiler), over
    the GPU time outside the conv/matmul library calls that `mixed` allows (LIBRARY_OPS)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    if not kernel_names:
        return 0.0
    fn()
    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize(device)
    total = ours = 0.0
    for evt in prof.key_averages():
        if getattr(evt, "device_type", None) is not None and "CPU" in str(evt.device_type):
            continue  # CPU ops: their self device time is 0 anyway; kernels are the device-side events
        t = float(getattr(evt, "self_device_time_total", 0.0) or getattr(evt, "self_cuda_time_total", 0.0))
        if t <= 0:
            continue
        total += t
        if any(evt.key.startswith(k) for k in kernel_names):
            ours += t
    if total <= 0:
        return None
    rest = total - library_device_time(prof.events())
    if rest < ours:
        # Inconsistent attribution (library time counted beyond the kernels it launched): on the H100,
        # two conv programs got rest <= 0 with this profile. Fall back to the plain share, which can only
        # reject more, never accept a token kernel.
        return ours / total
    return min(1.0, ours / rest)


SHUFFLE_LIMIT = 1 << 24  # elements: past this the timing inputs are rotated, not permuted


def _timing_inputs(case: list, seed: int, device) -> list:
    """Case 0's values, shuffled with the timing seed: same distribution, never seen in correctness."""
    import torch

    out = []
    for x in case:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel() > 1:
            g = torch.Generator(device=x.device).manual_seed(seed)  # on the GPU when the case is there
            if x.numel() <= SHUFFLE_LIMIT:
                perm = torch.randperm(x.numel(), generator=g, device=x.device)
                x = x.reshape(-1)[perm].reshape(x.shape)
            else:  # a permutation index of 1.6G elements is 12.8 GB: rotate by a random offset instead
                shift = int(torch.randint(1, x.numel(), (1,), generator=g, device=x.device))
                x = x.reshape(-1).roll(shift).reshape(x.shape)
            out.append(x.to(device))  # already a fresh tensor
            continue
        out.append(x.clone().to(device) if isinstance(x, torch.Tensor) else x)
    return out


def _compile_call(reference, inputs, notes: list):
    """torch.compile(reference) called once (compilation happens here, outside any GPU lock)."""
    import torch

    try:
        compiled = torch.compile(reference)

        def compiled_call():
            with torch.no_grad():
                return compiled(*inputs)

        compiled_call()
        return compiled_call
    except Exception as exc:  # noqa: BLE001 - an uncompilable reference gets compile_ms None, noted
        notes.append(f"torch.compile baseline failed: {type(exc).__name__}: {str(exc)[:120]}")
        return None


def _build_reference(req: dict, device):
    """(problem module, Model built with the reference's seed and init inputs) in this worker."""
    import torch

    from drtriton.verify.worker import _load_module

    torch.manual_seed(req["init_seed"])
    problem = _load_module(req["problem_path"], "drt_problem_timing")
    torch.manual_seed(req["init_seed"])
    return problem, problem.Model(*req["init_inputs"]).to(device)


def prepare(run, model, case0: list, req: dict) -> dict:
    """Builds the contestants (and, when the config asks for it per candidate, compiles the
    torch.compile baseline) before the GPU timing lock is taken: inductor compilation takes seconds and
    must not serialise the pool."""
    import torch

    device = run.device
    cfg = req["timing_config"]
    _, reference = _build_reference(req, device)
    inputs = _timing_inputs(case0, req["timing_seed"], device)

    def candidate():
        with torch.no_grad():
            return model(*inputs)

    def eager():
        with torch.no_grad():
            return reference(*inputs)

    contestants = {"candidate": candidate, "eager": eager}
    notes: list[str] = []
    if cfg.get("time_compile_baseline", True) and cfg.get("compile_scope", "problem") == "candidate":
        compiled_call = _compile_call(reference, inputs, notes)
        if compiled_call is not None:
            contestants["compile"] = compiled_call
    return {"contestants": contestants, "candidate": candidate, "notes": notes}


def baseline_in_worker(req: dict, send, recv) -> dict:
    """The per-problem baselines, in a worker that never ran candidate code: eager Model and
    torch.compile(Model) on the timing inputs, the same protocol as a candidate's timing. torch.compile
    is compiled before the GPU slot is asked for; the slot is held only while timing."""
    import torch

    from drtriton.verify.worker import CaseSource, InputMismatch

    device = req["device"]
    cfg = req["timing_config"]
    problem, reference = _build_reference(req, device)
    try:  # case 0 drawn here from its seed (as in a candidate's worker), checked by its fingerprint
        case0 = CaseSource(problem, [req["case"]], 0, device).get(0)
    except InputMismatch as exc:
        return {"kind": "error", "reason": str(exc)}
    inputs = _timing_inputs(case0, req["timing_seed"], device)

    def eager():
        with torch.no_grad():
            return reference(*inputs)

    notes: list[str] = []
    contestants = {"eager": eager}
    t0 = time.perf_counter()
    if cfg.get("time_compile_baseline", True):
        compiled_call = _compile_call(reference, inputs, notes)
        if compiled_call is not None:
            contestants["compile"] = compiled_call
    compile_s = time.perf_counter() - t0
    send({"kind": "need_gpu"})
    if recv().get("kind") != "go":
        return {"kind": "error", "reason": "parent refused the GPU timing slot"}
    t1 = time.perf_counter()
    phases = {"compile_s": compile_s}
    result = _time_quietly(contestants, cfg, device, notes, phases)
    phases["timing_s"] = time.perf_counter() - t1
    # The parent may hand the timing slot on now, not after this worker's cleanup (torch._dynamo.reset and
    # a gc.collect over Inductor's heap in worker.main, before the reply is sent).
    send({"kind": "gpu_done"})
    return {
        "kind": "baseline",
        "eager_ms": result["eager"]["median"],
        "eager_samples": result["eager"]["samples"],
        "compile_ms": result["compile"]["median"] if "compile" in result else None,
        "compile_samples": result["compile"]["samples"] if "compile" in result else [],
        "notes": notes,
        "phase_s": phases,
    }


def measure_in_worker(run, prep: dict, req: dict) -> dict:
    """Called by worker.CandidateRun holding this GPU's timing lock; returns Timing fields as plain data."""
    import torch

    from drtriton.verify.worker import _Reject

    device, cfg = run.device, req["timing_config"]
    contestants, candidate, notes = prep["contestants"], prep["candidate"], prep["notes"]
    launches_before = run.launches.total()
    run.guard.active, run.guard.in_candidate = run.guard_on, True
    try:
        result = _time_quietly(contestants, cfg, device, notes, run.phase_s)
    finally:
        run.guard.active = run.guard.in_candidate = False
    if run.guard.violations:
        raise _Reject("cheat_detected", run.guard.violations[0], "sandbox.runtime_event")
    timed_launches = run.launches.total() - launches_before
    if timed_launches < cfg["n_timing"]:
        raise _Reject(
            "cheat_detected",
            f"only {timed_launches} Triton launches in {cfg['n_timing']} timed calls",
            "launch.kernel_not_launched",
        )
    # The profiler costs about a second under the lock: measured where the policy needs it (hybrid).
    share = (
        triton_share(candidate, set(run.launches.counts), device) if cfg.get("policy") == "hybrid" else None
    )
    cand = result["candidate"]
    host_agrees = None
    if cand["median"] is not None and cand["host_median"] is not None:
        host_agrees = cand["host_median"] <= 1.5 * cand["median"] + HOST_SLACK_MS
    return {
        "candidate_ms": cand["median"],
        "eager_ms": result["eager"]["median"],
        "compile_ms": result["compile"]["median"] if "compile" in result else None,
        "candidate_samples": cand["samples"],
        "eager_samples": result["eager"]["samples"],
        "compile_samples": result["compile"]["samples"] if "compile" in result else [],
        "compile_scope": "candidate" if "compile" in result else None,
        "host_ms": cand["host_median"],
        "host_agrees": host_agrees,
        "triton_share": share,
        "n_calls": cfg["n_timing"],
        "notes": notes,
        "gpu": torch.cuda.get_device_name(device),
    }
