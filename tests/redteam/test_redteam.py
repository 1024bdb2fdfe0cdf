"""The red-team corpus against the verifier: honest solutions must be `correct`, each cheat must get its
expected status (and rule id when its header names one).

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/redteam                 # default tier
    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/redteam -m slow         # every file, full verifier

Default tier: header sanity, the static rule each static cheat must trip (rules.check_static, no workers),
a verifier-independent harness (honest files really match the reference at 1e-4 on fresh inputs and launch
a kernel; `incorrect` cheats really are wrong), and the full verifier on a representative subset (one
honest file per policy, every dynamic rule, poisoning). The `slow` tier runs every file through the
verifier (measured: 86 files in 775 s on 2 shared CPU cores, hence slow).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from redteam_harness import CHEATS, HONEST, check_candidate, problem_for, read_header

os.environ.setdefault("TRITON_INTERPRET", "1")  # the in-process harness runs Triton on CPU tensors

verify_mod = pytest.importorskip("drtriton.verify")
from drtriton.verify import RULES, Status, VerifierPool, VerifyConfig
from drtriton.verify.rules import check_static

HONEST_FILES = sorted(HONEST.glob("*.py"))
CHEAT_FILES = sorted(CHEATS.glob("*.py"))
ALL_FILES = HONEST_FILES + CHEAT_FILES
# Fewer seeds than the verifier's default 5 keeps the CPU interpreter run short; both distributions stay,
# because several `incorrect` cheats are only wrong on the heavy-tailed draw.
TEST_SEEDS = (0, 1, 2)
# The representative subset the default tier sends through the real verifier.
DEFAULT_TIER = {
    "relu__elementwise.py", "conv_relu_add__torch_conv_triton_epilogue.py",
    "launch_kernel_not_launched.py", "policy_torch_compute_strict.py", "policy_dispatch_mode_escape.py",
    "memo_shape_keyed_cache.py", "memo_same_object_cache.py", "memo_first_output_returned.py",
    "output_aliases_input.py", "output_tensor_subclass.py", "incorrect_uninitialised_output.py",
    "sandbox_runtime_subprocess.py", "policy_triton_share_hybrid.py",
    "conv_relu_add__torch_conv_triton_inplace_epilogue.py",
}


def _ids(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _verifier_params(paths: list[Path]) -> list:
    """Files as pytest params; `# requires: gpu` files are GPU tests, `# known_gap:` files are strict xfails
    (a verifier gap this corpus found: when the verifier closes it, the xfail turns into a failure that
    asks for the header to be removed)."""
    params = []
    for path in paths:
        header = read_header(path)
        marks = []
        if header.get("requires") == "gpu":
            marks += [pytest.mark.gpu, pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU (GPU timing)")]
        if header.get("known_gap"):
            marks.append(pytest.mark.xfail(strict=True, reason=f"known verifier gap: {header['known_gap']}"))
        params.append(pytest.param(path, marks=marks, id=_ids(path)))
    return params


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def expectation(path: Path) -> tuple[Status, str | None]:
    header = read_header(path)
    if path.parent == HONEST:
        return Status.CORRECT, None
    rule = header.get("rule")
    return Status(header["expected"]), None if rule in (None, "-") else rule


def config_for(path: Path) -> VerifyConfig:
    header = read_header(path)
    disabled = tuple(r.strip() for r in header.get("disable", "").split(",") if r.strip())
    return VerifyConfig(seeds=TEST_SEEDS, policy=header.get("policy", "mixed"), disabled_rules=disabled,
                        timeout_s=300.0)


# ---- the corpus itself ----
def test_corpus_has_at_least_25_honest_and_25_cheating_files():
    assert len(HONEST_FILES) >= 25 and len(CHEAT_FILES) >= 25, (len(HONEST_FILES), len(CHEAT_FILES))


@pytest.mark.parametrize("path", ALL_FILES, ids=_ids)
def test_corpus_file_header_names_an_existing_problem_and_known_rule(path):
    header = read_header(path)
    assert problem_for(path).exists(), f"{path.name}: no problem file {problem_for(path).name}"
    assert header.get("policy", "mixed") in ("strict", "mixed", "hybrid")
    if path.parent == CHEATS:
        assert header.get("why"), f"{path.name}: header lacks '# why:'"
        status, rule = expectation(path)
        assert status is not Status.CORRECT
        assert header.get("requires", "gpu") == "gpu"
        if rule is not None:
            assert rule in RULES, f"{path.name}: unknown rule {rule}"
        for disabled in filter(None, (r.strip() for r in header.get("disable", "").split(","))):
            assert disabled in RULES and disabled != rule
    else:
        assert path.stem.split("__")[0] == header.get("problem"), f"{path.name}: name and header disagree"


def test_every_rule_has_at_least_one_cheat():
    covered = {expectation(p)[1] for p in CHEAT_FILES}
    assert set(RULES) <= covered, f"rules without a cheating example: {sorted(set(RULES) - covered)}"


# ---- static rules (cheap: no worker) ----
@pytest.mark.parametrize("path", HONEST_FILES, ids=_ids)
def test_honest_solution_trips_no_static_rule(path):
    findings = check_static(ast.parse(path.read_text()))
    assert findings == [], f"{path.name}: {findings}"


# Known gaps are excluded here: the verifier tests carry them as strict xfails.
STATIC_CHEATS = [p for p in CHEAT_FILES if expectation(p)[1] in RULES and RULES[expectation(p)[1]].kind == "static"
                 and not read_header(p).get("known_gap")]


@pytest.mark.parametrize("path", STATIC_CHEATS, ids=_ids)
def test_static_cheat_trips_its_rule_first(path):
    _, rule = expectation(path)
    findings = check_static(ast.parse(path.read_text()), config_for(path).disabled_rules)
    assert findings, f"{path.name}: no static finding, expected {rule}"
    assert findings[0].rule == rule, f"{path.name}: first finding {findings[0]}, expected {rule}"


# ---- verifier-independent ground truth ----
@pytest.mark.parametrize("path", HONEST_FILES, ids=_ids)
def test_honest_solution_matches_reference_without_the_verifier(path):
    result = check_candidate(problem_for(path), path)
    assert result.ok, f"{path.name}: {result.reason}"


INCORRECT_CHEATS = [p for p in CHEAT_FILES if expectation(p)[0] is Status.INCORRECT]


@pytest.mark.parametrize("path", INCORRECT_CHEATS, ids=_ids)
def test_incorrect_cheat_really_is_wrong_without_the_verifier(path):
    result = check_candidate(problem_for(path), path)
    assert not result.ok, f"{path.name} matched the reference; it is not a valid 'incorrect' example"


# ---- the verifier on the corpus ----
@pytest.fixture(scope="module")
def verdicts(request):
    """Verdicts by file name, computed once per module: one VerifierPool per distinct config."""
    cache: dict[str, object] = {}
    pools: dict[str, VerifierPool] = {}

    def get(path: Path):
        if path.name not in cache:
            config = config_for(path)
            pool = pools.get(config.hash())
            if pool is None:
                pool = pools[config.hash()] = VerifierPool(config, workers=2)
            # Batch every pending file that shares this config, so the pool overlaps their workers.
            selected = request.config.getoption("-m") or ""
            names = {p.name for p in ALL_FILES} if "slow" in selected and "not slow" not in selected \
                else DEFAULT_TIER | {path.name}
            batch = [p for p in ALL_FILES if p.name in names and p.name not in cache
                     and config_for(p).hash() == config.hash()]
            results = pool.verify_many([(problem_for(p).read_text(), p.read_text()) for p in batch])
            cache.update({p.name: v for p, v in zip(batch, results)})
        return cache[path.name]

    yield get
    for pool in pools.values():
        stats = pool.stats()  # shown with -s: how many verdicts came from reused workers, why others did not
        print(f"\nredteam pool (policy {pool.config.policy}): reuse {stats.get('reuse')}, "
              f"{stats.get('candidates_on_reused_workers')} candidates on reused workers, "
              f"refusals {stats.get('reuse_refusals')}")
        for why, example in (stats.get("reuse_refusal_examples") or {}).items():
            print(f"  {why}: {' | '.join(example)}")
        pool.close()


def _check_verdict(path: Path, verdict) -> None:
    status, rule = expectation(path)
    assert verdict.status is status, f"{path.name}: got {verdict.status} ({verdict.reason}), expected {status}"
    if rule is not None:
        assert verdict.rule == rule, f"{path.name}: rule {verdict.rule} ({verdict.reason}), expected {rule}"
    assert verdict.policy == config_for(path).policy


@pytest.mark.parametrize("path", _verifier_params([p for p in ALL_FILES if p.name in DEFAULT_TIER]))
def test_verifier_gives_expected_verdict_on_representative_subset(path, verdicts):
    _check_verdict(path, verdicts(path))


@pytest.mark.slow
@pytest.mark.parametrize("path", _verifier_params([p for p in ALL_FILES if p.name not in DEFAULT_TIER]))
def test_verifier_gives_expected_verdict(path, verdicts):
    _check_verdict(path, verdicts(path))
