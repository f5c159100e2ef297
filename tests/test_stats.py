import numpy as np
import pytest
from scipy import stats

from cryobench.stats import summarise_values


def test_the_interval_of_a_known_sample():
    s = summarise_values([0.6, 0.7, 0.8])
    assert s.n == 3 and s.mean == pytest.approx(0.7) and s.std == pytest.approx(0.1)
    half = 4.302652729749464 * 0.1 / np.sqrt(3)  # t(0.975, 2 df)
    assert (s.low, s.high) == (pytest.approx(0.7 - half), pytest.approx(0.7 + half))
    low, high = stats.t.interval(0.95, 2, loc=0.7, scale=stats.sem([0.6, 0.7, 0.8]))
    assert (s.low, s.high) == (pytest.approx(low), pytest.approx(high))


def test_one_value_has_no_spread_rather_than_a_zero_one():
    s = summarise_values([0.5])
    assert (s.n, s.mean, s.std, s.low, s.high) == (1, 0.5, None, None, None)
