"""GSVM-RU (Tang et al. 2009): granular SVMs with repetitive undersampling.

For one binary problem (positives P, negatives N), repeatedly fit an SVM on P and the
negatives not yet extracted, and take its negative support vectors as the next granule;
after each granule, fit the aggregate SVM ("combine": P + every granule so far;
"discard": P + the last granule) and score it on the selection rows by G-mean; stop when
that score no longer improves, when an SVM has no negative support vector left, when the
negatives run out, or after ``max_granules``; keep the best aggregate. K classes are K
such problems, one per class against the rest (docs/classical.md).

A note on "combine": the negatives left after a granule lie outside the first SVM's
margin, so adding them back cannot move an exact soft-margin solution; "combine" thus
reproduces the plain SVM's boundary (up to the solver's tolerance) and "discard", which
drops the first layers of negatives, is the variant that shifts the boundary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

AGGREGATIONS = ("discard", "combine")


@dataclass(frozen=True)
class GranuleStep:
    """One extracted granule and how its aggregate SVM scored on the selection rows."""

    granules: int  # granules extracted so far
    size: int  # negative support vectors in this granule
    gmean: float


@dataclass(eq=False)
class GranularSVM:
    """The aggregate SVM kept for one binary problem, and how it was found."""

    svm: object  # sklearn SVC
    C: float
    gamma: float
    granules: int  # granules behind the kept SVM
    gmean: float  # its G-mean on the selection rows
    steps: tuple[GranuleStep, ...]
    stop: str  # why extraction ended
    granule_rows: tuple[np.ndarray, ...]  # training rows of each granule extracted

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Signed distance to the boundary; positive means the positive class."""
        return self.svm.decision_function(x)


def granular_svm(x: np.ndarray, positive: np.ndarray, x_select: np.ndarray,
                 select_positive: np.ndarray, *, C: float, gamma: float,
                 aggregation: str = "discard", max_granules: int = 10) -> GranularSVM:
    """GSVM-RU on one binary problem, with fixed C and gamma (RBF kernel).

    ``x_select``/``select_positive`` are the rows that decide when to stop (the
    validation split); the fit itself is deterministic (libsvm, no random draws).
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    positive = np.asarray(positive, dtype=bool)
    positives, remaining = np.flatnonzero(positive), np.flatnonzero(~positive)
    if len(positives) == 0 or len(remaining) == 0:
        raise ValueError("a binary problem needs positive and negative training rows")
    granules: list[np.ndarray] = []
    steps: list[GranuleStep] = []
    best: tuple[object, int, float] | None = None
    stop = "max granules"
    for _ in range(max_granules):
        if len(remaining) == 0:
            stop = "negatives exhausted"
            break
        granule = _negative_support_vectors(x, positives, remaining, C, gamma)
        if len(granule) == 0:
            stop = "no support vectors"
            break
        granules.append(granule)
        remaining = np.setdiff1d(remaining, granule, assume_unique=True)
        negatives = np.concatenate(granules) if aggregation == "combine" else granule
        svm = _fit_svm(x, positives, negatives, C, gamma)
        score = binary_gmean(svm.decision_function(x_select) > 0, select_positive)
        steps.append(GranuleStep(len(granules), len(granule), score))
        if best is not None and score <= best[2]:
            stop = "no improvement"
            break
        best = (svm, len(granules), score)
    assert best is not None  # an SVM with both classes always has a negative SV
    svm, kept, score = best
    return GranularSVM(svm, C, gamma, kept, score, tuple(steps), stop, tuple(granules))


def tuned_granular_svm(x: np.ndarray, positive: np.ndarray, x_select: np.ndarray,
                       select_positive: np.ndarray, *, Cs: Sequence[float],
                       gammas: Sequence[float], aggregation: str = "discard",
                       max_granules: int = 10) -> GranularSVM:
    """:func:`granular_svm` for every (C, gamma) of the grid; the best selection G-mean
    wins (the first in grid order on a tie)."""
    fits = [granular_svm(x, positive, x_select, select_positive, C=C, gamma=gamma,
                         aggregation=aggregation, max_granules=max_granules)
            for C in Cs for gamma in gammas]
    return max(fits, key=lambda fit: fit.gmean)  # max keeps the first of equals


@dataclass(eq=False)
class OneVsRestGSVM:
    """One GSVM-RU per class; probabilities are the softmax over classes of the SVMs'
    decision values, so the predicted class is the usual one-vs-rest argmax.

    The values are used as they are: every SVM puts its margins at -1 and +1, so they
    share a scale. Standardising them by their training spread (as the GP's outputs
    are) traded macro F1 for minority recall when measured (docs/classical.md).
    """

    models: tuple[GranularSVM, ...]

    def decision_values(self, x: np.ndarray) -> np.ndarray:
        """``[n, K]``: each class's SVM decision value."""
        return np.stack([model.decision_function(x) for model in self.models], axis=1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        from cryobench_genetic_programming import softmax  # the GP's too; imported late: DEAP is not light

        return softmax(self.decision_values(x))


def one_vs_rest_gsvm(x: np.ndarray, labels: np.ndarray, x_select: np.ndarray,
                     select_labels: np.ndarray, num_classes: int, *, Cs: Sequence[float],
                     gammas: Sequence[float], aggregation: str = "discard",
                     max_granules: int = 10) -> OneVsRestGSVM:
    """K tuned GSVM-RU problems, "class k versus the rest"."""
    return OneVsRestGSVM(tuple(
        tuned_granular_svm(x, labels == k, x_select, select_labels == k, Cs=Cs, gammas=gammas,
                           aggregation=aggregation, max_granules=max_granules)
        for k in range(num_classes)))


def binary_gmean(predicted: np.ndarray, positive: np.ndarray) -> float:
    """sqrt(sensitivity x specificity) of a binary prediction."""
    predicted, positive = np.asarray(predicted, dtype=bool), np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        raise ValueError("the selection rows need positives and negatives to score G-mean")
    return math.sqrt(predicted[positive].mean() * (~predicted[~positive]).mean())


def _fit_svm(x: np.ndarray, positives: np.ndarray, negatives: np.ndarray, C: float,
             gamma: float):
    from sklearn.svm import SVC

    rows = np.concatenate([positives, negatives])
    target = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    # without probabilities libsvm draws nothing, but SVC.fit takes a seed from its
    # random_state, the global numpy state when left unset: so set one
    return SVC(C=C, kernel="rbf", gamma=gamma, random_state=0).fit(x[rows], target)


def _negative_support_vectors(x: np.ndarray, positives: np.ndarray, negatives: np.ndarray,
                              C: float, gamma: float) -> np.ndarray:
    """Rows of ``negatives`` that are support vectors of an SVM on P + these negatives."""
    svm = _fit_svm(x, positives, negatives, C, gamma)
    support = svm.support_
    return negatives[support[support >= len(positives)] - len(positives)]
