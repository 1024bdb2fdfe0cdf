"""The held-out split: stratified, disjoint, reproducible, recorded."""

import shutil
from pathlib import Path

import pytest

from drtriton.bench.problems import discover
from drtriton.bench.split import load_split, make_split, save_split, split_checkout
from drtriton.util.errors import UsageError

FAKE = Path(__file__).parent / "fake_kernelbench"


def test_split_is_stratified_and_disjoint_per_level():
    split = split_checkout(FAKE, fraction=0.3, seed=0)
    assert len(split.heldout[1]) == 2 and len(split.tune[1]) == 3  # ceil(0.3 * 5) = 2
    assert len(split.heldout[2]) == 2 and len(split.tune[2]) == 2  # ceil(0.3 * 4) = 2
    for level in (1, 2):
        assert not set(split.heldout[level]) & set(split.tune[level])
        assert len(set(split.heldout[level]) | set(split.tune[level])) == len(discover(FAKE, level))


def test_same_seed_same_split_and_another_seed_can_differ():
    assert split_checkout(FAKE, 0.3, 0) == split_checkout(FAKE, 0.3, 0)
    picks = {split_checkout(FAKE, 0.4, seed).heldout[1] for seed in range(8)}
    assert len(picks) > 1


def test_adding_a_problem_does_not_reshuffle_the_others(tmp_path):
    shutil.copytree(FAKE, tmp_path / "kb")
    before = split_checkout(tmp_path / "kb", 0.5, 3)
    level1 = tmp_path / "kb" / "KernelBench" / "level1"
    (level1 / "99_Extra.py").write_text((level1 / "2_ReLU.py").read_text())
    after = split_checkout(tmp_path / "kb", 0.5, 3)
    old = set(before.heldout[1]) | set(before.tune[1])
    # a problem that was held out stays held out unless the new one displaced it from the quota
    assert all(s in after.heldout[1] or s in after.tune[1] for s in old)
    assert len(set(before.tune[1]) & set(after.heldout[1])) == 0


def test_split_file_round_trips_and_warns_on_changed_problems(tmp_path):
    shutil.copytree(FAKE, tmp_path / "kb")
    split = split_checkout(tmp_path / "kb", 0.5, 1)
    save_split(split, tmp_path / "split.json")
    loaded = load_split(tmp_path / "split.json")
    assert loaded == split
    stem = loaded.heldout[1][0]
    assert loaded.is_heldout(1, stem) and not loaded.is_heldout(1, loaded.tune[1][0])
    path = next((tmp_path / "kb" / "KernelBench" / "level1").glob(f"{stem}.py"))
    path.write_text(path.read_text() + "\n# edited\n")
    chosen, warnings = loaded.select("heldout", discover(tmp_path / "kb", 1))
    assert [p.stem for p in chosen] == list(loaded.heldout[1])
    assert warnings == [f"level1/{stem} changed since the split was recorded"]


def test_bad_fraction_and_bad_file_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="fraction"):
        make_split(discover(FAKE, 1), 1.0, 0)
    with pytest.raises(UsageError, match="does not exist"):
        load_split(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UsageError, match="not a split file"):
        load_split(tmp_path / "bad.json")
