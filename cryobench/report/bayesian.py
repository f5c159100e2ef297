"""How sure each rank is: Benavoli et al.'s Bayesian correlated t-test (2017, JMLR), made
for this case (resampled splits of one data set, whose training sets overlap), through
``baycomp``.

For each arm against the baseline, paired by seed: the probability that it is better by
more than a region of practical equivalence (ROPE), equivalent within it, or worse; the
posterior is a Student t with the Nadeau-Bengio correction for overlapping training sets
(here from the split sizes, ``n_test / n_train``; baycomp derives it from a fold count,
which resampled hold-out splits do not have). And for each arm the probability that it
is the best of all: the per-seed differences' joint posterior (a multivariate t whose
marginals are exactly baycomp's) sampled with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: one macro-F1 (or G-mean) point: smaller gains do not change what a lab would pick
ROPE = 0.01
SAMPLES = 50_000


@dataclass(frozen=True)
class Certainty:
    """One arm against the baseline (fractions, not percent)."""

    arm: str
    difference: float  # mean over seeds
    better: float  # P(difference > ROPE)
    equivalent: float  # P(|difference| <= ROPE)
    worse: float  # P(difference < -ROPE)
    best: float  # P(this arm is the best of all, the baseline included)


@dataclass(frozen=True)
class BayesianRanks:
    baseline: str
    metric: str
    rope: float
    seeds: int
    baseline_best: float
    arms: list[Certainty]


def bayesian_ranks(scores: dict[str, list[float]], baseline: str, metric: str,
                   test_train_ratio: float, *, rope: float = ROPE,
                   samples: int = SAMPLES, seed: int = 0) -> BayesianRanks | None:
    """``scores``: each arm's figures on the same seeds, in the same order (the
    baseline's among them). None with fewer than two seeds or no other arm."""
    from baycomp.single import Posterior

    others = [a for a in scores if a != baseline]
    n = len(scores.get(baseline, []))
    if n < 2 or not others:
        return None
    base = np.asarray(scores[baseline], dtype=np.float64)
    d = np.stack([np.asarray(scores[a], dtype=np.float64) - base for a in others], axis=1)
    mean = d.mean(0)
    correction = 1 / n + test_train_ratio  # Nadeau-Bengio: rho / (1 - rho) = n_test/n_train
    df = n - 1
    rows_probs = []
    for j in range(len(others)):
        var = float(np.var(d[:, j], ddof=1)) * correction
        worse, equivalent, better = Posterior(float(mean[j]), var, df, rope).probs()
        rows_probs.append((float(better), float(equivalent), float(worse)))
    # the joint posterior: mean + sqrt(c) S^T g / sqrt(n - 1), scaled by sqrt(df / chi2)
    rng = np.random.default_rng(seed)
    centred = d - mean
    g = rng.standard_normal((samples, n))
    scale = np.sqrt(df / rng.chisquare(df, size=samples))[:, None]
    draws = mean + np.sqrt(correction) * (g @ centred) / np.sqrt(df) * scale
    with_base = np.concatenate([np.zeros((samples, 1)), draws], axis=1)
    best = np.bincount(with_base.argmax(1), minlength=len(others) + 1) / samples
    arms = [Certainty(a, float(mean[j]), *rows_probs[j], float(best[j + 1]))
            for j, a in enumerate(others)]
    return BayesianRanks(baseline, metric, rope, n, float(best[0]), arms)
