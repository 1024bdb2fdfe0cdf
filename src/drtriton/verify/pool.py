"""VerifierPool: verify candidates concurrently in sandboxed workers; `verify()` for one candidate.

    with VerifierPool(VerifyConfig(), workers=4) as pool:
        verdicts = pool.verify_many([(problem_src, candidate_src), ...])

Compilation and correctness run in parallel, one fresh worker per candidate (pre-spawned so the
interpreter start overlaps other work); GPU timing is serialised per GPU by a lock the worker must ask
for. The reference runs in a separate, reusable worker; its outputs stream to the parent one case per
frame and are cached per problem (in memory within `ref_memory_mb`, else in a private spill file). No
inputs cross a pipe: each worker draws them from (seed, distribution) and checks the reference's
fingerprint. A candidate's outputs stream back one call per frame and are compared as they arrive.

On a GPU (gpu_judge, the default there) the reference worker stays alive as the problem's judge: the
reference outputs stay on the GPU (recomputed past its share of GPU memory), each candidate call sends
CUDA IPC descriptors of its outputs, and the judge compares them on the GPU and answers with the
comparison and a digest. Nothing of gigabyte-sized KernelBench outputs crosses a pipe; the candidate's
process still never shares memory with the reference outputs (only the judge maps the candidate's).
"""

from __future__ import annotations

import atexit
import collections
import hashlib
import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from drtriton.util.provenance import Provenance
from drtriton.verify.cache import VerdictCache, cache_key
from drtriton.verify.compare import Comparison, compare, outputs_digest
from drtriton.verify.config import VerifyConfig
from drtriton.verify import reuse as reuse_state
from drtriton.verify.process import WorkerCrash, WorkerProcess, WorkerTimeout, ZygoteClient
from drtriton.verify.rules import RULES, check_static, has_model_new, parse_candidate
from drtriton.verify.sandbox import policy_violations
from drtriton.verify.verdict import Status, Timing, Verdict
from drtriton.verify.worker import tensor_bytes

_REF_CACHE_SIZE = 32  # problems whose reference outputs the pool keeps
_REF_CACHE_BYTES = 32 << 30  # ... and at most this many bytes of them (memory and spill files together)
MEMORY_FLOOR_MB = 8192  # a worker's cap is never below this by default
HOST_MEMORY_SHARE = 0.8  # of physical memory, split over a host's concurrent GPU workers


def physical_memory_mb() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) >> 20
    except (ValueError, OSError):
        return MEMORY_FLOOR_MB


def worker_memory_mb(config_mb: int, device: str, concurrent: int) -> int:
    """A worker's memory cap: `config_mb` when set; else 8 GB on CPU, and on a GPU host
    max(8 GB, 80% of physical memory / concurrent workers), since KernelBench references at their
    sizes hold gigabytes of host tensors (inputs as drawn, outputs on their way to the parent)."""
    if config_mb:
        return config_mb
    if device == "cpu":
        return MEMORY_FLOOR_MB
    return max(MEMORY_FLOOR_MB, int(HOST_MEMORY_SHARE * physical_memory_mb() / max(1, concurrent)))


class _Budget:
    """Bytes of reference outputs the parent may hold in memory, shared by a pool's problems."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            if self.used + n > self.limit:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.used -= n


def _release(budget: _Budget, held: list, path: str) -> None:
    budget.give(held[0])
    try:
        os.unlink(path)
    except OSError:
        pass


class ReferenceOutputs:
    """One problem's reference outputs, case by case, held by the parent only: in memory while the
    pool's budget allows, else appended to a file in the pool's private (0700) spill folder and read
    back one case at a time for a comparison. Memory and file are released when the last holder (the
    pool's cache, a candidate being judged) drops this object."""

    def __init__(self, spill_dir: str, budget: _Budget) -> None:
        self.specs: list[dict] = []  # per case: seed, dist, fingerprint (sent to candidate workers)
        self.digests: list[str] = []  # per case: outputs_digest (gpu_digest with a judge) of the outputs
        self.input_bytes: list[int] = []  # per case: bytes of the inputs get_inputs draws
        self.judge: _JudgeWorker | None = None  # on a GPU: the reference worker that holds the outputs
        self.judged_bytes = 0  # output bytes the judge holds or recomputes (none cross to the parent)
        self._ram: dict[int, list] = {}
        self._spilled: dict[int, list[tuple[int, int, str, list[int]]]] = {}
        self._path = os.path.join(spill_dir, f"ref_{uuid.uuid4().hex}.bin")
        self._held = [0]
        self._budget = budget
        self.ram_bytes = self.spilled_bytes = 0
        self._lock = threading.Lock()
        weakref.finalize(self, _release, budget, self._held, self._path)

    def __len__(self) -> int:
        return len(self.specs)

    def add(self, msg: dict) -> None:
        """Stores one streamed `case` frame of the reference worker (which sends them in order). A frame
        from a judging reference worker (GPU) carries the outputs' digest and size, not the outputs."""
        import torch

        outs = msg.get("outputs")
        if int(msg.get("k", -1)) != len(self.specs) or not (isinstance(outs, list) or "digest" in msg):
            raise ValueError(f"reference worker sent case {msg.get('k')!r} out of order")
        if outs is not None and not all(isinstance(o, torch.Tensor) for o in outs):
            raise ValueError("reference worker sent a non-tensor output")
        k = len(self.specs)
        self.specs.append({"seed": msg["seed"], "dist": msg["dist"], "fingerprint": str(msg["fingerprint"])})
        self.input_bytes.append(int(msg.get("input_bytes") or 0))
        if outs is None:
            self.digests.append(str(msg["digest"]))
            self.judged_bytes += int(msg.get("output_bytes") or 0)
            return
        self.digests.append(outputs_digest(outs))
        size = tensor_bytes(outs)
        if self._budget.take(size):
            self._held[0] += size
            self.ram_bytes += size
            self._ram[k] = outs
            return
        from drtriton.verify.protocol import _tensor_bytes

        entries = []
        with open(self._path, "ab") as fh:
            os.chmod(self._path, 0o600)
            for o in outs:
                t = o.contiguous()
                entries.append((fh.tell(), t.numel() * t.element_size(), str(t.dtype).removeprefix("torch."),
                                list(t.shape)))
                fh.write(_tensor_bytes(t))
        self._spilled[k] = entries
        self.spilled_bytes += size

    def outputs(self, k: int) -> list:
        """Case k's reference outputs (from memory, or read back from the spill file)."""
        import torch

        if k in self._ram:
            return self._ram[k]
        out = []
        with self._lock, open(self._path, "rb") as fh:
            for offset, nbytes, dtype, shape in self._spilled[k]:
                buf = bytearray(nbytes)
                fh.seek(offset)
                fh.readinto(buf)
                flat = torch.frombuffer(buf, dtype=torch.uint8) if nbytes else torch.empty(0, dtype=torch.uint8)
                out.append(flat.view(getattr(torch, dtype)).reshape(shape))
        return out

    def nbytes(self) -> int:
        return self.ram_bytes + self.spilled_bytes


class JudgeFailure(RuntimeError):
    """The judge worker could not compare a candidate's outputs (it crashed, timed out or errored)."""


class _JudgeWorker:
    """A reference worker kept alive on a GPU as its problem's judge (worker.ReferenceJudge): candidates'
    outputs are compared there, mapped through CUDA IPC, one request at a time. Closed when the last
    holder (the pool's reference cache, a candidate being judged) lets go of it."""

    def __init__(self, worker: WorkerProcess, timeout_s: float) -> None:
        self.worker, self.timeout_s = worker, timeout_s
        self.lock = threading.Lock()
        self.broken = ""  # why it can no longer judge ("" while it can)
        weakref.finalize(self, worker.close)

    def compare(self, case: int, handles, atol: float, rtol: float, *, digest: bool, compare: bool) -> dict:
        req = {"op": "compare", "case": case, "outputs": handles, "atol": atol, "rtol": rtol,
               "digest": digest, "compare": compare}
        t0 = time.monotonic()
        with self.lock:
            lock_wait_s = time.monotonic() - t0  # other candidates of this problem being judged first
            if self.broken:
                raise JudgeFailure(self.broken)
            try:
                reply = self.worker.request(req, self.timeout_s)
            except (WorkerTimeout, WorkerCrash) as exc:
                self.broken = f"the judge worker failed while comparing: {exc}"
                raise JudgeFailure(self.broken) from None
            if reply.get("kind") not in ("compared", "bad_descriptor"):
                self.broken = f"the judge worker failed while comparing: {reply.get('reason')}"
                self.worker.kill()
                raise JudgeFailure(self.broken)
            return {**reply, "lock_wait_s": lock_wait_s}


class _Judge:
    """Compares a candidate's streamed results with the reference as they arrive (parent side): keeps
    per-case comparisons and output digests, never the candidate's outputs. On a GPU with a judge
    worker the results are IPC descriptors and the comparison happens there."""

    PASSES = ("fresh", "refill", "recheck")

    def __init__(self, ref: ReferenceOutputs, atol: float, rtol: float, refills: int | None = None) -> None:
        self.ref, self.atol, self.rtol = ref, atol, rtol
        self.refills = len(ref) if refills is None else refills  # cases the worker was told to refill
        self.fresh: list[Comparison | None] = [None] * len(ref)
        self.fresh_digests: list[str | None] = [None] * len(ref)
        self.counts = {p: 0 for p in self.PASSES}
        self.stale: tuple[str, int, Comparison] | None = None  # first refill/recheck failure
        self.judge_s = 0.0  # seconds spent judging results (a judge worker's lock and comparisons included)
        self.judge_lock_s = 0.0  # ... of which waiting for the judge worker's lock
        self.judge_requests = 0  # comparisons and digests asked of a judge worker

    def _check(self, src: int, msg: dict, want_digest: bool, want_compare: bool) -> tuple[Comparison, str | None]:
        """Case `src`'s comparison (or a placeholder when not wanted) and the outputs' digest."""
        if not (want_digest or want_compare):
            return Comparison(True, "not compared"), None
        if self.ref.judge is not None and "handles" not in msg:
            raise ValueError("result frame without IPC handles, but this problem's outputs are on its judge")
        if "handles" in msg:
            judge = self.ref.judge
            if judge is None:
                raise ValueError("result frame with IPC handles, but this problem has no judge")
            reply = judge.compare(src, msg["handles"], self.atol, self.rtol, digest=want_digest, compare=want_compare)
            self.judge_lock_s += float(reply.get("lock_wait_s") or 0.0)
            self.judge_requests += 1
            if reply["kind"] == "bad_descriptor":
                raise ValueError(f"bad output descriptor: {reply.get('reason')}")
            cmp = Comparison(bool(reply["ok"]), str(reply.get("reason") or ""), reply.get("max_abs_err"),
                             reply.get("max_rel_err"))
            return cmp, reply.get("digest")
        outs = msg.get("outputs")
        if not isinstance(outs, list):
            raise ValueError("result frame without an output list")
        digest = outputs_digest(outs) if want_digest else None
        if not want_compare:
            return Comparison(True, "not compared"), digest
        return compare(self.ref.outputs(src), outs, self.atol, self.rtol), digest

    def __call__(self, msg: dict) -> None:
        t0 = time.monotonic()
        try:
            self._judge(msg)
        finally:
            self.judge_s += time.monotonic() - t0

    def _judge(self, msg: dict) -> None:
        if msg.get("kind") != "result":
            raise ValueError(f"unexpected {msg.get('kind')!r} frame from a candidate worker")
        name, k, src = msg.get("pass"), msg.get("case"), msg.get("src")
        n = len(self.ref)
        if name not in self.counts or not all(isinstance(x, int) and 0 <= x < n for x in (k, src)):
            raise ValueError("malformed result frame from a candidate worker")
        self.counts[name] += 1
        if name == "fresh":
            if k != src or self.fresh[k] is not None:
                raise ValueError(f"fresh result for case {k} repeated or misplaced")
            # after a failure only digests matter
            want = all(c is None or c.ok for c in self.fresh)
            cmp, self.fresh_digests[k] = self._check(k, msg, True, want)
            self.fresh[k] = cmp if want else Comparison(True, "not compared: an earlier case failed")
        else:
            cmp, _ = self._check(src, msg, False, self.stale is None)
            if not cmp.ok:
                label = "refilled inputs, reverse order" if name == "refill" else "re-check after timing"
                self.stale = (label, src, cmp)

    def missing(self, timed: bool) -> str:
        """Why the results are incomplete ("" when every pass reported every case)."""
        n = len(self.ref)
        want = {"fresh": n, "refill": self.refills, "recheck": n if timed else 0}
        bad = [f"{p} {self.counts[p]} of {want[p]}" for p in self.PASSES if self.counts[p] != want[p]]
        return "worker reported " + ", ".join(bad) + " results" if bad else ""


def gpu_total_mb(device: str) -> int:
    """Total memory of a CUDA device in MB, without creating a CUDA context in this process when
    nvidia-smi can say it (the parent never runs kernels; a context would cost it ~500 MB of GPU)."""
    import subprocess

    index = device.split(":")[1] if ":" in device else "0"
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", index],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
        return int(out.strip().splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        import torch

        return int(torch.cuda.get_device_properties(device).total_memory) >> 20


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


class GpuMemoryGate:
    """Admission by estimated GPU memory, one gate per GPU: a candidate (or a baseline) starts once its
    estimate fits beside what is running, or at once when nothing runs. KernelBench level-1 inputs reach
    6-16 GB per tensor: four workers at once ran the H100 out of memory, while smaller problems share a
    GPU fine, so the limit is in bytes, not in workers."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity = max(1, int(capacity_bytes))
        self.used = 0
        self._cv = threading.Condition()

    def acquire(self, need: int) -> int:
        """Blocks until `need` bytes (at most the capacity) fit; returns what it took."""
        need = max(0, min(int(need), self.capacity))
        with self._cv:
            while self.used and self.used + need > self.capacity:
                self._cv.wait()
            self.used += need
        return need

    def release(self, taken: int) -> None:
        with self._cv:
            self.used -= taken
            self._cv.notify_all()


# A candidate's worker holds about this many copies of one case's inputs and outputs at its peak (the
# drawn case and its device copy, the outputs and the newest kept ones, the timing inputs and eager's
# outputs), and the judge recomputes a reference case beside it.
CANDIDATE_CASE_COPIES = 4
BASELINE_CASE_COPIES = 2  # timing inputs and outputs (eager, then torch.compile's)
GATE_SHARE = 0.75  # of a GPU's memory: the rest for CUDA contexts, judges' caches and references


def case_bytes(ref: ReferenceOutputs) -> int:
    """One case's inputs plus outputs, the largest case's inputs (from the reference run)."""
    n = max(1, len(ref))
    outputs = ref.judged_bytes if ref.judge is not None else ref.nbytes()
    return max(ref.input_bytes, default=0) + outputs // n


class _GpuSlot:
    """One request's hold on a GPU's timing lock: taken when the worker asks, given back once."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock, self._held = lock, False
        self.waited_s: float | None = None  # seconds waited for the lock (None: never asked)

    def acquire(self) -> None:
        t0 = time.monotonic()
        self._lock.acquire()  # blocks until this GPU is free; waiting is not the candidate's time
        self.waited_s = time.monotonic() - t0
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
        ref_memory_mb: int = 1024,
        memory_peers: int = 1,
        gpu_judge: bool = True,
        max_running: int | None = None,
        spares: int | None = None,
        reuse: int = reuse_state.DEFAULT_REUSE,
    ) -> None:
        """
        Args:
            ref_memory_mb: reference outputs the parent keeps in memory (all problems together);
                past it they go to a private spill file and are read back one case at a time.
            memory_peers: pools sharing this host (HostVerifierPool passes its device count), for
                the default worker memory cap on GPUs (VerifyConfig.memory_mb = 0).
            gpu_judge: on GPUs, keep each problem's reference worker as its judge: reference outputs
                stay on the GPU and candidates' outputs are compared there through CUDA IPC, instead
                of both crossing pipes to this process (which KernelBench's gigabyte outputs outgrow).
            max_running: at most this many candidates verify at once (reference, worker, judging); one
                that only waits for its problem's torch.compile baseline counts no more, so callers may
                run more threads than this and the workers stay busy while Inductor compiles (verify_many
                then runs 4x as many threads). None: as many as the callers' threads (verify_many: workers).
            spares: warm candidate workers kept starting or ready per device (prespawn); None: one per
                concurrent slot (workers / devices). On a GPU a spare's CUDA context is most of its start:
                contexts are created one at a time by the driver (bench/cuda_context_cost_gpu.py: 16 at
                once take 2.3-2.9 s each on an H100), so spares started well ahead hide it.
            reuse: candidates one worker may serve (1: a fresh worker for every candidate; default
                reuse.DEFAULT_REUSE). Past 1, a worker whose process state a candidate left unchanged
                (verify/reuse.py: a best-effort snapshot, not a proof) serves the next candidate instead of
                exiting, which saves its CUDA context; a worker that crashed, timed out, was rejected or
                changed the snapshot exits.
        """
        self.gpu_judge = gpu_judge
        self._turns = threading.BoundedSemaphore(max_running) if max_running else None
        self._has_turn = threading.local()
        self._gpu_total_mb: dict[str, int] = {}
        self._gates: dict[str, GpuMemoryGate] = {}
        self.config = config or VerifyConfig()
        self.workers = max(1, int(workers))
        self.prespawn = prespawn  # keep warm spare workers (interpreter + torch import done) ready
        if spares is not None and spares < 0:
            from drtriton.util.errors import UsageError

            raise UsageError(f"spares must be >= 0 (0: none; None: one per concurrent slot), got {spares}")
        self.spares = spares
        if reuse < 1:
            from drtriton.util.errors import UsageError

            raise UsageError(f"reuse must be >= 1 (candidates per worker; 1: a fresh worker each), got {reuse}")
        self.reuse = int(reuse)
        self.reused = 0  # candidates served by a worker that had served one before
        self.reuse_refusals: collections.Counter[str] = collections.Counter()  # why workers were not reused
        self.reuse_refusal_examples: dict[str, list[str]] = {}  # refusal -> the first one's full differences
        if spawn not in ("auto", "zygote", "exec"):
            from drtriton.util.errors import UsageError

            raise UsageError(f"spawn must be auto, zygote or exec, got {spawn!r}")
        # "zygote": workers are forks of one process that imported torch and triton (zygote.py);
        # "exec": each worker is a new interpreter. auto = zygote: on an H100 host, 64 candidates took
        # 50 s with it against 73 s with exec, all 64 correct both ways (docs/RESULTS.md, issue 4b).
        self.spawn = spawn
        self._zygotes: dict[str, ZygoteClient] = {}
        self.devices = resolve_devices(self.config.device)
        self._tmp = tempfile.mkdtemp(prefix="drt-verify-")
        # Reference outputs that do not fit in memory: a folder only the parent's user can enter, apart
        # from the folder holding candidate files.
        self._spill = tempfile.mkdtemp(prefix="drt-refs-")
        self._ref_budget = _Budget(max(0, int(ref_memory_mb)) << 20)
        # Concurrent workers per pool: candidates, the reference worker and a baseline worker.
        concurrent = (self.workers + 2) * max(1, int(memory_peers))
        self.memory_mb = {d: worker_memory_mb(self.config.memory_mb, d, concurrent) for d in self.devices}
        self._max_frame_bytes = 0
        self._cache = VerdictCache(cache_path) if cache_path else None
        self._lock = threading.Lock()
        self._gpu_locks = {d: threading.Lock() for d in self.devices}
        # oldest first: the spare started longest ago is the likeliest to have its CUDA context already
        self._idle_candidates: dict[str, collections.deque[WorkerProcess]] = {
            d: collections.deque() for d in self.devices}
        self._idle_refs: dict[str, list[WorkerProcess]] = {d: [] for d in self.devices}
        self._refs: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._ref_locks: dict[str, threading.Lock] = {}
        self._next_device = 0
        self._closed = False
        # Per-problem torch.compile baselines run beside the candidates (compile on a CPU core, timing
        # under the GPU lock), up to one per two workers. Every candidate's verdict waits for its problem's
        # baseline: at 4 at a time (H100, 16 workers, 8 problems) half the first wave waited for a second
        # round of Inductor compiles.
        self._baselines = ThreadPoolExecutor(max_workers=max(1, min(8, self.workers // 2)))

    # ---- workers ----
    def _zygote_for(self, device: str) -> ZygoteClient | None:
        use = self.spawn in ("zygote", "auto")
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

    def _spawn(self, device: str, candidate: bool = False) -> WorkerProcess:
        c = self.config
        reused = candidate and self.reuse > 1
        cpu_s = c.first_call_timeout_s + c.timeout_s * 3 + 120
        if reused:  # RLIMIT_CPU counts every candidate: a worker retires past reuse.CPU_SHARE of it, so each
            cpu_s /= reuse_state.CPU_SHARE  # candidate it takes still has the whole allowance left
        args = (device, self.memory_mb[device], int(cpu_s), c.output_cap_mb, self._tmp)
        zygote = self._zygote_for(device)
        if zygote is not None:
            try:
                return WorkerProcess(*args, zygote=zygote, reuse=reused)
            except WorkerCrash:  # a zygote that cannot fork: fall back to a fresh interpreter
                zygote.close()
        return WorkerProcess(*args, reuse=reused)

    def _pick_device(self) -> str:
        with self._lock:
            device = self.devices[self._next_device % len(self.devices)]
            self._next_device += 1
            return device

    def _take_candidate_worker(self, device: str) -> WorkerProcess:
        with self._lock:
            idle = self._idle_candidates[device]
            worker = idle.popleft() if idle else None
            if worker is not None and worker.uses:
                self.reused += 1
            # keep warm spares (default one per concurrent slot) so a worker's start overlaps running checks;
            # one new spare per take: on an H100 two per take (and 32 spares) made contexts pile up in the
            # driver (19.6 s median context, 49 candidates/min against 71.5; docs/RESULTS.md, issue 4b)
            target = self.spares if self.spares is not None else max(1, self.workers // len(self.devices))
            spares_needed = min(1, target - len(idle)) if self.prespawn else 0
        if worker is None or not worker.alive():
            if worker is not None:
                worker.close()
            worker = self._spawn(device, candidate=True)
        if spares_needed > 0 and not self._closed:
            spare = self._spawn(device, candidate=True)
            with self._lock:
                self._idle_candidates[device].append(spare)
        return worker

    def _note_frames(self, worker: WorkerProcess) -> None:
        with self._lock:
            self._max_frame_bytes = max(self._max_frame_bytes, worker.max_frame_bytes)

    def stats(self) -> dict:
        """What the parent holds: the largest frame a worker sent it, and the reference outputs cached
        (bytes in memory, bytes in spill files, problems)."""
        with self._lock:
            refs = [r["outputs"] for r in self._refs.values() if "outputs" in r]
            return {
                "max_frame_bytes": self._max_frame_bytes,
                "reference_ram_bytes": sum(r.ram_bytes for r in refs),
                "reference_spilled_bytes": sum(r.spilled_bytes for r in refs),
                "reference_problems": len(refs),
                "reuse": self.reuse,
                "candidates_on_reused_workers": self.reused,
                "reuse_refusals": dict(self.reuse_refusals),
                "reuse_refusal_examples": dict(self.reuse_refusal_examples),
            }

    def _reference(self, problem_src: str, device: str) -> dict:
        key = hashlib.sha256(f"{device}\0{problem_src}".encode()).hexdigest()
        with self._lock:
            if key in self._refs and self._judge_broken(self._refs[key]):
                del self._refs[key]  # its judge died: run the reference again
            if key in self._refs:
                self._refs.move_to_end(key)
                return self._refs[key]
            key_lock = self._ref_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._refs and not self._judge_broken(self._refs[key]):
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
            judging = self.gpu_judge and device.startswith("cuda")
            if judging:
                req["judge_cache_mb"] = self._gpu_share_mb(device, 0.25)
            outputs = ReferenceOutputs(self._spill, self._ref_budget)
            try:
                ref = worker.request(
                    req, c.timeout_s, first_call_timeout=c.first_call_timeout_s, on_message=outputs.add
                )
            except WorkerTimeout:
                if worker.in_first_call:
                    why = (f"reference Model's first call (load, build, first forward) took longer than "
                           f"first_call_timeout_s={c.first_call_timeout_s:g} s")
                else:
                    why = f"reference Model took longer than timeout_s={c.timeout_s:g} s after its first call"
                ref = {"kind": "error", "reason": why}
            except WorkerCrash as exc:
                ref = {"kind": "error", "reason": f"reference run crashed: {exc}"}
            except ValueError as exc:  # a malformed case frame (on_message)
                ref = {"kind": "error", "reason": f"reference run sent a bad frame: {exc}"}
            self._note_frames(worker)
            if ref.get("kind") == "reference" and ref.get("n_cases") != len(outputs):
                ref = {"kind": "error", "reason": f"reference sent {len(outputs)} of {ref.get('n_cases')} cases"}
            if worker.alive() and ref.get("kind") == "reference" and judging:
                outputs.judge = _JudgeWorker(worker, c.timeout_s)  # this worker now serves this problem
            elif worker.alive() and ref.get("kind") == "reference":
                with self._lock:
                    self._idle_refs[device].append(worker)
            else:
                worker.close()
            ref["problem_path"] = str(path)
            if ref.get("kind") == "reference":
                ref["outputs"] = outputs
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
                # Oldest first out: past 32 problems, past _REF_CACHE_BYTES, or past `workers` judges
                # (each holds GPU memory; one in use by a candidate closes when that candidate is done).
                while len(self._refs) > _REF_CACHE_SIZE or (
                    len(self._refs) > 1
                    and (
                        sum(r["outputs"].nbytes() for r in self._refs.values() if "outputs" in r)
                        > _REF_CACHE_BYTES
                        or sum(1 for r in self._refs.values() if r.get("outputs") and r["outputs"].judge)
                        > self.workers
                    )
                ):
                    self._refs.popitem(last=False)
            return ref

    def _gate(self, device: str) -> GpuMemoryGate | None:
        """The GPU's memory gate (None on CPU, where the workers' own memory caps hold)."""
        if not device.startswith("cuda"):
            return None
        with self._lock:
            gate = self._gates.get(device)
        if gate is None:
            capacity = int(GATE_SHARE * self._gpu_mb(device)) << 20
            with self._lock:
                gate = self._gates.setdefault(device, GpuMemoryGate(capacity))
        return gate

    @staticmethod
    def _judge_broken(ref: dict) -> bool:
        judge = ref["outputs"].judge if "outputs" in ref else None
        return judge is not None and bool(judge.broken)

    def _gpu_mb(self, device: str) -> int:
        """The GPU's total memory in MB, read once from nvidia-smi (or torch)."""
        total = self._gpu_total_mb.get(device)
        if total is None:
            total = self._gpu_total_mb[device] = gpu_total_mb(device)
        return total

    def _gpu_share_mb(self, device: str, fraction: float) -> int:
        """`fraction` of one process slot's share of the GPU's memory (workers + 2 slots: candidates,
        a judge being built, a baseline), in MB."""
        return max(256, int(self._gpu_mb(device) * fraction / (self.workers + 2)))

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
            "case": ref["outputs"].specs[0],
            "timing_seed": c.timing_seed,
            "timing_config": self._timing_config(),
        }
        slot = _GpuSlot(self._gpu_locks[device])
        gate = self._gate(device)
        taken = gate.acquire(BASELINE_CASE_COPIES * case_bytes(ref["outputs"])) if gate else 0
        try:
            # The slot goes back at the worker's gpu_done, before its cleanup (dynamo reset, gc) and reply.
            reply = worker.request(
                req,
                c.first_call_timeout_s + c.timeout_s * 2,
                on_need_gpu=slot.acquire,
                on_gpu_done=slot.release,
            )
        except WorkerTimeout:
            reply = {"kind": "error", "reason": "baseline took longer than "
                     f"first_call_timeout_s + 2 x timeout_s = {c.first_call_timeout_s + 2 * c.timeout_s:g} s"}
        except WorkerCrash as exc:
            reply = {"kind": "error", "reason": f"baseline run crashed: {exc}"}
        finally:
            slot.release()
            if gate:
                gate.release(taken)
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
        if not future.done():
            self._give_turn_back()  # this candidate's worker is done: waiting needs no turn (max_running)
        try:
            return future.result(timeout=self.config.first_call_timeout_s + self.config.timeout_s * 3)
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
        if self._turns is not None:
            self._turns.acquire()
            self._has_turn.held = True
        try:
            verdict = self._verify_uncached(problem_src, candidate_src)
        finally:
            self._give_turn_back()
        if key and verdict.status is not Status.TIMEOUT:  # a timeout may be load, not the candidate
            self._cache.put(key, verdict)
        return verdict

    def _give_turn_back(self) -> None:
        """Releases this thread's turn (max_running), if it holds one."""
        if getattr(self._has_turn, "held", False):
            self._has_turn.held = False
            self._turns.release()

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
        t0 = time.monotonic()
        ref = self._reference(problem_src, device)
        if ref.get("kind") != "reference":
            return self._verdict(Status.FORMAT_ERROR, f"problem: {ref.get('reason')}; fix the problem file")
        return self._run_candidate(candidate_src, ref, device, {"reference_s": time.monotonic() - t0})

    def _run_candidate(
        self, candidate_src: str, ref: dict, device: str, waits: dict | None = None
    ) -> Verdict:
        """`waits`: the parent's own seconds so far (reference_s); this adds the rest of where the parent
        waited (worker, its readiness, the memory gate, the timing slot, the judge) to the verdict's
        phase_s, beside the worker's phases."""
        c = self.config
        waits = dict(waits or {})
        path = Path(self._tmp) / f"candidate_{uuid.uuid4().hex[:12]}.py"
        path.write_text(candidate_src)
        on_gpu = device.startswith("cuda")
        refill = self._refill_cases(ref["outputs"], device)
        req = {
            "op": "candidate",
            "path": str(path),
            "device": device,
            "init_seed": c.init_seed,
            "init_inputs": ref["init_inputs"],
            "state": ref["state"],
            "cases": ref["outputs"].specs,  # seed, distribution, fingerprint: the worker draws them
            # drawn cases kept in the worker: on a GPU they are GPU tensors, so within a GPU share
            "input_cache_mb": self._gpu_share_mb(device, 0.125) if on_gpu else max(64, self.memory_mb[device] // 4),
            "ipc_outputs": ref["outputs"].judge is not None,
            "refill_cases": refill,
            "disabled_rules": list(c.disabled_rules),
            "timing": on_gpu,
            "triton_effect": c.policy == "hybrid" and c.rule_on("policy.triton_share"),
            "problem_path": ref["problem_path"],
            "timing_seed": c.timing_seed,
            "timing_config": self._timing_config(),
        }
        slot = _GpuSlot(self._gpu_locks[device])
        t0 = time.monotonic()
        worker = self._take_candidate_worker(device)
        waits["take_worker_s"] = time.monotonic() - t0
        if on_gpu:  # gigabyte outputs: keep only the newest past a share of the GPU
            req["keep_outputs_mb"] = self._gpu_share_mb(device, 0.125)
        judge = _Judge(ref["outputs"], c.atol, c.rtol, refills=len(refill))
        gate = self._gate(device)
        t0 = time.monotonic()
        taken = gate.acquire(CANDIDATE_CASE_COPIES * case_bytes(ref["outputs"])) if gate else 0
        if gate:
            waits["gate_wait_s"] = time.monotonic() - t0
        reply: dict = {}
        try:
            t0 = time.monotonic()
            worker.wait_ready(max(c.timeout_s, 300.0))  # a spare still starting (CUDA context, warm-up)
            waits["ready_wait_s"] = time.monotonic() - t0
            # this worker's start-up on a GPU: its CUDA context, and how long its warm-up held timers off
            # (a reused worker's start-up was its first candidate's)
            for name in ("context_s", "section_s") if worker.uses == 0 else ():
                if name in worker.startup_s:
                    waits[f"worker_{name}"] = worker.startup_s[name]
            reply = worker.request(
                req,
                c.timeout_s,
                on_need_gpu=slot.acquire,
                on_gpu_done=slot.release,
                first_call_timeout=c.first_call_timeout_s,
                on_message=judge,
            )
        except WorkerTimeout:
            if worker.in_first_call:
                return self._verdict(
                    Status.TIMEOUT,
                    f"candidate's import, build and first call did not finish within "
                    f"first_call_timeout_s={c.first_call_timeout_s:g} s; worker killed (infinite loop?)",
                )
            return self._verdict(
                Status.TIMEOUT,
                f"candidate did not finish within timeout_s={c.timeout_s:g} s after its first call; worker "
                "killed (infinite loop or far too slow)",
            )
        except WorkerCrash as exc:
            return self._verdict(Status.RUNTIME_ERROR, str(exc))
        except ValueError as exc:  # a malformed result frame (the judge): the worker was subverted
            return self._verdict(Status.RUNTIME_ERROR, f"candidate worker broke the protocol: {exc}")
        except JudgeFailure as exc:
            return self._verdict(Status.RUNTIME_ERROR, f"comparing this candidate's outputs failed: {exc}")
        finally:
            slot.release()
            if gate:
                gate.release(taken)
            self._note_frames(worker)
            worker.uses += 1
            keep = self.reuse > 1 and worker.uses < self.reuse and reply.get("reusable") is True
            if not keep:
                self._note_refusal(worker, reply)
                worker.discard()  # nothing to shut down gracefully
            path.unlink(missing_ok=True)
        if slot.waited_s is not None:
            waits["gpu_slot_wait_s"] = slot.waited_s
        waits["judge_s"] = judge.judge_s
        if judge.judge_requests:
            waits["judge_lock_s"] = judge.judge_lock_s
            waits["judge_requests"] = float(judge.judge_requests)
        if isinstance(reply.get("phase_s"), dict):
            reply["phase_s"].update(waits)
            reply["phase_s"]["worker_uses"] = float(worker.uses)
        try:
            verdict = self.evaluate(ref, reply, judge)
        except BaseException:
            if keep:
                worker.discard()
            raise
        if keep:
            # only after an honest run: a candidate caught cheating (here or by the judge) never hands its
            # worker on, whatever the snapshot says
            honest = verdict.status in (Status.CORRECT, Status.INCORRECT) and worker.alive()
            with self._lock:  # close() empties the idle lists under this lock: none is handed back after it
                kept = honest and not self._closed
                if kept:
                    self._idle_candidates[device].appendleft(worker)  # ready now: the next candidate's
                elif not honest:
                    self.reuse_refusals[f"verdict {verdict.status.value}"] += 1
            if not kept:
                worker.discard()
        return verdict

    def _note_refusal(self, worker: WorkerProcess, reply: dict) -> None:
        """Why a worker that could have served again did not (the pool's reuse statistics)."""
        if self.reuse <= 1:
            return
        if worker.uses >= self.reuse:
            why = "served its share"
        elif not reply:
            why = "no reply (crash, timeout)"
        elif reply.get("reusable") is False:
            why = "state changed: " + "; ".join(d.split(":")[0] for d in reply.get("reuse_diffs") or ["?"])
        else:
            why = f"reply {reply.get('kind')}"
        with self._lock:
            self.reuse_refusals[why] += 1
            if reply and reply.get("reuse_diffs"):  # the full text of the first few, for developers
                self.reuse_refusal_examples.setdefault(why, list(reply["reuse_diffs"]))

    def _refill_cases(self, ref: ReferenceOutputs, device: str) -> list[int]:
        """The cases a candidate's worker refills after the fresh pass: all of them, unless their inputs
        do not fit side by side in an eighth of a GPU slot; then as many as fit (the last ones), at least
        two. CPU workers refill every case (their inputs are small in CI and tests)."""
        n = len(ref)
        if not device.startswith("cuda") or n == 0:
            return list(range(n))
        budget, chosen, used = self._gpu_share_mb(device, 0.125) << 20, [], 0
        for k in reversed(range(n)):
            size = ref.input_bytes[k]
            if used + size > budget and len(chosen) >= min(2, n):
                break
            chosen.append(k)
            used += size
        return sorted(chosen)

    # ---- judging the worker's reply (parent side) ----
    def evaluate(self, ref: dict, reply: dict, judge: _Judge) -> Verdict:
        """The verdict from the worker's final reply and the judge's comparisons of its streamed results."""
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
        missing = judge.missing(timed=reply.get("timing") is not None)
        if missing:
            return self._verdict(Status.RUNTIME_ERROR, f"incomplete check: {missing}", **common)
        specs = ref["outputs"].specs
        worst_abs, worst_rel = 0.0, 0.0
        for k, cmp in enumerate(judge.fresh):
            if not cmp.ok:
                if c.rule_on("memo.input_insensitive") and self._input_insensitive(
                    ref["outputs"].digests, judge.fresh_digests
                ):
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
                    f"seed {specs[k]['seed']} ({specs[k]['dist']} inputs): {cmp.reason}",
                    max_abs_err=cmp.max_abs_err,
                    max_rel_err=cmp.max_rel_err,
                    **common,
                )
            worst_abs, worst_rel = (
                max(worst_abs, cmp.max_abs_err or 0.0),
                max(worst_rel, cmp.max_rel_err or 0.0),
            )
        if judge.stale is not None and c.rule_on("memo.stale_result"):
            label, src, cmp = judge.stale
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
            t0 = time.monotonic()
            base = self._problem_baseline(ref)
            if base is not None:
                common["phase_s"]["baseline_wait_s"] = time.monotonic() - t0
                for name in ("compile_s", "timing_s"):  # the problem's baseline worker: Inductor, its timing
                    if isinstance((base.get("phase_s") or {}).get(name), (int, float)):
                        common["phase_s"][f"baseline_{name}"] = float(base["phase_s"][name])
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
        if self._input_insensitive_ref(ref["outputs"].digests):
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
    def _input_insensitive(ref_digests: list, fresh_digests: list) -> bool:
        """Two cases whose references differ but whose candidate outputs are bit-identical. A case without a
        digest (the GPU judge gives none for outputs of the wrong shape or dtype) matches nothing: on an H100
        two missing digests compared equal and an int32-for-int64 answer was called input-insensitive."""
        n = len(ref_digests)
        return any(
            fresh_digests[i] is not None and fresh_digests[i] == fresh_digests[j] and ref_digests[i] != ref_digests[j]
            for i in range(n)
            for j in range(i + 1, n)
        )

    @staticmethod
    def _input_insensitive_ref(ref_digests: list) -> bool:
        return len(ref_digests) > 1 and len(set(ref_digests)) == 1

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

        # With max_running, threads waiting for a baseline hold no turn: more threads keep the workers busy.
        threads = self.workers if self._turns is None else 4 * self.workers
        with ThreadPoolExecutor(max_workers=threads) as ex:
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
        with self._lock:
            judges = [r["outputs"].judge for r in self._refs.values() if "outputs" in r and r["outputs"].judge]
            self._refs.clear()
        for judge in judges:
            judge.worker.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
        shutil.rmtree(self._spill, ignore_errors=True)

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
