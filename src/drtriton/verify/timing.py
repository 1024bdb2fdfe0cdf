"""GPU timing inside a candidate worker: CUDA events, L2 flush, warm-up, interleaved contestants.

Runs only on a GPU (the parent grants one timing slot per GPU at a time); on CPU the verifier reports
timing as None. Contestants: the candidate, the reference Model in eager mode and torch.compile(Model),
all built here with the same weights and fed the same timing inputs (a different seed from every
correctness input). Each sample: queue an L2 flush (zero a buffer of 2x L2), record start, call,
record end, synchronise; a second call timed by the host clock from an idle device is the cross check.
"""

from __future__ import annotations

import statistics
import time

HOST_SLACK_MS = 0.1  # launch + sync latency the host clock may add over the event clock


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def l2_flush_buffer(device):
    import torch

    props = torch.cuda.get_device_properties(device)
    l2 = int(getattr(props, "L2_cache_size", 0) or 50 << 20)
    # At least 256 MB (as do_bench): zeroing it keeps the GPU busy ~80 us on an H100, long enough for
    # the host to enqueue the timed call, so launch latency stays out of the event interval.
    return torch.empty(max(2 * l2, 256 << 20), dtype=torch.int8, device=device)


def time_interleaved(contestants: dict, n_calls: int, warmup: int, device) -> dict[str, dict]:
    """Times each callable n_calls times, round-robin so drifts (clocks, thermals) hit all alike."""
    import torch

    flush = l2_flush_buffer(device)
    for fn in contestants.values():
        for _ in range(warmup):
            fn()
    torch.cuda.synchronize(device)
    samples = {name: [] for name in contestants}
    host = {name: [] for name in contestants}
    names = list(contestants)
    for i in range(n_calls):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            fn = contestants[name]
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            # The flush is queued right before the start event and NOT waited for: while the GPU clears
            # L2, the host enqueues the call, so the events time the GPU work of the call rather than
            # the host's launch latency (as triton.testing.do_bench does; measured on an H100: syncing
            # here inflated 4 us kernels to ~60 us).
            flush.zero_()
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            samples[name].append(start.elapsed_time(end))
            # Host-clock cross check on a separate call from an idle device: wall time of the call,
            # launch latency included. Work hidden on other streams or the host shows up here only.
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize(device)
            host[name].append((time.perf_counter() - t0) * 1e3)
    return {
        name: {"samples": samples[name], "median": _median(samples[name]), "host_median": _median(host[name])}
        for name in names
    }


def triton_share(fn, kernel_names: set[str], device, calls: int = 5) -> float | None:
    """Share of GPU kernel time in kernels named like the candidate's Triton kernels (profiler)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    if not kernel_names:
        return 0.0
    fn()
    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize(device)
    total = ours = 0.0
    for evt in prof.key_averages():
        t = float(getattr(evt, "self_device_time_total", 0.0) or getattr(evt, "self_cuda_time_total", 0.0))
        if t <= 0:
            continue
        total += t
        if any(evt.key.startswith(k) for k in kernel_names):
            ours += t
    return ours / total if total > 0 else None


def _timing_inputs(case: list, seed: int, device) -> list:
    """Case 0's values, shuffled with the timing seed: same distribution, never seen in correctness."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = []
    for x in case:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel() > 1:
            perm = torch.randperm(x.numel(), generator=g)
            x = x.reshape(-1)[perm].reshape(x.shape)
        out.append(x.clone().to(device) if isinstance(x, torch.Tensor) else x)
    return out


def prepare(run, model, cases: list, req: dict) -> dict:
    """Builds the contestants and compiles the torch.compile baseline, before the GPU timing lock is taken
    (inductor compilation takes seconds and must not serialise the pool)."""
    import torch

    from drtriton.verify.worker import _load_module

    device = run.device
    cfg = req["timing_config"]
    torch.manual_seed(req["init_seed"])
    problem = _load_module(req["problem_path"], "drt_problem_timing")
    torch.manual_seed(req["init_seed"])
    reference = problem.Model(*req["init_inputs"]).to(device)
    inputs = _timing_inputs(cases[0], req["timing_seed"], device)

    def candidate():
        with torch.no_grad():
            return model(*inputs)

    def eager():
        with torch.no_grad():
            return reference(*inputs)

    contestants = {"candidate": candidate, "eager": eager}
    notes = []
    if cfg.get("time_compile_baseline", True):
        try:
            compiled = torch.compile(reference)

            def compiled_call():
                with torch.no_grad():
                    return compiled(*inputs)

            compiled_call()
            contestants["compile"] = compiled_call
        except Exception as exc:  # noqa: BLE001 - an uncompilable reference gets compile_ms None, noted
            notes.append(f"torch.compile baseline failed: {type(exc).__name__}")
    return {"contestants": contestants, "candidate": candidate, "notes": notes}


def measure_in_worker(run, prep: dict, req: dict) -> dict:
    """Called by worker.CandidateRun holding this GPU's timing lock; returns Timing fields as plain data."""
    import torch

    from drtriton.verify.worker import _Reject

    device, cfg = run.device, req["timing_config"]
    contestants, candidate, notes = prep["contestants"], prep["candidate"], prep["notes"]
    launches_before = run.launches.total()
    run.guard.active, run.guard.in_candidate = run.guard_on, True
    try:
        result = time_interleaved(contestants, cfg["n_timing"], cfg["warmup"], device)
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
        "host_ms": cand["host_median"],
        "host_agrees": host_agrees,
        "triton_share": share,
        "n_calls": cfg["n_timing"],
        "notes": notes,
        "gpu": torch.cuda.get_device_name(device),
    }
