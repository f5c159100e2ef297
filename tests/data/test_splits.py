from __future__ import annotations

import numpy as np
import pytest

from cryobench.data.splits import holdout_split, kfold_split
from cryobench.errors import CryobenchError

LABELS = np.repeat(np.arange(4), [1043, 80, 125, 386])


def test_holdout_is_stratified_disjoint_and_complete():
    split = holdout_split(LABELS, 0.2, 0.1, seed=3)
    parts = [split.train, split.val, split.test]
    union = np.concatenate(parts)
    assert len(union) == len(set(union.tolist())) == len(LABELS)  # no particle twice
    assert len(split.test) == 327  # the paper's 1307 / 327 split
    for part in parts:
        share = np.bincount(LABELS[part], minlength=4) / len(part)
        np.testing.assert_allclose(share, np.bincount(LABELS) / len(LABELS), atol=0.01)


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = (holdout_split(LABELS, 0.2, 0.1, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_kfold_folds_partition_the_data():
    tests = [kfold_split(LABELS, 5, f, 0.1, seed=0).test for f in range(5)]
    union = np.concatenate(tests)
    assert sorted(union.tolist()) == list(range(len(LABELS)))
    split = kfold_split(LABELS, 5, 2, 0.1, seed=0)
    assert not set(split.train) & set(split.test) and not set(split.val) & set(split.test)


def test_too_small_class_is_named():
    labels = np.array([0] * 50 + [1] * 2)
    with pytest.raises(CryobenchError, match="class 'rare' has 2 particles; this split"):
        holdout_split(labels, 0.2, 0.1, seed=0, class_names=("common", "rare"))
    labels = np.array([0] * 200 + [1] * 3)  # rounding leaves it out of the test part
    with pytest.raises(CryobenchError, match="class 'rare' .3 particles. has none in the"):
        holdout_split(labels, 0.05, 0.05, seed=0, class_names=("common", "rare"))


GROUPED_LABELS = np.tile(np.repeat(np.arange(3), [20, 10, 6]), 5)  # 5 tomograms alike
GROUPS = np.repeat(np.array([f"TS_{i}" for i in range(5)], dtype=object), 36)


def test_grouped_holdout_keeps_each_tomogram_on_one_side():
    for seed in range(4):
        split = holdout_split(GROUPED_LABELS, 0.2, 0.1, seed, groups=GROUPS)
        test_tomograms = set(GROUPS[split.test])
        assert len(test_tomograms) == 1  # 1 / 0.2 = 5 folds of whole tomograms
        assert not test_tomograms & set(GROUPS[split.train])
        assert not test_tomograms & set(GROUPS[split.val])
        assert len(split.test) == 36
        union = np.concatenate([split.train, split.val, split.test])
        assert sorted(union.tolist()) == list(range(len(GROUPED_LABELS)))
    chosen = [GROUPS[holdout_split(GROUPED_LABELS, 0.2, 0.1, s, groups=GROUPS).test[0]]
              for s in range(5)]
    assert sorted(chosen) == sorted(set(GROUPS))  # seeds 0-4 test each tomogram once


def test_grouped_kfold_folds_are_whole_tomograms():
    tests = [kfold_split(GROUPED_LABELS, 5, f, 0.1, 0, groups=GROUPS).test for f in range(5)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(len(GROUPED_LABELS)))
    assert all(len(set(GROUPS[t])) == 1 for t in tests)


def test_too_few_tomograms_are_named():
    two = np.where(GROUPS == "TS_0", "TS_0", "TS_1").astype(object)
    with pytest.raises(CryobenchError, match="split by tomogram: 2 tomograms cannot make 5 "
                                             "folds of whole tomograms"):
        kfold_split(GROUPED_LABELS, 5, 0, 0.1, 0, groups=two)
    one = np.full(len(GROUPS), "TS_0", dtype=object)
    with pytest.raises(CryobenchError, match="1 tomogram cannot make a test and a training "
                                             "part"):
        holdout_split(GROUPED_LABELS, 0.2, 0.1, 0, groups=one)


def test_a_class_in_one_tomogram_only_cannot_be_tested_by_tomogram():
    labels = GROUPED_LABELS.copy()
    labels[(labels == 2) & (GROUPS != "TS_3")] = 0  # class 2 only in TS_3
    with pytest.raises(CryobenchError, match="class 'rare' .* has none in the (test|training) "
                                             "part; its particles sit in too few tomograms"):
        holdout_split(labels, 0.2, 0.1, 0, ("a", "b", "rare"), groups=GROUPS)


def test_a_class_with_one_training_particle_is_named_not_a_scikit_learn_error():
    """The validation part is carved, stratified, from the training tomograms: a class with
    one particle there cannot be split (scikit-learn's ValueError, before)."""
    labels = np.array([0] * 10 + [1] * 1 + [0] * 10 + [1] * 2)
    groups = np.array(["TS_1"] * 11 + ["TS_2"] * 12, dtype=object)
    refused = 0
    for fold in range(2):
        try:
            kfold_split(labels, 2, fold, 0.3, 0, ("a", "rare"), groups)
        except CryobenchError as exc:
            refused += 1
            assert str(exc) == (
                "class 'rare' has 1 particle in the training tomograms: the validation part, "
                "carved from them by stratification, needs at least 2 of each class; add "
                "particles of it to more tomograms, drop the class, or set val_fraction = 0")
    assert refused == 1  # the fold that tests TS_2 leaves TS_1's one particle to train on


def test_check_split_turns_any_split_failure_into_one_config_line(monkeypatch):
    """Whatever scikit-learn raises while a split is tried is the file's error, not a
    traceback."""
    from cryobench.config import preflight
    from cryobench.config.reader import FileReader
    from cryobench.data import splits
    from cryobench.errors import ConfigError
    from cryobench.registry import Registry
    from cryobench.specs import SplitConfig

    def refuse(*args, **kwargs):
        raise ValueError("The least populated class in y has only 1 member\nmore")

    monkeypatch.setattr(splits, "holdout_split", refuse)
    reader = FileReader(None, Registry())
    with pytest.raises(ConfigError, match=r"^dataset: The least populated class in y has "
                                          r"only 1 member$"):
        preflight.check_split(reader, "dataset", {"a": 5, "b": 5},
                              SplitConfig("holdout", 0.2, 0.1, 5))


def test_grouped_holdout_seeds_cover_every_tomogram_and_ungrouped_splits_are_unchanged():
    """The seed chooses the fold: seeds 0 to folds - 1 test every tomogram (before, fold 0
    of every seed's shuffle kept choosing the same ones). Splits without groups are the
    same as they were."""
    labels = np.tile(np.repeat(np.arange(2), [6, 3]), 8)
    groups = np.repeat(np.array([f"TS_{i}" for i in range(8)], dtype=object), 9)
    tested = [set(groups[holdout_split(labels, 0.25, 0.2, s, groups=groups).test])
              for s in range(4)]
    assert set().union(*tested) == set(groups) and sum(map(len, tested)) == 8
    from sklearn.model_selection import train_test_split
    split = holdout_split(LABELS, 0.2, 0.1, 3)
    rest, test = train_test_split(np.arange(len(LABELS)), test_size=0.2, stratify=LABELS,
                                  random_state=3)
    np.testing.assert_array_equal(split.test, np.sort(test))
