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
