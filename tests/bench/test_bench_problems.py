"""Finding problems in a KernelBench-layout checkout."""

from pathlib import Path

import pytest

from drtriton.bench.problems import discover, parse_ids, resolve_root
from drtriton.util.errors import UsageError

FAKE = Path(__file__).parent / "fake_kernelbench"


def test_root_is_found_from_the_checkout_or_its_kernelbench_folder():
    assert resolve_root(FAKE) == FAKE / "KernelBench"
    assert resolve_root(FAKE / "KernelBench") == FAKE / "KernelBench"


def test_discover_sorts_by_leading_number_and_reads_names():
    problems = discover(FAKE, 1)
    assert [p.problem_id for p in problems] == [1, 2, 3, 4, 5]
    assert problems[1].name == "ReLU" and problems[1].stem == "2_ReLU" and problems[1].key == "level1/2_ReLU"
    assert len(problems[0].sha256) == 64 and "class Model" in problems[0].source()


def test_problem_ids_select_a_subset():
    assert [p.problem_id for p in discover(FAKE, 1, "2-3,5")] == [2, 3, 5]
    assert parse_ids("all") is None and parse_ids(None) is None
    assert parse_ids("1-3, 7") == {1, 2, 3, 7}


@pytest.mark.parametrize("spec", ["a", "3-1", "1,,2", "1-"])
def test_bad_id_specs_are_usage_errors(spec):
    with pytest.raises(UsageError):
        parse_ids(spec)


def test_missing_ids_level_and_path_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="ids \\[9\\]"):
        discover(FAKE, 1, "9")
    with pytest.raises(UsageError, match="levels here: \\[1, 2\\]"):
        discover(FAKE, 3)
    with pytest.raises(UsageError, match="not a folder"):
        discover(tmp_path / "nope", 1)
    with pytest.raises(UsageError, match="no level1"):
        discover(tmp_path, 1)


def test_two_files_with_one_id_are_refused(tmp_path):
    level = tmp_path / "KernelBench" / "level1"
    level.mkdir(parents=True)
    (level / "1_A.py").write_text("x = 1\n")
    (level / "1_B.py").write_text("x = 2\n")
    with pytest.raises(UsageError, match="share id 1"):
        discover(tmp_path, 1)


def test_non_problem_files_are_ignored(tmp_path):
    level = tmp_path / "level2"
    level.mkdir()
    (level / "3_Thing.py").write_text("x = 1\n")
    (level / "__init__.py").write_text("")
    (level / "notes.txt").write_text("")
    (level / "12_Conv-Transpose_3D.py").write_text("x = 2\n")
    assert [p.stem for p in discover(tmp_path, 2)] == ["3_Thing", "12_Conv-Transpose_3D"]
