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


# --- paired comparisons, Holm, power, Friedman ---------------------------------------------

from cryobench.stats import (  # noqa: E402
    detectable_difference, friedman_test, holm, paired_test, seeds_needed,
)


def test_the_corrected_t_test_by_hand():
    """Nadeau-Bengio: t = mean / sqrt((1/n + n_test/n_train) s^2), n - 1 df."""
    d = [0.05, 0.07, 0.02, 0.06, 0.04]
    ratio = 0.25
    t = paired_test(d, ratio)
    s = np.std(d, ddof=1)
    scale = s * np.sqrt(1 / 5 + ratio)
    assert t.difference == pytest.approx(0.048)
    assert t.p_value == pytest.approx(2 * stats.t.sf(0.048 / scale, 4))
    half = stats.t.ppf(0.975, 4) * scale
    assert (t.low, t.high) == (pytest.approx(0.048 - half), pytest.approx(0.048 + half))
    # with no overlap between training sets it is scipy's paired t-test
    plain = paired_test(d, 0.0)
    assert plain.p_value == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    assert t.p_value > plain.p_value  # the correction is the cautious one
    assert t.wilcoxon_p == pytest.approx(stats.wilcoxon(d).pvalue)


def test_a_constructed_difference_is_significant_and_noise_is_not():
    rng = np.random.default_rng(0)
    real = paired_test(0.08 + rng.normal(0, 0.01, size=10), 0.25)
    assert real.p_value < 0.001 and real.low > 0
    noise = paired_test(rng.normal(0, 0.05, size=10), 0.25)
    assert noise.p_value > 0.05 and noise.low < 0 < noise.high


def test_one_pair_has_no_test_and_equal_pairs_no_wilcoxon():
    one = paired_test([0.1], 0.25)
    assert (one.n, one.low, one.p_value, one.detectable, one.seeds_needed) == \
        (1, None, None, None, None)
    same = paired_test([0.0, 0.0, 0.0], 0.25)
    assert same.p_value is None and same.wilcoxon_p is None and same.sd == 0.0
    # identical differences are no evidence either: no spread, no test (not p = 0)
    steady = paired_test([0.02, 0.02], 0.25)
    assert steady.difference == pytest.approx(0.02) and steady.p_value is None


def test_holm_against_the_hand_computed_step_down():
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, None, 0.03]) == [pytest.approx(0.03), pytest.approx(0.06), None,
                                              pytest.approx(0.06)]
    assert holm([None]) == [None]


def test_the_detectable_difference_is_statsmodels_power_solution():
    from statsmodels.stats.power import TTestPower

    for n in (2, 3, 5, 20):
        effect = TTestPower().solve_power(nobs=n, alpha=0.05, power=0.8)
        assert detectable_difference(0.07, n) == pytest.approx(effect * 0.07, rel=1e-5)
    # the correction makes more difference needed, and seeds have a floor
    assert detectable_difference(0.07, 5, 0.25) > detectable_difference(0.07, 5)


def test_seeds_needed_and_the_floor_of_overlapping_training_sets():
    n = seeds_needed(0.05, 0.05, 0.0)
    assert detectable_difference(0.05, n) <= 0.05 < detectable_difference(0.05, n - 1)
    # 1/n + 0.25 never falls below 0.25: a difference below ~2.8 s sqrt(0.25) is out of reach
    assert seeds_needed(0.01, 0.05, 0.25) is None
    assert seeds_needed(0.1, 0.05, 0.25) is not None


def test_friedman_and_the_ranks_against_scipy_and_scikit_posthocs():
    import scikit_posthocs as sp

    scores = {"a": [0.5, 0.6, 0.55, 0.52], "b": [0.4, 0.5, 0.45, 0.41],
              "c": [0.7, 0.65, 0.6, 0.71], "d": [0.3, 0.2, 0.25, 0.2]}
    r = friedman_test(scores)
    assert r.p_value == pytest.approx(stats.friedmanchisquare(*scores.values()).pvalue)
    assert r.ranks == {"a": 2.0, "b": 3.0, "c": 1.0, "d": 4.0}
    # Demsar's critical difference for k = 4, N = 4: q_0.05 = 2.569
    assert r.critical_difference == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 4)), abs=1e-3)
    direct = sp.posthoc_nemenyi_friedman(np.array(list(scores.values())).T)
    assert np.allclose(r.nemenyi.to_numpy(), direct.to_numpy())
    with pytest.raises(ValueError, match="three arms"):
        friedman_test({"a": [0.1, 0.2], "b": [0.2, 0.3]})
