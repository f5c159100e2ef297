from __future__ import annotations

import numpy as np
import pytest
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import balanced_accuracy_score, f1_score

from cryobench.errors import CryobenchError
from cryobench.metrics import score


@pytest.mark.parametrize("seed", range(5))
def test_random_cases_match_sklearn_and_imblearn(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    y = np.concatenate([np.arange(k), rng.integers(0, k, 200)])
    p = np.where(rng.random(len(y)) < 0.6, y, rng.integers(0, k, len(y)))
    s = score(y, p, [str(c) for c in range(k)])
    assert s.macro_f1 == pytest.approx(f1_score(y, p, average="macro"))
    assert s.macro_gmean == pytest.approx(geometric_mean_score(y, p, average=None).mean())
    assert s.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, p))
    assert s.confusion.sum() == len(y)


def test_hand_made_case_and_the_wrong_macro():
    # 3 classes; class 2 never predicted
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    s = score(y, p, ["a", "b", "c"])
    # class a: TP 3, FN 1, FP 2, TN 2 -> sens 3/4, spec 2/4
    a = s.per_class[0]
    assert a.recall == pytest.approx(0.75) and a.gmean == pytest.approx(np.sqrt(0.75 * 0.5))
    assert a.precision == pytest.approx(3 / 5) and a.support == 4
    c = s.per_class[2]
    assert c.f1 == 0 and c.gmean == 0  # never predicted: recall 0
    expected = np.mean([np.sqrt(0.75 * 0.5), np.sqrt(0.5 * 4 / 6), 0.0])
    assert s.macro_gmean == pytest.approx(expected)
    wrong = geometric_mean_score(y, p, average="macro")  # sqrt(mean sens * mean spec)
    assert not np.isclose(wrong, s.macro_gmean)
    assert s.confusion.tolist() == [[3, 1, 0], [1, 1, 0], [1, 1, 0]]


def test_class_absent_from_test_is_an_error():
    with pytest.raises(CryobenchError, match="class 'c' is absent"):
        score(np.array([0, 1, 0]), np.array([0, 1, 1]), ["a", "b", "c"])
