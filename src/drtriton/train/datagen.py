"""Budgeted, parallel task drawing for one-command training runs: held-out sets, SFT pairs (program ->
code-generator ModelNew, checked against the reference) and RL prompts, drawn by a process pool.

    jobs = [Job("heldout", 1, seed) for seed in ...] + [Job("sft", 2, seed, solve=True), ...]
    done = draw_parallel(jobs, scale="realistic", workers=14, deadline=time.time() + 60)

Each job is one synthesizer draw (level, seed), so results equal the serial `SynthSource.draw` ones; a
job that has not finished by the deadline is dropped (counted by the caller). A solved job carries the
code generator's ModelNew with comment-only lines removed (shorter answers, same code), and
`check`: the answer run in-process against the problem's Model on `seeds` at 1e-4 (our own generator's
output: no sandbox needed; model answers always go through the sandboxed verifier).
"""

from __future__ import annotations

import importlib.util
import io
import os
import tempfile
import time
import tokenize
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

CHECK_SEEDS = (0, 1)  # two input draws: one lucky draw must not pass a wrong reference
CHECK_TOL = 1e-4  # the verifier's default fp32 tolerance


@dataclass(frozen=True)
class Job:
    kind: str  # what the caller uses it for: heldout | sft | rl
    level: int
    seed: int
    solve: bool = False  # also run the code generator on the program
    check: bool = True  # solve: also run its answer in-process against the program's Model


@dataclass
class Drawn:
    job: Job
    task: dict | None = None  # hash, program, level
    solution: str | None = None  # compact ModelNew when solve and the code generator compiled it
    check: str | None = None  # None: passed; else why the solution failed the in-process check
    error: str | None = None  # the draw itself failed
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def compact_solution(code: str) -> str:
    """Drops comment-only lines and runs of blank lines (tokenize-exact: never inside strings)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    lines = code.splitlines()
    drop = set()
    for tok in tokens:
        if tok.type == tokenize.COMMENT and lines[tok.start[0] - 1].strip().startswith("#"):
            drop.add(tok.start[0] - 1)
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in drop or (not line.strip() and (not out or not out[-1].strip())):
            continue
        out.append(line)
    text = "\n".join(out).strip("\n") + "\n"
    try:
        compile(text, "<compact>", "exec")
    except SyntaxError:
        return code
    return text


def _load_module(src: str, folder: str, name: str):
    # From a real file: Triton's @jit reads kernel source with inspect, which needs one.
    fd, path = tempfile.mkstemp(prefix=f"{name}_", suffix=".py", dir=folder)
    with os.fdopen(fd, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_solution(program: str, solution: str, device: str, seeds=CHECK_SEEDS, tol: float = CHECK_TOL,
                   folder: str | None = None) -> str | None:
    """Runs ModelNew against Model (same init seed, fresh inputs per seed); None when every output matches,
    else why not."""
    status, reason = run_check(program, solution, device, seeds, tol, folder)
    return None if status == "correct" else reason


def run_check(program: str, solution: str, device: str, seeds=CHECK_SEEDS, tol: float = CHECK_TOL,
              folder: str | None = None) -> tuple[str, str]:
    """(status, reason): correct | compile_error (loading the module or compiling a Triton kernel failed) |
    runtime_error | incorrect (shape, dtype or values off on some seed), with the reason for the first."""
    import torch

    from drtriton.verify.compare import compare

    folder = folder or tempfile.mkdtemp(prefix="drt_datagen_")
    stage = "compile_error"
    try:
        prob = _load_module(program, folder, "problem")
        sol = _load_module(solution, folder, "solution")
        stage = "runtime_error"
        torch.manual_seed(42)
        model = prob.Model(*prob.get_init_inputs()).to(device).eval()
        torch.manual_seed(42)
        model_new = sol.ModelNew(*prob.get_init_inputs()).to(device).eval()
        for seed in seeds:
            torch.manual_seed(seed)
            inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in prob.get_inputs()]
            with torch.no_grad():
                ref, out = model(*inputs), model_new(*inputs)
            ref = list(ref) if isinstance(ref, (tuple, list)) else [ref]
            out = list(out) if isinstance(out, (tuple, list)) else [out]
            if not all(isinstance(o, torch.Tensor) for o in out):
                return "incorrect", f"seed {seed}: ModelNew returned {type(out[0]).__name__}, not tensors"
            cmp = compare([r.detach().cpu() for r in ref], [o.detach().cpu() for o in out], tol, tol)
            if not cmp.ok:
                return "incorrect", f"seed {seed}: {cmp.reason}"
    except Exception as exc:  # noqa: BLE001 - the answer's failure is the result
        if "Compilation" in type(exc).__name__:  # triton.compiler.errors.CompilationError and kin
            stage = "compile_error"
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        return stage, f"{type(exc).__name__}: {first}"
    return "correct", ""


# ---- worker process side ----
_STATE: dict = {}


def _init_worker(device: str, interpret: bool) -> None:
    if interpret:
        os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported: @jit reads it
    import torch

    torch.set_num_threads(1)  # one core per worker: the pool is the parallelism
    _STATE.update(device=device, folder=tempfile.mkdtemp(prefix="drt_datagen_"))


def _run_job(job: Job, scale: str | None) -> Drawn:
    from drtriton.train.data import SynthSource, reference_solution

    t0 = time.perf_counter()
    out = Drawn(job)
    try:
        source = _STATE.setdefault(("source", scale), SynthSource(scale))
        task = source.draw(job.level, job.seed)
        out.task = {"hash": task["hash"], "program": task["program"], "level": job.level}
        if job.solve:
            sol = reference_solution(task["program"])
            if sol is None:
                out.check = "the code generator could not compile the program"
            else:
                out.solution = compact_solution(sol)
                if job.check:
                    out.check = check_solution(task["program"], out.solution, _STATE.get("device", "cpu"),
                                               folder=_STATE.get("folder"))
    except Exception as exc:  # noqa: BLE001 - one failed draw is recorded, the run goes on
        out.error = f"{type(exc).__name__}: {exc}"[:200]
    out.seconds = time.perf_counter() - t0
    return out


class ParallelDraws:
    """Jobs running in a spawned process pool (FIFO: put what matters most first). `collect` waits up to a
    deadline, `poll` takes whatever finished since (so a trainer can keep taking pairs while it trains),
    `close` cancels the jobs not started (running ones finish in the background and are ignored).

    A worker that dies hard (a segfault) breaks a process pool and fails every unfinished job with it. The
    jobs that were running then (the `workers` earliest unfinished ones: the pool is FIFO) are suspects: a
    suspect is retried once, last; the jobs that had not started are resubmitted to a fresh pool as they were.
    """

    MAX_RESTARTS = 3  # fresh pools per run: repeated crashes cannot stall the rest for long

    def __init__(self, jobs: list[Job], scale: str | None, workers: int, device: str = "cpu",
                 run_job=None):
        """`run_job(job, scale) -> Drawn` runs in the workers (a picklable, module-level function)."""
        self.jobs = jobs
        self._scale, self._workers, self._device = scale, max(1, workers), device
        self._run_job = run_job or _run_job
        self._futures: dict = {}  # future -> job index
        self._pending: set = set()
        self._suspected = [0] * len(jobs)
        self._ex: ProcessPoolExecutor | None = None  # the pool new submissions go to
        self._old: list[ProcessPoolExecutor] = []
        self.restarts = 0
        self.finished = 0
        self._submit(range(len(jobs)))

    def _submit(self, indices) -> None:
        import multiprocessing as mp

        if self._ex is None:
            self._ex = ProcessPoolExecutor(max_workers=self._workers, mp_context=mp.get_context("spawn"),
                                           initializer=_init_worker, initargs=(self._device, self._device == "cpu"))
        for i in indices:
            f = self._ex.submit(self._run_job, self.jobs[i], self._scale)
            self._futures[f] = i
            self._pending.add(f)

    def _restart(self, broken: list[int]) -> list[tuple[int, Drawn]]:
        """The pool broke: every unfinished job moves to a fresh pool, suspects last (or out)."""
        for f in list(self._pending):  # the rest of the broken pool's jobs fail too: take them now
            broken.append(self._futures.pop(f))
        self._pending = set()
        self._old.append(self._ex)
        self._ex.shutdown(wait=False, cancel_futures=True)
        self._ex = None
        self.restarts += 1
        broken.sort()
        suspects = broken[: self._workers]
        for i in suspects:
            self._suspected[i] += 1
        retry = broken[self._workers:] + [i for i in suspects if self._suspected[i] < 2]
        lost = [i for i in suspects if self._suspected[i] >= 2]
        if self.restarts > self.MAX_RESTARTS:
            lost, retry = sorted(lost + retry), []
        if retry:
            self._submit(retry)
        return [(i, Drawn(self.jobs[i], error="worker died (its process pool broke)")) for i in lost]

    def _take(self, done) -> list[Drawn]:
        from concurrent.futures.process import BrokenProcessPool

        out, broken = [], []
        for f in done:
            i = self._futures.pop(f)
            try:
                out.append((i, f.result()))
            except BrokenProcessPool:
                broken.append(i)
            except Exception as exc:  # noqa: BLE001 - anything else loses this job only
                out.append((i, Drawn(self.jobs[i], error=f"worker failed: {type(exc).__name__}: {exc}"[:200])))
        if broken:
            out += self._restart(broken)
        self.finished += len(out)
        return [d for _, d in sorted(out, key=lambda x: x[0])]

    def collect(self, deadline: float, on_done=None) -> list[Drawn]:
        """Finished jobs until all are done or time.time() passes `deadline`."""
        got: list[Drawn] = []
        while self._pending:
            left = deadline - time.time()
            if left <= 0:
                break
            done, self._pending = wait(self._pending, timeout=min(left, 5.0), return_when=FIRST_COMPLETED)
            for d in self._take(done):
                got.append(d)
                if on_done:
                    on_done(d)
        order = {job: i for i, job in enumerate(self.jobs)}
        return sorted(got, key=lambda d: order.get(d.job, len(order)))  # job order, as submitted

    def poll(self) -> list[Drawn]:
        done = {f for f in self._pending if f.done()}
        self._pending -= done
        return self._take(done)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=False, cancel_futures=True)
        self._pending = set()


def draw_parallel(jobs: list[Job], scale: str | None, workers: int, deadline: float, device: str = "cpu",
                  on_done=None) -> list[Drawn]:
    """Runs `jobs` in a process pool until `deadline` (time.time()); returns the finished ones in job order."""
    draws = ParallelDraws(jobs, scale, workers, device)
    try:
        return draws.collect(deadline, on_done)
    finally:
        draws.close()
