"""``[train] augment``: the training recipe's augmentations, every arm's, before its own
strategy; in the trial key only where set, and only for models that train on batches."""

from __future__ import annotations

import pytest
import torch

from cryobench.config import parse_benchmark
from cryobench.errors import ConfigError
from cryobench.registry import Registry
from cryobench.run.plan import expand_trials


def _doc(train: dict, arms: list[dict] | None = None) -> dict:
    return {"benchmark": {"name": "r", "seeds": [0]},
            "dataset": {"source": "synthetic", "box": 16, "scale": 0.2},
            "train": {"max_epochs": 1, **train},
            "arm": arms or [{"name": "plain", "model": "multipath"},
                            {"name": "mixup", "model": "multipath", "augment": "mixup"},
                            {"name": "svm", "model": "svm"}]}


def _trials(train: dict, arms: list[dict] | None = None):
    return {t.arm: t for t in expand_trials(parse_benchmark(_doc(train, arms), Registry()))}


def test_a_recipe_is_every_arms_and_keys_change_only_where_it_is_set():
    without, with_ = _trials({}), _trials({"augment": ["wedge_flip", "shift"]})
    assert [a.name for a in with_["mixup"].recipe] == ["wedge_flip", "shift"]
    assert [a.name for a in with_["mixup"].augment] == ["mixup"]  # its strategy, as it was
    assert "recipe" not in without["plain"].config()
    assert [r["name"] for r in with_["plain"].config()["recipe"]] == ["wedge_flip", "shift"]
    assert with_["plain"].key != without["plain"].key
    assert with_["svm"].key == without["svm"].key  # fits on its own: nothing to augment
    bench = parse_benchmark(_doc({"augment": "wedge_flip"}), Registry())
    assert bench.arms[0].is_plain  # the recipe is not a strategy


def test_an_arm_may_set_its_own_recipe_and_none_means_no_recipe():
    arms = [{"name": "own", "model": "multipath", "train": {"augment": "shift"}},
            {"name": "off", "model": "multipath", "train": {"augment": "none"}}]
    trials = _trials({"augment": "wedge_flip"}, arms)
    assert [a.name for a in trials["own"].recipe] == ["shift"]
    assert trials["off"].recipe == () and "recipe" not in trials["off"].config()


def test_a_bad_recipe_names_where_it_is():
    with pytest.raises(ConfigError) as info:
        parse_benchmark(_doc({"augment": ["wedge_flip", "nonesuch"]}), Registry())
    assert "train.augment[1]" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_benchmark(_doc({"augment": {"name": "shift", "max_shift": -1}}), Registry())
    assert "train.augment" in str(info.value)


def test_shift_moves_each_particle_by_whole_voxels_and_keeps_its_voxels():
    shift = Registry().create("augmentation", "shift", {"max_shift": 2})
    volumes = torch.randn(6, 1, 8, 8, 8)
    out, targets = shift.apply(volumes, torch.eye(6), torch.Generator().manual_seed(0))
    assert torch.equal(targets, torch.eye(6))
    moved = 0
    for before, after in zip(volumes, out):
        assert torch.equal(before.flatten().sort().values, after.flatten().sort().values)
        found = [s for s in _shifts(2) if torch.equal(torch.roll(before, s, (1, 2, 3)), after)]
        assert found, "not a whole-voxel translation of at most 2"
        moved += found[0] != (0, 0, 0)
    assert moved >= 4
    same, _ = Registry().create("augmentation", "shift", {"max_shift": 0}).apply(
        volumes, torch.eye(6), torch.Generator())
    assert same is volumes


def _shifts(limit: int):
    span = range(-limit, limit + 1)
    return [(a, b, c) for a in span for b in span for c in span]


def test_a_profile_reaches_the_recipe_and_its_errors_name_the_profile():
    doc = _doc({"augment": ["wedge_flip", {"name": "shift", "max_shift": 2}]})
    doc["profile"] = {"small": {"components": {"augment": {"max_shift": 1}}},
                      "bad": {"train": {"augment": [{"name": "shift", "max_shift": -1}]}}}
    bench = parse_benchmark(doc, Registry(), profile="small")
    assert bench.arms[0].recipe[1].params["max_shift"] == 1
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc, Registry(), profile="bad")
    assert "profile.bad.train.augment[0]" in str(info.value)


def test_an_arm_that_fits_on_its_own_cannot_ask_for_a_recipe():
    arms = [{"name": "svm", "model": "svm", "train": {"augment": "shift"}}]
    with pytest.raises(ConfigError) as info:
        parse_benchmark(_doc({}, arms), Registry())
    assert "arm[0].train.augment" in str(info.value)
