"""How sure each rank is: the Bayesian correlated t-test against baycomp's own."""

import numpy as np
import pytest

from cryobench.report.bayesian import bayesian_ranks


def scores(seeds=5, seed=3):
    rng = np.random.default_rng(seed)
    base = rng.normal(0.7, 0.02, seeds)
    return {"base": list(base), "clear gain": list(base + 0.04 + rng.normal(0, 0.005, seeds)),
            "noise": list(base + rng.normal(0, 0.01, seeds))}


def test_each_comparison_is_baycomps_correlated_t_test():
    """With n_test / n_train = 1 / (k - 1), the correction is baycomp's for k folds."""
    from baycomp import CorrelatedTTest

    s = scores()
    ranks = bayesian_ranks(s, "base", "macro_f1", test_train_ratio=0.25)
    for certainty in ranks.arms:
        expected = CorrelatedTTest.probs(np.array(s["base"]), np.array(s[certainty.arm]),
                                         rope=0.01, runs=1)  # 5 seeds as 5 folds
        assert (certainty.worse, certainty.equivalent, certainty.better) == \
            pytest.approx(expected, abs=1e-12)


def test_the_probability_of_being_best_finds_the_clear_winner_and_sums_to_one():
    ranks = bayesian_ranks(scores(), "base", "macro_f1", test_train_ratio=0.25)
    best = {c.arm: c.best for c in ranks.arms}
    assert best["clear gain"] > 0.95 and best["noise"] < 0.05
    assert ranks.baseline_best + sum(best.values()) == pytest.approx(1.0)
    assert ranks == bayesian_ranks(scores(), "base", "macro_f1", 0.25)  # seeded


def test_the_marginals_of_the_joint_posterior_are_the_pairwise_ones():
    """P(best) comes from the joint posterior; each arm's marginal in it must be the
    t distribution the pairwise test uses (two arms: P(best) = P(difference > 0))."""
    from scipy import stats

    s = {k: v for k, v in scores(seeds=4).items() if k != "noise"}
    ranks = bayesian_ranks(s, "base", "macro_f1", test_train_ratio=0.2, samples=400_000)
    d = np.array(s["clear gain"]) - np.array(s["base"])
    scale = np.sqrt(np.var(d, ddof=1) * (1 / 4 + 0.2))
    assert ranks.arms[0].best == pytest.approx(stats.t.sf(0, 3, d.mean(), scale), abs=3e-3)


def test_nothing_to_say_with_one_seed_or_one_arm():
    assert bayesian_ranks({"base": [0.5], "x": [0.6]}, "base", "macro_f1", 0.25) is None
    assert bayesian_ranks({"base": [0.5, 0.6]}, "base", "macro_f1", 0.25) is None
