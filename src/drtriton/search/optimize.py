"""Test-time search: propose kernels per fragment, verify each alone, pick the best cover by DP, then
verify and time the composite ModelNew end to end (its measurement is what counts).

    result = optimize(open("examples/gelu_add.py").read(), SearchConfig(max_candidates=32))

Budget: candidates verified (cache hits are free), GPU-seconds spent verifying, wall time; early stop
after `patience` candidates without a better plan, or at `target_speedup`. Ctrl-C stops proposing and
keeps the best verified result found so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from drtriton.search.backend import Backend, timing_of
from drtriton.search.cache import VerdictCache, candidate_key
from drtriton.search.compose import Step, compose
from drtriton.search.config import SearchConfig
from drtriton.search.cover import Cover, Option, best_cover
from drtriton.search.fragments import Fragment, GraphView, enumerate_fragments
from drtriton.search.program import fragment_program
from drtriton.search.proposers.base import Candidate, Feedback, FragmentTask, Proposer
from drtriton.util.errors import UsageError
from drtriton.util.provenance import Provenance

NON_SPEED_RULE = ("no GPU: speed is not measured, so the cover maximises the nodes in verified Triton "
                  "kernels, then minimises the number of kernels (the single-shot whole-program kernel wins "
                  "when it verifies); no timings are invented")


@dataclass(slots=True)
class Trial:
    """One candidate for one fragment and what the verifier said."""

    fragment: str                 # fragment key
    nodes: tuple[int, ...]
    proposer: str
    meta: dict
    status: str
    reason: str
    candidate_ms: float | None
    eager_ms: float | None
    speedup_vs_eager: float | None
    cached: bool
    spent: int                    # candidates verified so far (the budget axis of the plot)
    source: str = field(repr=False, default="")


@dataclass
class SearchResult:
    source: str | None                    # the winning ModelNew file (None: nothing verified)
    verdict: dict | None                  # its end-to-end verdict JSON
    kind: str                             # "composite", "whole" (one kernel for the program) or "none"
    plan: list[dict]                      # the cover: one entry per step
    speed_measured: bool
    speedup_vs_eager: float | None
    speedup_vs_compile: float | None
    single_shot_speedup: float | None     # the rule-based generator's default output, vs eager
    single_shot_speedup_vs_compile: float | None  # the same, vs torch.compile
    speedup_vs_single_shot: float | None
    candidates_tried: int
    cache_hits: int
    gpu_seconds: float | None             # None without a GPU
    wall_seconds: float
    stop_reason: str
    interrupted: bool
    history: list[dict]                   # [{"spent", "best_estimate", "verified"}]: the plot's data
    trials: list[Trial]
    notes: list[str]
    config: dict
    provenance: dict = field(default_factory=lambda: Provenance.here().to_json())

    def to_json(self) -> dict:
        d = asdict(self)
        d["trials"] = [{k: v for k, v in asdict(t).items() if k != "source"} for t in self.trials]
        return d


class _Budget:
    def __init__(self, cfg: SearchConfig, gpu: bool):
        self.cfg, self.gpu = cfg, gpu
        self.start = time.monotonic()
        self.spent = 0
        self.gpu_seconds = 0.0
        self.since_improvement = 0

    def exhausted(self) -> str | None:
        c = self.cfg
        if c.max_candidates is not None and self.spent >= c.max_candidates:
            return f"candidate budget ({c.max_candidates}) spent"
        if c.max_gpu_seconds is not None and self.gpu and self.gpu_seconds >= c.max_gpu_seconds:
            return f"GPU-second budget ({c.max_gpu_seconds:g}s) spent"
        if c.max_seconds is not None and time.monotonic() - self.start >= c.max_seconds:
            return f"wall-time budget ({c.max_seconds:g}s) spent"
        if c.patience is not None and self.since_improvement >= c.patience:
            return f"early stop: {c.patience} candidates without a better plan"
        return None


class Search:
    """One search over one program (see `optimize`)."""

    def __init__(self, problem_src: str, cfg: SearchConfig, backend: Backend,
                 proposers: list[Proposer] | None = None, on_progress: Callable[[dict], None] | None = None,
                 known_verdicts: dict[str, dict] | None = None):
        self.src, self.cfg, self.backend = problem_src, cfg, backend
        # whole-program candidate source -> verdict JSON already measured under the same verifier settings
        # (e.g. a benchmark's single-shot run): such a candidate is a free cache hit, not re-verified
        self.known = dict(known_verdicts or {})
        self.cache = VerdictCache(cfg.cache_dir)
        self.budget = _Budget(cfg, backend.gpu)
        self.on_progress = on_progress or (lambda _: None)
        if proposers is None:
            from drtriton.search.proposers import build

            tf32 = getattr(backend, "tf32_ok", lambda: False)()
            proposers = build(cfg, self.emit_rule, backend.gpu, getattr(backend, "describe_kernels", None), tf32)
        self.proposers = proposers
        self.trials: list[Trial] = []
        self.best: dict[str, Trial] = {}          # fragment key -> best correct trial
        self.notes: list[str] = []
        self.history: list[dict] = []
        self.cover: Cover | None = None
        self.estimate: float | None = None

    # ---- fragments ----

    def emit_rule(self, task: FragmentTask, knobs: dict) -> str:
        """The rule-based generator for one fragment (what RuleProposer calls)."""
        return self.backend.emit_triton(task, knobs, self.src)

    def prepare(self) -> None:
        imported = self.backend.import_graph(self.src)
        self.params = imported.params
        # Parameter bindings ride in the nodes so they are part of each fragment's key: two Linear layers
        # of one shape are different fragments (a kernel for self.fc1 must not stand in for self.fc2).
        graph = dict(imported.graph)
        graph["nodes"] = [dict(n, params=self.params[i]) if i < len(self.params) and self.params[i] else n
                          for i, n in enumerate(graph["nodes"])]
        if imported.extra_inputs:
            graph["extra_inputs"] = list(imported.extra_inputs)
        self.view = GraphView(graph, imported.types)
        if imported.unsupported:
            # Nodes the importer could not map are missing from the graph, so no fragment program would be
            # faithful: only the whole program (the user's own file) is searched.
            self.notes.append("importer left operators unmapped, only the whole program is searched: "
                              + "; ".join(imported.unsupported[:3]))
            self.fragments = enumerate_fragments(self.view, 1, 1)[:1] if self.view.num_nodes else []
        else:
            self.fragments = enumerate_fragments(self.view, self.cfg.max_fragment_nodes, self.cfg.max_fragments)
        self.whole = next((f for f in self.fragments if f.size == self.view.num_nodes), None)
        self.tasks: dict[str, FragmentTask] = {}
        self.programs: dict[str, str] = {}
        kept = []
        for frag in self.fragments:
            params = tuple(self.params[n] if n < len(self.params) else {} for n in frag.nodes)
            if frag is self.whole:
                program = self.src
            else:
                try:
                    program = fragment_program(self.src, self.view, frag, self.params, self.backend.op_spec)
                except UsageError as exc:
                    self.notes.append(f"fragment {list(frag.nodes)} skipped: {exc}")
                    continue
            kept.append(frag)
            # Fragments with one key at several places share one task (and one set of verdicts)
            # only when their programs agree; parameters differ between places, so key by program too.
            self.programs.setdefault(frag.key, program)
            self.tasks.setdefault(frag.key, FragmentTask(frag.key, program, frag.graph, self.cfg.policy, params))
        self.fragments = kept

    # ---- propose and verify ----

    def _verify(self, frag: Fragment, cands: list[Candidate]) -> None:
        settings = self.backend.settings()
        keys = [candidate_key(frag.key, c.source, settings) for c in cands]
        if frag is self.whole and self.known:
            for k, c in zip(keys, cands):
                if c.source in self.known and k not in self.cache._mem:
                    self.cache.put(k, self.known[c.source])
        todo = [(i, c) for i, (k, c) in enumerate(zip(keys, cands)) if self.cache.get(k) is None]
        room = None if self.cfg.max_candidates is None else self.cfg.max_candidates - self.budget.spent
        if room is not None:
            todo = todo[:max(room, 0)]
        fresh: dict[int, dict] = {}
        if todo:
            t0 = time.monotonic()
            verdicts = self.backend.verify_many([(self.programs[frag.key], c.source) for _, c in todo])
            if self.backend.gpu:
                self.budget.gpu_seconds += time.monotonic() - t0
            for (i, _), v in zip(todo, verdicts, strict=True):
                self.cache.put(keys[i], v)
                fresh[i] = v
        for i, (k, c) in enumerate(zip(keys, cands)):
            v = fresh.get(i)
            cached = v is None
            if cached:
                v = self.cache._mem.get(k)
                if v is None:
                    continue  # over the candidate budget: not verified
            else:
                self.budget.spent += 1
            cand_ms, eager_ms = timing_of(v)
            trial = Trial(frag.key, frag.nodes, c.proposer, c.meta, str(v.get("status")), v.get("reason") or "",
                          cand_ms, eager_ms, v.get("speedup_vs_eager"), cached, self.budget.spent, c.source)
            self.trials.append(trial)
            if trial.status == "correct" and self._better(trial, self.best.get(frag.key)):
                self.best[frag.key] = trial
        improved = self._replan()
        self.budget.since_improvement = 0 if improved else self.budget.since_improvement + len(fresh)
        self.history.append({"spent": self.budget.spent, "best_estimate": self.estimate,
                             "verified": sum(t.status == "correct" for t in self.trials)})
        self.on_progress({"spent": self.budget.spent, "best_estimate": self.estimate,
                          "cache_hits": self.cache.hits, "fragment": frag.nodes})

    def _better(self, new: Trial, old: Trial | None) -> bool:
        if old is None:
            return True
        if self.backend.gpu:
            return new.candidate_ms is not None and (old.candidate_ms is None or new.candidate_ms < old.candidate_ms)
        return False  # without timings the first verified candidate stays (no basis to prefer another)

    def feedback_for(self, key: str) -> list[Feedback]:
        return [Feedback(t.source, t.status, t.reason, t.speedup_vs_eager) for t in self.trials
                if t.fragment == key and not t.cached][-4:]

    # ---- plan ----

    def options(self) -> list[Option]:
        opts = []
        eager_node: dict[int, float] = {}
        for frag in self.fragments:
            trial = self.best.get(frag.key)
            if trial is None:
                continue
            if self.backend.gpu:
                if trial.candidate_ms is None:
                    continue
                cost = (trial.candidate_ms,)
                if frag.size == 1 and trial.eager_ms is not None:
                    eager_node[frag.nodes[0]] = trial.eager_ms
            else:
                cost = (0.0, 1.0)
            opts.append(Option(frag.mask, frag.ext_pred_mask, cost, "kernel", frag.key))
        if self.cfg.policy == "hybrid":
            for frag in self.singles():
                n = frag.nodes[0]
                if self.backend.gpu:
                    if n not in eager_node:
                        continue  # eager time of a lone node is known only from a timed verdict
                    cost = (eager_node[n],)
                else:
                    cost = (1.0, 0.0)
                opts.append(Option(frag.mask, frag.ext_pred_mask, cost, "torch", frag.key))
        return opts

    def _replan(self) -> bool:
        cover = best_cover(self.view.num_nodes, self.options())
        old = self.cover
        self.cover = cover
        if cover is None:
            return False
        if self.backend.gpu:
            whole_eager = self._eager_total()
            self.estimate = whole_eager / cover.cost[0] if whole_eager and cover.cost[0] > 0 else None
        return old is None or cover.cost < old.cost

    def singles(self) -> list[Fragment]:
        """Every node as a one-node fragment (kept even when --max-fragments cut them from proposals)."""
        if getattr(self, "_singles", None) is None:
            from drtriton.search.fragments import make_fragment

            self._singles = [make_fragment(self.view, 1 << n) for n in range(self.view.num_nodes)]
        return self._singles

    def _whole_verified(self) -> bool:
        c = self.cover
        return (c is not None and self.whole is not None and len(c.options) == 1
                and c.options[0].mask == self.whole.mask and c.options[0].kind == "kernel")

    def _eager_total(self) -> float | None:
        if self.whole is not None:
            for t in self.trials:
                if t.fragment == self.whole.key and t.eager_ms is not None:
                    return t.eager_ms
        return None

    def run_proposals(self) -> str:
        rounds = 1 + self.cfg.refine_rounds
        for rnd in range(rounds):
            for frag in self.fragments:
                for proposer in self.proposers:
                    stop = self.budget.exhausted()
                    if stop:
                        return stop
                    if rnd > 0 and proposer.name == "rule" and not self.backend.gpu:
                        continue
                    if self._too_little_for_fragments(frag):
                        continue
                    feedback = self.feedback_for(frag.key) if rnd > 0 else []
                    cands = proposer.propose(self.tasks[frag.key], self.cfg.candidates_per_fragment, feedback)
                    if cands:
                        self._verify(frag, cands)
                    if not self.backend.gpu and self._whole_verified():
                        return ("early stop: the whole program verified as one kernel; without timings "
                                "no other cover can rank higher")
                    if (self.cfg.target_speedup is not None and self.estimate is not None
                            and self.estimate >= self.cfg.target_speedup):
                        return f"early stop: estimated speedup {self.estimate:.2f}x reached the target"
        return "every fragment and round proposed"

    def _too_little_for_fragments(self, frag: Fragment) -> bool:
        """True when the whole program verified and the candidates left cannot cover the program with
        fragments (a cover needs at least one verified or timed option per node): they then go to the
        whole program's knob plan instead (its next round), where a small budget can still win."""
        if frag is self.whole or self.whole is None or self.whole.key not in self.best:
            return False
        if self.cfg.max_candidates is None:
            return False
        return self.cfg.max_candidates - self.budget.spent < self.view.num_nodes

    # ---- composite ----

    def build_composite(self, cover: Cover) -> str:
        by_mask = {f.mask: f for f in [*self.singles(), *self.fragments]}
        steps = []
        for opt in cover.options:
            frag = by_mask[opt.mask]
            ops = "+".join(self.view.op(n) for n in frag.nodes)
            if opt.kind == "kernel":
                trial = self.best[frag.key]
                label = f"nodes {list(frag.nodes)} ({ops}) -> Triton, from {trial.proposer} {trial.meta}"
                steps.append(Step(trial.source, "ModelNew", frag.arg_values, frag.exit_values, label))
            else:
                program = self.programs.get(frag.key) or fragment_program(
                    self.src, self.view, frag, self.params, self.backend.op_spec)
                steps.append(Step(program, "Model", frag.arg_values, frag.exit_values,
                                  f"node {frag.nodes[0]} ({ops}) stays in PyTorch"))
        return compose(self.src, steps, self.view.num_args, self.view.outputs, self.backend.state_names(self.src))

    def plan_json(self) -> list[dict]:
        if self.cover is None:
            return []
        by_mask = {f.mask: f for f in [*self.singles(), *self.fragments]}
        out = []
        for opt in self.cover.options:
            frag = by_mask[opt.mask]
            trial = self.best.get(frag.key) if opt.kind == "kernel" else None
            out.append({"nodes": list(frag.nodes), "ops": [self.view.op(n) for n in frag.nodes], "kind": opt.kind,
                        "proposer": trial.proposer if trial else None, "meta": trial.meta if trial else None,
                        "candidate_ms": trial.candidate_ms if trial else None, "cost": list(opt.cost)})
        return out

    def best_whole(self) -> Trial | None:
        if self.whole is None:
            return None
        trials = [t for t in self.trials if t.fragment == self.whole.key and t.status == "correct"]
        if not trials:
            return None
        timed = [t for t in trials if t.speedup_vs_eager is not None]
        return max(timed, key=lambda t: t.speedup_vs_eager) if timed else trials[0]

    def single_shot(self) -> Trial | None:
        if self.whole is None:
            return None
        return next((t for t in self.trials if t.fragment == self.whole.key and t.proposer == "rule"
                     and not t.meta.get("knobs")), None)


def _final_verdict(search: Search, source: str) -> dict:
    t0 = time.monotonic()
    verdict = search.backend.verify_many([(search.src, source)])[0]
    if search.backend.gpu:
        search.budget.gpu_seconds += time.monotonic() - t0
    search.budget.spent += 1
    return verdict


def optimize(problem_src: str, config: SearchConfig | None = None, backend: Backend | None = None,
             proposers: list[Proposer] | None = None,
             on_progress: Callable[[dict], None] | None = None,
             known_verdicts: dict[str, dict] | None = None) -> SearchResult:
    """Searches for a verified, faster ModelNew for a KernelBench-format program.

    Args:
        problem_src: the program's source (Model, get_inputs, get_init_inputs).
        config: budget and behaviour (SearchConfig() when None).
        backend: importer, emitters and verifier; EngineBackend(VerifyConfig(policy=config.policy)) when None.
        proposers: proposers to use; when None, built from config (see drtriton.search.proposers.build).
        on_progress: called after each verified batch with {"spent", "best_estimate", "cache_hits", ...}.
        known_verdicts: whole-program candidate source -> verdict JSON measured under the backend's own
            verifier settings (a benchmark's single-shot result); such candidates cost nothing.

    Returns:
        SearchResult; `source` is None when nothing verified. Ctrl-C during proposals stops them and the
        best verified result found so far is assembled and returned (interrupted=True).
    """
    cfg = config or SearchConfig()
    if backend is None:
        from drtriton.search.backend import EngineBackend
        from drtriton.verify import VerifyConfig

        backend = EngineBackend(VerifyConfig(policy=cfg.policy, **cfg.extra))
        try:
            return _optimize(problem_src, cfg, backend, proposers, on_progress, known_verdicts)
        finally:
            backend.close()
    return _optimize(problem_src, cfg, backend, proposers, on_progress, known_verdicts)


def _optimize(problem_src: str, cfg: SearchConfig, backend: Backend, proposers: list[Proposer] | None,
              on_progress: Callable[[dict], None] | None, known_verdicts: dict[str, dict] | None = None
              ) -> SearchResult:
    search = Search(problem_src, cfg, backend, proposers, on_progress, known_verdicts)
    search.prepare()
    interrupted = False
    try:
        stop = search.run_proposals()
    except KeyboardInterrupt:
        interrupted, stop = True, "interrupted (Ctrl-C): kept the best verified result so far"
    for p in search.proposers:
        search.notes += [f"{p.name}: {e}" for e in getattr(p, "errors", [])[:5]]
    if not backend.gpu:
        search.notes.append(NON_SPEED_RULE)

    source, verdict, kind = None, None, "none"
    whole = search.best_whole()
    cover = search.cover
    try:
        if cover is not None and len(cover.options) == 1 and cover.options[0].kind == "kernel" \
                and search.whole is not None and cover.options[0].mask == search.whole.mask:
            trial = search.best[search.whole.key]
            source, kind = trial.source, "whole"
            verdict = search.cache._mem.get(candidate_key(search.whole.key, trial.source, backend.settings()))
        elif cover is not None and any(o.kind == "kernel" for o in cover.options):
            composite = search.build_composite(cover)
            v = _final_verdict(search, composite)
            if v.get("status") == "correct":
                source, verdict, kind = composite, v, "composite"
            else:
                search.notes.append(f"composite rejected ({v.get('status')}): {v.get('reason')}")
    except KeyboardInterrupt:
        interrupted = True
        search.notes.append("interrupted while verifying the composite: kept the best whole-program kernel")
    if whole is not None:
        whole_verdict = search.cache._mem.get(candidate_key(search.whole.key, whole.source, backend.settings()))
        measured = verdict.get("speedup_vs_eager") if verdict else None
        if source is None or (backend.gpu and whole.speedup_vs_eager is not None
                              and (measured is None or whole.speedup_vs_eager > measured)):
            source, verdict, kind = whole.source, whole_verdict, "whole"
    if search.cover is not None and not search.cover.exact:
        search.notes.append(f"cover: state cap hit after {search.cover.states} cuts; a greedy cover was used")

    speed = verdict.get("speedup_vs_eager") if verdict else None
    single = search.single_shot()
    single_speed = single.speedup_vs_eager if single else None
    single_verdict = search.cache._mem.get(candidate_key(search.whole.key, single.source, backend.settings())) \
        if single is not None and search.whole is not None else None
    vs_single = speed / single_speed if speed and single_speed else None
    return SearchResult(
        source=source, verdict=verdict, kind=kind, plan=search.plan_json() if kind == "composite" else (
            [{"nodes": list(range(search.view.num_nodes)), "kind": "kernel", "ops": "whole program"}]
            if kind == "whole" else []),
        speed_measured=backend.gpu and speed is not None, speedup_vs_eager=speed,
        speedup_vs_compile=verdict.get("speedup_vs_compile") if verdict else None,
        single_shot_speedup=single_speed, speedup_vs_single_shot=vs_single,
        single_shot_speedup_vs_compile=(single_verdict or {}).get("speedup_vs_compile"),
        candidates_tried=search.budget.spent, cache_hits=search.cache.hits,
        gpu_seconds=search.budget.gpu_seconds if backend.gpu else None,
        wall_seconds=time.monotonic() - search.budget.start, stop_reason=stop, interrupted=interrupted,
        history=search.history, trials=search.trials, notes=search.notes, config=cfg.to_json())


def geomean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None
