"""Run KernelBench problems through a proposer and the verifier; resumable, one cached record per problem.

    from drtriton.bench import BenchConfig, run_kernelbench
    run = run_kernelbench(BenchConfig(path="~/KernelBench", level=1, proposer="rule", out=Path("runs/kb")))
    run.summary.headline.vs["eager"].fast[1.0]

Problems run in chunks of `workers` (1 without a GPU); per chunk, two phases, so the reference check never
shares the GPU with a timed kernel:
  1. reference check of the chunk's problems (degenerate output?), cached by problem digest;
  2. propose (one at a time) + verify the chunk's problems concurrently on one verifier pool (compiles and
     reference runs overlap; the pool serializes GPU timing), each cached by (problem digest, proposer
     fingerprint, verify config) the moment it finishes.
`max_seconds` is checked before each chunk, so a time-bounded run spends nothing on problems it never runs.
Layout under `out/level{N}/`: reference/{stem}.json, {proposer}/cache/{stem}.json, {proposer}/candidates/
{stem}.py, and the reports written by drtriton.report.kernelbench (results.csv, summary.json, report.md/html).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

from drtriton.bench.degenerate import DegenerateConfig, ReferenceCheck, ReferenceChecker
from drtriton.bench.metrics import Summary, summarize
from drtriton.bench.problems import Problem, discover
from drtriton.bench.proposers import Proposer, make_proposer, parse_budget, slug
from drtriton.bench.result import BENCH_ERROR, NO_CANDIDATE, ProblemResult, verdict_fields
from drtriton.bench.split import SPLIT_NAMES, load_split, save_split, split_checkout
from drtriton.util.errors import UsageError
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance

RECORD_VERSION = 1  # bump when a cached record's meaning changes; old records are then recomputed
REFERENCE_VERSION = 2  # 2: the reference runs as built (training mode), as KernelBench and the verifier do

VerifyFn = Callable[[str, str, Any], Any]  # (problem_src, candidate_src, config) -> Verdict
ProgressFn = Callable[[str, int, int, str], None]  # (phase, done, total, problem key)


@dataclass
class BenchConfig:
    path: Path  # KernelBench checkout root, or its KernelBench/ folder
    level: int  # 1, 2, 3 …: the levelN folder to run
    proposer: str = "rule"  # rule | search | model:DIR | solutions:DIR
    problems: str | None = None  # ids such as "1-10,23"; None: every problem of the level
    budget: str | None = None  # search/model bound: "64" candidates, "300s", or "candidates=64,seconds=300"
    out: Path = Path("runs/kernelbench")  # results, caches and reports go under out/level{N}/
    split: str | None = None  # "heldout" or "tune": only that part of the split file
    split_file: Path | None = None  # default out/split.json, made on first use with the fraction/seed below
    split_fraction: float = 0.3  # share held out per level when a split file is made
    split_seed: int = 0
    check_degenerate: bool = True  # flag near-constant / input-insensitive references (reported apart)
    degenerate: DegenerateConfig = field(default_factory=DegenerateConfig)
    resume: bool = True  # reuse cached records whose key still matches; False recomputes everything
    max_seconds: float | None = None  # stop starting new problems after this long; resume finishes the rest
    policy: str = "mixed"  # verifier policy; mixed is the headline (conv/matmul library calls allowed)
    tolerance: str = "default"  # default (1e-4, fp32) | kernelbench (1e-2, the field's loose mode) | a number
    verify_config: Any = None  # a drtriton.verify.VerifyConfig; None: built from policy and tolerance
    workers: int | None = None  # problems verified at once; None: 1 without a GPU, else 2..4 by CPU count

    def __post_init__(self) -> None:
        self.path = Path(self.path).expanduser()
        self.out = Path(self.out)
        if self.level < 1:
            raise UsageError(f"--level must be 1 or more, got {self.level}")
        if self.split is not None and self.split not in SPLIT_NAMES:
            raise UsageError(f"--split must be one of {SPLIT_NAMES}, got {self.split!r}")
        parse_budget(self.budget)  # fail before any work
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise UsageError(f"--max-seconds must be positive, got {self.max_seconds}; omit it for no limit")
        if self.workers is not None and not 1 <= self.workers <= 64:
            raise UsageError(f"--workers must be in 1..64, got {self.workers}")

    @property
    def level_dir(self) -> Path:
        return self.out / f"level{self.level}"


@dataclass
class BenchRun:
    config: BenchConfig
    proposer: str
    rows: list[ProblemResult]
    summary: Summary
    run_dir: Path  # out/level{N}/{proposer slug}
    provenance: Provenance
    warnings: list[str] = field(default_factory=list)
    n_cached: int = 0  # rows taken from the cache instead of recomputed
    not_run: list[str] = field(default_factory=list)  # problems skipped by max_seconds (not in any metric)
    verify_config: Any = None  # the VerifyConfig every candidate was checked under


def config_digest(config: Any) -> str:
    if config is None:
        data: Any = None
    elif hasattr(config, "to_json"):
        data = config.to_json()
    elif is_dataclass(config):
        data = asdict(config)
    elif isinstance(config, dict):
        data = config
    else:
        data = vars(config)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def select_problems(config: BenchConfig) -> tuple[list[Problem], list[str]]:
    """The problems to run (ids, then split) and any warnings about the split file."""
    problems = discover(config.path, config.level, config.problems)
    if config.split is None:
        return problems, []
    split_file = config.split_file or config.out / "split.json"
    if split_file.exists():
        split = load_split(split_file)
    else:  # first use: record the split over every level of the checkout, so later runs agree
        split = split_checkout(config.path, config.split_fraction, config.split_seed)
        save_split(split, split_file)
    chosen, warnings = split.select(config.split, problems)
    if not chosen:
        raise UsageError(f"--split {config.split} leaves no problem of level {config.level} "
                         f"(split file {str(split_file)!r}); widen --problems or remake the split")
    return chosen, warnings


def degenerate_config_for(config: BenchConfig, verify_config: Any) -> DegenerateConfig:
    """The degenerate check at the verifier's tolerance: "degenerate" means a cheat would pass THIS check."""
    atol, rtol = getattr(verify_config, "atol", None), getattr(verify_config, "rtol", None)
    if isinstance(atol, (int, float)) and isinstance(rtol, (int, float)):
        return replace(config.degenerate, atol=float(atol), rtol=float(rtol))
    return config.degenerate


def _check_references(problems: list[Problem], config: BenchConfig, degenerate: DegenerateConfig,
                      progress: ProgressFn | None, checker: ReferenceChecker, offset: int = 0,
                      total: int | None = None) -> dict[str, ReferenceCheck]:
    """Reference checks of `problems`, cached by problem digest; `checker` is the run's one checker (its
    child starts on the first check that is not cached)."""
    ref_dir = config.level_dir / "reference"
    key_of = {p.key: config_digest({"sha": p.sha256, "cfg": asdict(degenerate), "v": REFERENCE_VERSION})
              for p in problems}
    checks: dict[str, ReferenceCheck] = {}
    for p in problems:
        record = _read_json(ref_dir / f"{p.stem}.json") if config.resume else None
        if record and record.get("key") == key_of[p.key]:
            checks[p.key] = ReferenceCheck(**record["check"])
    total = len(problems) if total is None else total
    for i, p in enumerate(problems):
        if p.key in checks:
            continue
        if progress:
            progress("reference", offset + i, total, p.key)
        check = checks[p.key] = checker.check(p.source())
        atomic_write_text(ref_dir / f"{p.stem}.json", json.dumps(
            {"key": key_of[p.key], "problem": p.key, "check": check.to_json(),
             "provenance": Provenance.here().to_json()}, indent=1))
    if progress:
        progress("reference", offset + len(problems), total, "")
    return checks


def _describe(check: ReferenceCheck | None) -> str:
    if check is None:
        return "not checked"
    return f"{check.kind}: {check.reason}" if check.kind else check.reason


def _default_verify(config: BenchConfig) -> tuple[VerifyFn, Any]:
    try:
        from drtriton.verify import VerifyConfig, verify
    except ImportError as exc:
        raise UsageError(f"the verifier (drtriton.verify) is not importable ({exc}); build the engine "
                         "(scripts/setup.sh) and retry") from None
    if config.verify_config is not None:
        return verify, config.verify_config
    return verify, VerifyConfig.with_tolerance(config.tolerance, policy=config.policy)


def _auto_workers() -> int:
    """Problems verified at once: 1 without a GPU (the interpreter is CPU-bound); with one, a worker per 4
    CPU cores, 2..4 (each problem runs a reference and a candidate worker)."""
    try:
        import torch

        gpu = torch.cuda.is_available()
    except ImportError:
        gpu = False
    if not gpu:
        return 1
    from drtriton.verify.config import gpu_pool_workers

    return gpu_pool_workers(4)


def _run_one(problem: Problem, proposer: Proposer, verify_fn: VerifyFn, verify_config: Any,
             check: ReferenceCheck | None, run_dir: Path,
             propose_lock: threading.Lock | None = None) -> tuple[ProblemResult, dict]:
    """The row for one problem, and what to keep beside it (the full verdict, the proposer's notes).
    Proposals run one at a time under `propose_lock` (proposers trace models in this process)."""
    base = {"level": problem.level, "problem_id": problem.problem_id, "name": problem.name,
            "proposer": proposer.spec, "degenerate": check.degenerate if check else None,
            "degenerate_reason": _describe(check)}
    with propose_lock or contextlib.nullcontext():
        proposal = proposer.propose(problem)
    kept: dict[str, Any] = {"proposal": proposal.extra}
    if proposal.source is None:
        return ProblemResult(status=NO_CANDIDATE, reason=proposal.reason, propose_s=proposal.seconds,
                             **base), kept
    atomic_write_text(run_dir / "candidates" / f"{problem.stem}.py", proposal.source)
    start = time.perf_counter()
    run_hash = verify_config.hash() if hasattr(verify_config, "hash") else None
    if proposal.verdict is not None and run_hash is not None and proposal.verified_under == run_hash:
        # The proposer (search) verified this exact source end to end on this problem under this exact
        # verifier config: its verdict is the measurement; verifying again would only spend GPU time.
        from drtriton.verify.verdict import Verdict

        kept["verdict"] = proposal.verdict
        kept["verdict_from_proposer"] = True
        return ProblemResult(**verdict_fields(Verdict.from_json(proposal.verdict)), propose_s=proposal.seconds,
                             verify_s=None, **base), kept
    try:
        verdict = verify_fn(problem.source(), proposal.source, verify_config)
    except Exception as exc:  # noqa: BLE001 - the verifier should never raise; if it does, say so per problem
        return ProblemResult(status=BENCH_ERROR, reason=f"verifier raised {type(exc).__name__}: {exc}",
                             propose_s=proposal.seconds, verify_s=time.perf_counter() - start, **base), kept
    kept["verdict"] = verdict.to_json() if hasattr(verdict, "to_json") else None
    return ProblemResult(**verdict_fields(verdict), propose_s=proposal.seconds,
                         verify_s=time.perf_counter() - start, **base), kept


def run_kernelbench(config: BenchConfig, *, proposer: Proposer | None = None, verify_fn: VerifyFn | None = None,
                    progress: ProgressFn | None = None) -> BenchRun:
    """Runs every selected problem; each finished problem is saved at once, so an interrupted run resumes.

    Args:
        config: what to run and where results go.
        proposer: overrides config.proposer (tests inject one).
        verify_fn: overrides drtriton.verify.verify (tests inject one); called as fn(problem, candidate, cfg).
        progress: called as progress(phase, done, total, problem_key) for a progress bar.

    Raises:
        UsageError: bad path, level, ids, split, proposer or budget.
    """
    start = time.monotonic()
    problems, warnings = select_problems(config)
    verify_config = config.verify_config
    workers = config.workers or _auto_workers()
    pool = None
    if verify_fn is None:
        verify_fn, verify_config = _default_verify(config)
        if workers > 1:  # one pool for the run: `workers` problems in flight, GPU timing serialized by it
            from drtriton.verify import VerifierPool

            pool = VerifierPool(verify_config, workers=workers)

            def verify_fn(problem_src: str, candidate_src: str, _cfg: Any, _pool=pool) -> Any:
                return _pool.verify(problem_src, candidate_src)
    tolerance = {k: getattr(verify_config, k) for k in ("atol", "rtol") if hasattr(verify_config, k)}
    proposer = proposer or make_proposer(config.proposer, parse_budget(config.budget), config.policy,
                                         cache_dir=config.out / "search_cache", verify_extra=tolerance,
                                         verify_config=verify_config if hasattr(verify_config, "hash") else None,
                                         rule_dir=config.level_dir / slug("rule"))
    run_dir = config.level_dir / slug(proposer.spec)
    degenerate = degenerate_config_for(config, verify_config)
    verify_digest = config_digest(verify_config)
    rows: list[ProblemResult] = []  # in problem order: chunks in order, each chunk's futures in order
    n_cached = 0
    not_run: list[str] = []
    propose_lock = threading.Lock()
    checker = ReferenceChecker(degenerate)  # its child process starts on the first uncached check

    def cached_record(problem: Problem) -> tuple[dict, Path, dict | None]:
        key = {"version": RECORD_VERSION, "problem": problem.sha256, "proposer": proposer.fingerprint(problem),
               "verify": verify_digest}
        cache_path = run_dir / "cache" / f"{problem.stem}.json"
        record = _read_json(cache_path) if config.resume else None
        return key, cache_path, record if record and record.get("key") == key else None

    def one(problem: Problem, check: ReferenceCheck | None,
            cached: tuple[dict, Path, dict | None]) -> tuple[ProblemResult, bool]:
        key, cache_path, record = cached
        if record:
            row = ProblemResult.from_json(record["result"])
            if check is not None:  # a later reference check refines the flag without re-verifying
                row = ProblemResult.from_json({**row.to_json(), "degenerate": check.degenerate,
                                               "degenerate_reason": _describe(check)})
            return row, True
        row, kept = _run_one(problem, proposer, verify_fn, verify_config, check, run_dir, propose_lock)
        atomic_write_text(cache_path, json.dumps({"key": key, "result": row.to_json(), **kept,
                                                  "provenance": Provenance.here().to_json()},
                                                 indent=1, default=str))
        return row, False

    try:
        with ThreadPoolExecutor(max_workers=workers) as ex:
            for lo in range(0, len(problems), workers):
                if config.max_seconds is not None and time.monotonic() - start > config.max_seconds:
                    not_run = [p.key for p in problems[lo:]]
                    warnings.append(f"stopped after {config.max_seconds:.0f}s: {len(not_run)} problem(s) not run "
                                    "and not in any metric; run again to resume")
                    break
                chunk = problems[lo:lo + workers]
                # a problem whose row is cached keeps the flag recorded with it (a resumed run on a fresh
                # machine would otherwise re-run gigabyte references only to confirm it)
                records = {p.key: cached_record(p) for p in chunk}
                unchecked = [p for p in chunk
                             if (rec := records[p.key][2]) is None or rec["result"].get("degenerate") is None]
                checks = (_check_references(unchecked, config, degenerate, progress, checker, lo, len(problems))
                          if config.check_degenerate and unchecked else {})
                if progress:
                    for p in chunk:
                        progress("verify", lo, len(problems), p.key)
                futures = [ex.submit(one, p, checks.get(p.key), records[p.key]) for p in chunk]
                for fut in futures:
                    row, cached = fut.result()
                    rows.append(row)
                    n_cached += cached
    finally:
        checker.close()
        if hasattr(proposer, "close"):
            proposer.close()  # e.g. search's verifier pool
        if pool is not None:
            pool.close()
    if progress:
        progress("verify", len(problems), len(problems), "")
    return BenchRun(config=config, proposer=proposer.spec, rows=rows, summary=summarize(rows), run_dir=run_dir,
                    provenance=Provenance.here(), warnings=warnings, n_cached=n_cached,
                    verify_config=verify_config, not_run=not_run)
