"""Summaries over seeds that say how sure they are: mean, standard deviation and a 95%
interval (Student's t over seeds: few seeds give a wide interval, as they should)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """n values' mean, sample standard deviation and 95% t-interval; with one value the
    spread is unknown (std and interval are None, not 0)."""

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None


def summarise_values(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("no values to summarise")
    mean = float(x.mean())
    if len(x) < 2:
        return Summary(1, mean, None, None, None)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * std / np.sqrt(len(x)))
    return Summary(len(x), mean, std, mean - half, mean + half)


# --- paired comparisons over seeds ---------------------------------------------------------

ALPHA = 0.05
POWER = 0.8
MOST_SEEDS = 1000  # beyond this, "no practical number of seeds"


@dataclass(frozen=True)
class PairedTest:
    """An arm against a baseline on the same seeds (and splits).

    The seeds re-split one data set, so their training sets overlap and the scores are
    correlated: the naive paired t-test is too confident. Nadeau and Bengio (2003) widen
    its variance from s²/n to s²(1/n + n_test/n_train); that corrected test is the one
    used for the p-value and the interval. Wilcoxon's signed-rank test is shown beside it
    as the rank-based check (it cannot reach p < 0.05 with fewer than six pairs).
    """

    n: int
    difference: float  # mean of arm - baseline over the pairs
    low: float | None  # 95% corrected t-interval of the difference; None with one pair
    high: float | None
    p_value: float | None  # Nadeau-Bengio corrected resampled t-test, two-sided
    wilcoxon_p: float | None  # Wilcoxon signed-rank, two-sided (None: all pairs equal)
    detectable: float | None  # smallest difference these seeds find with 80% power
    seeds_needed: int | None  # seeds that would find the observed difference; None: none
    sd: float | None  # of the per-pair differences


def corrected_variance_factor(n: int, test_train_ratio: float) -> float:
    """Nadeau-Bengio: the variance of the mean difference is s² times this."""
    return 1.0 / n + test_train_ratio


def paired_test(differences: Sequence[float], test_train_ratio: float,
                confidence: float = CONFIDENCE) -> PairedTest:
    """The corrected resampled t-test on per-seed differences (arm - baseline), with
    the difference the same number of seeds could detect, and the seeds the observed
    one needs. ``test_train_ratio`` is n_test / n_train of one split (0: the plain
    paired t-test, for independent test sets)."""
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    if n == 0:
        raise ValueError("no pairs to compare")
    mean = float(d.mean())
    if n < 2:
        return PairedTest(n, mean, None, None, None, None, None, None, None)
    sd = float(d.std(ddof=1))
    if sd == 0:  # every pair differs by the same amount: no spread to test against
        return PairedTest(n, mean, None, None, None, None, None, None, 0.0)
    scale = sd * np.sqrt(corrected_variance_factor(n, test_train_ratio))
    t_crit = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    p = float(2 * stats.t.sf(abs(mean) / scale, n - 1))
    wilcoxon = None
    if np.any(d != 0):
        wilcoxon = float(stats.wilcoxon(d, zero_method="wilcox").pvalue)
    return PairedTest(n, mean, mean - t_crit * scale, mean + t_crit * scale, p, wilcoxon,
                      detectable_difference(sd, n, test_train_ratio),
                      seeds_needed(mean, sd, test_train_ratio), sd)


def _power(noncentrality: float, n: int, alpha: float) -> float:
    from scipy import stats

    t_crit = stats.t.ppf(1 - alpha / 2, n - 1)
    upper = float(stats.nct.sf(t_crit, n - 1, noncentrality))
    lower = float(stats.nct.cdf(-t_crit, n - 1, noncentrality))
    return upper + (lower if np.isfinite(lower) else 0.0)  # NaN: too far in the tail


def detectable_difference(sd: float, n: int, test_train_ratio: float = 0.0,
                          alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest true difference that n paired seeds detect with the given power at
    level alpha (two-sided corrected t-test), for per-seed differences of spread ``sd``.
    None with fewer than two seeds."""
    from scipy.optimize import brentq

    if n < 2:
        return None
    if sd == 0:
        return 0.0
    nc = brentq(lambda x: _power(x, n, alpha) - power, 0.0, 200.0)
    return float(nc * sd * np.sqrt(corrected_variance_factor(n, test_train_ratio)))


def seeds_needed(difference: float, sd: float, test_train_ratio: float = 0.0,
                 alpha: float = ALPHA, power: float = POWER) -> int | None:
    """The fewest seeds whose detectable difference is at most ``difference``, if the
    spread stays as measured; None when no practical number does (with overlapping
    training sets, the corrected variance never falls below s² n_test/n_train)."""
    target = abs(difference)
    if target == 0:
        return None
    if sd == 0:
        return 2

    def enough(n: int) -> bool:
        found = detectable_difference(sd, n, test_train_ratio, alpha, power)
        return found is not None and found <= target

    if not enough(MOST_SEEDS):
        return None
    low, high = 2, MOST_SEEDS  # the detectable difference falls as seeds are added
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle + 1, high)
    return low


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment over the family (None: no test, left out)."""
    from statsmodels.stats.multitest import multipletests

    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if present:
        adjusted = multipletests([p_values[i] for i in present], method="holm")[1]
        for i, p in zip(present, adjusted):
            out[i] = float(p)
    return out


# --- all arms at once ----------------------------------------------------------------------


@dataclass(frozen=True)
class RankTest:
    """Friedman's test over arms (columns) and seeds (blocks), with the arms' average
    ranks (1: best) and Nemenyi's critical difference for the CD diagram (Demsar 2006)."""

    arms: tuple[str, ...]
    blocks: int
    statistic: float
    p_value: float
    ranks: dict[str, float]
    critical_difference: float
    nemenyi: Any  # pandas DataFrame of pairwise p-values (scikit-posthocs)


def friedman_test(scores: dict[str, Sequence[float]], alpha: float = ALPHA) -> RankTest:
    """``scores``: arm -> its score per block, blocks in the same order for every arm.
    Needs at least three arms and two blocks."""
    import pandas as pd
    import scikit_posthocs as sp
    from scipy import stats

    arms = tuple(scores)
    table = np.asarray([scores[a] for a in arms], dtype=np.float64).T  # blocks x arms
    blocks, k = table.shape
    if k < 3 or blocks < 2:
        raise ValueError("the Friedman test needs at least three arms and two seeds")
    if np.all(table == table[:, :1]):  # every arm tied in every block: nothing to rank
        statistic, p = 0.0, 1.0
    else:
        statistic, p = stats.friedmanchisquare(*table.T)
    ranks = pd.DataFrame(table, columns=list(arms)).rank(axis=1, ascending=False).mean()
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    cd = float(q * np.sqrt(k * (k + 1) / (6.0 * blocks)))
    nemenyi = sp.posthoc_nemenyi_friedman(pd.DataFrame(table, columns=list(arms)))
    return RankTest(arms, blocks, float(statistic), float(p),
                    {a: float(ranks[a]) for a in arms}, cd, nemenyi)
