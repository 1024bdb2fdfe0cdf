"""Proposer specs, the solutions:DIR layouts, and --budget parsing."""

import json
from pathlib import Path

import pytest

from drtriton.bench.problems import discover
from drtriton.bench.proposers import Budget, SolutionsProposer, make_proposer, parse_budget, slug
from drtriton.util.errors import UsageError

HERE = Path(__file__).parent
FAKE = HERE / "fake_kernelbench"
SOLUTIONS = HERE / "fake_solutions"


def problem(level, pid):
    return next(p for p in discover(FAKE, level) if p.problem_id == pid)


def test_solutions_found_by_level_folder_and_id():
    proposer = make_proposer(f"solutions:{SOLUTIONS}")
    proposal = proposer.propose(problem(1, 2))
    assert "relu_kernel" in proposal.source and proposal.extra["solution_path"].endswith("2_relu_triton.py")


def test_solutions_found_by_flat_problem_stem(tmp_path):
    (tmp_path / "3_Softmax_Rows.py").write_text("class ModelNew: ...\n")
    proposal = SolutionsProposer(tmp_path).propose(problem(1, 3))
    assert proposal.source == "class ModelNew: ...\n"


def test_missing_solution_is_no_candidate_with_reason():
    proposal = make_proposer(f"solutions:{SOLUTIONS}").propose(problem(1, 1))
    assert proposal.source is None and "no saved solution" in proposal.reason


def test_ambiguous_solutions_are_refused_per_problem(tmp_path):
    (tmp_path / "level1").mkdir()
    (tmp_path / "level1" / "2_a.py").write_text("a")
    (tmp_path / "level1" / "2_b.py").write_text("b")
    proposal = SolutionsProposer(tmp_path).propose(problem(1, 2))
    assert proposal.source is None and "2 files match" in proposal.reason


def test_fingerprint_follows_the_solution_content(tmp_path):
    (tmp_path / "2_ReLU.py").write_text("v1")
    proposer = SolutionsProposer(tmp_path)
    before = proposer.fingerprint(problem(1, 2))
    (tmp_path / "2_ReLU.py").write_text("v2")
    assert proposer.fingerprint(problem(1, 2)) != before


@pytest.mark.parametrize("spec,expected", [
    (None, Budget()), ("64", Budget(candidates=64)), ("300s", Budget(seconds=300.0)),
    ("candidates=8,seconds=90", Budget(candidates=8, seconds=90.0)),
])
def test_budget_forms(spec, expected):
    assert parse_budget(spec) == expected


@pytest.mark.parametrize("spec", ["fast", "0", "candidates=", "-3"])
def test_bad_budgets_are_usage_errors(spec):
    with pytest.raises(UsageError):
        parse_budget(spec)


@pytest.mark.parametrize("spec", ["magic", "solutions", "rule:x", "solutions:/no/such/folder", "model:/no/such"])
def test_bad_proposer_specs_are_usage_errors(spec):
    with pytest.raises(UsageError):
        make_proposer(spec)


def test_slug_is_folder_safe_and_distinguishes_paths():
    assert slug("rule") == "rule"
    a, b = slug("solutions:/x/kernels"), slug("solutions:/y/kernels")
    assert a != b and a.startswith("solutions-kernels-") and "/" not in a


def test_search_budget_and_policy_map_onto_search_config(tmp_path):
    proposer = make_proposer("search", Budget(candidates=8, seconds=60.0), policy="hybrid", cache_dir=tmp_path,
                             verify_extra={"atol": 1e-2, "rtol": 1e-2})
    cfg = proposer.config()
    assert (cfg.max_candidates, cfg.max_seconds, cfg.policy, cfg.cache_dir) == (8, 60.0, "hybrid", tmp_path)
    assert cfg.extra == {"atol": 1e-2, "rtol": 1e-2}


def test_search_without_a_kernel_is_no_candidate_with_its_stop_reason(monkeypatch):
    import types

    import drtriton.search

    from drtriton.bench.proposers import SearchProposer

    result = types.SimpleNamespace(source=None, kind="none", candidates_tried=3, stop_reason="budget "
                                                                                             "exhausted",
                                   speedup_vs_eager=None, wall_seconds=1.0, notes=["2 fragments unsupported"],
                                   cache_hits=0, single_shot_speedup=None, speedup_vs_single_shot=None,
                                   gpu_seconds=None, plan=[])
    monkeypatch.setattr(drtriton.search, "optimize", lambda src, cfg, **kw: result)
    monkeypatch.setattr(SearchProposer, "backend", lambda self: None)  # no verifier pool for a stand-in
    proposal = make_proposer("search").propose(problem(1, 2))
    assert proposal.source is None
    assert proposal.reason == "search found no verified kernel (budget exhausted; 2 fragments unsupported)"
    assert proposal.extra["candidates_tried"] == 3


def test_a_proposer_crash_on_one_problem_becomes_that_problems_reason(monkeypatch):
    import drtriton.search
    from drtriton.bench.proposers import SearchProposer

    def boom(src, cfg, **kw):
        raise RuntimeError("fragment enumeration blew up\nsecond line")

    monkeypatch.setattr(drtriton.search, "optimize", boom)
    monkeypatch.setattr(SearchProposer, "backend", lambda self: None)
    proposal = make_proposer("search").propose(problem(1, 2))
    assert proposal.source is None and proposal.reason == "proposer raised RuntimeError: fragment enumeration blew up"


def test_model_folder_without_config_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no config.json"):
        make_proposer(f"model:{tmp_path}")


def test_rule_proposer_compiles_supported_problems_and_explains_unsupported_ones(tmp_path):
    proposer = make_proposer("rule", policy="mixed")
    ok = proposer.propose(problem(2, 5))
    assert "class ModelNew" in ok.source and "@triton.jit" in ok.source and ok.seconds is not None
    level = tmp_path / "level1"
    level.mkdir()
    (level / "1_Singular_Values.py").write_text(  # no registry operator computes singular values
        "import torch\n\n\nclass Model(torch.nn.Module):\n    def forward(self, x):\n"
        "        return torch.linalg.svdvals(x)\n\n\ndef get_inputs():\n    return [torch.randn(6, 5)]\n\n\n"
        "def get_init_inputs():\n    return []\n")
    refused = proposer.propose(discover(tmp_path, 1)[0])
    assert refused.source is None and "svdvals" in refused.reason


def test_search_reuses_the_runs_verified_single_shot_only_under_the_same_problem_and_verifier(tmp_path):
    from drtriton.bench.runner import config_digest
    from drtriton.verify import VerifyConfig

    p = problem(1, 2)
    vc = VerifyConfig(policy="mixed")
    rule_dir = tmp_path / "rule"
    (rule_dir / "cache").mkdir(parents=True)
    (rule_dir / "candidates").mkdir()
    (rule_dir / "candidates" / f"{p.stem}.py").write_text("class ModelNew: pass\n")
    verdict = {"status": "correct", "reason": ""}

    def record(sha, verify):
        (rule_dir / "cache" / f"{p.stem}.json").write_text(json.dumps(
            {"key": {"problem": sha, "verify": verify}, "verdict": verdict}))

    proposer = make_proposer("search", verify_config=vc, rule_dir=rule_dir)
    record(p.sha256, config_digest(vc))
    assert proposer.known_verdicts(p) == {"class ModelNew: pass\n": verdict}
    record("another problem text", config_digest(vc))
    assert proposer.known_verdicts(p) == {}
    record(p.sha256, config_digest(VerifyConfig(policy="strict")))
    assert proposer.known_verdicts(p) == {}


def test_rule_proposer_names_a_library_only_program_instead_of_proposing_it(tmp_path):
    from drtriton.bench.proposers import RuleProposer

    src = (
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(3, 4, 3)\n\n"
        "    def forward(self, x):\n        return self.conv(x)\n\n\n"
        "def get_inputs():\n    return [torch.randn(2, 3, 8, 8)]\n\n\ndef get_init_inputs():\n    return []\n"
    )
    path = tmp_path / "level1" / "54_conv_only.py"
    path.parent.mkdir()
    path.write_text(src)
    conv_only = next(p for p in discover(tmp_path, 1) if p.problem_id == 54)
    proposal = RuleProposer(policy="mixed").propose(conv_only)
    assert proposal.source is None
    assert "library call" in proposal.reason and "conv2d" in proposal.reason
    with_relu = src.replace("return self.conv(x)", "return torch.relu(self.conv(x))")
    path.write_text(with_relu)
    proposal = RuleProposer(policy="mixed").propose(next(p for p in discover(tmp_path, 1) if p.problem_id == 54))
    assert proposal.source is not None and "@triton.jit" in proposal.source
