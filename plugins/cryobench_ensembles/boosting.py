"""SAMME (multi-class AdaBoost, Zhu et al. 2009) over any cryobench model.

Written here rather than taken from scikit-learn's AdaBoostClassifier because a CNN fits
its training split perfectly: the training error of a member is then 0 and SAMME stops
(or gives the member infinite weight). The member's error is measured where it means
something: on the particles its bag left out (``out_of_bag``), on a third of the split
kept out of its training (``held_out``) or on the validation part (``validation``).

SAMME needs the error under the current weights. A bag of n draws leaves particle i out
with probability P_i = (1 - w_i)^n, so the heavy particles, the hard ones boosting is
about, are rarely left out: a plain weighted mean over the left-out particles is biased
low (the member's weight too large, the chance stop too rare). Each left-out particle is
weighted by w_i / P_i instead (inverse-probability weighting, as a Hajek ratio).

In the weight update (``resample`` mode, ``out_of_bag`` errors) a particle counts as a
mistake only where the member did not train on it: a memorising member's in-bag
predictions say nothing. The update stays per particle, without the 1 / P_i: that
weight corrects a sum over particles (the error), not one particle's mistake, and
exp(a_m / P_i) would hand all the weight to whichever heavy particle was left out. An
in-bag particle keeps its weight (unknown, not counted right or wrong) and loses share
only to the left-out mistakes on normalising, so boosting concentrates more slowly than
SAMME (whose update puts (K - 1) / K of the weight on the member's mistakes). Each
member draws a fresh bag, so a particle that stays hard is promoted whenever it is left
out, which grows likelier as its weight falls.

The inverse-probability weights remove most of that bias, not the noise. After one
update the promoted mistakes (a tenth of the split) hold about half the weight, and each
is left out of the next bag with probability under 1%, so most bags leave out none or
one of them and the next member's error turns on that one: over many bags its standard
deviation is about 0.2 where the error is 0.37, and it is still 0.04 low on average (a
member stops the ensemble by chance in a few percent of bags, and a_m is mostly noise).
``held_out`` measures it where every particle has the same chance to be: each member
leaves out a third of the split drawn uniformly (``HELD_OUT_SHARE``) and trains on the
rest; its error is the weighted mean over that third (standard deviation about 0.04 in
the same setting, no bias), and only its mistakes there count in the update. The price
is training data: a bag of n draws from two thirds of the split reaches about half of
its particles (out of bag: 63%), and in ``weights`` mode a member trains on two thirds.

In ``weights`` mode (without ``held_out``) every member trains on every particle, so the
weights change only through its training mistakes: a member that memorises its training
split leaves them as they were (use short training, ``resample`` or ``held_out``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cryobench.api import FitContext, Model, Predictor, Subtomograms
from cryobench_ensembles.members import WeightedVote, member_context, member_seed

ERROR_FLOOR = 1e-3
#: the share of the training split each member leaves out with error_on = 'held_out'
HELD_OUT_SHARE = 1 / 3


@dataclass
class SammeState:
    """The boosting weights over the training split and the members so far."""

    weights: np.ndarray
    num_classes: int
    members: list[Predictor] = field(default_factory=list)
    alphas: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)

    @property
    def chance_error(self) -> float:
        return 1.0 - 1.0 / self.num_classes

    def add(self, member: Predictor, error: float, wrong: np.ndarray) -> bool:
        """Take a member with its measured ``error`` and the training particles it gets
        ``wrong``; False when it is no better than chance (the first one is kept all the
        same, alone, so that the ensemble is never empty)."""
        self.errors.append(error)
        if error >= self.chance_error - 1e-12:
            if not self.members:
                self.members.append(member)
                self.alphas.append(1.0)
            return False
        alpha = samme_alpha(error, self.num_classes)
        self.members.append(member)
        self.alphas.append(alpha)
        self.weights = update_weights(self.weights, alpha, wrong)
        return True


def samme_alpha(error: float, num_classes: int) -> float:
    """a_m = log((1 - err) / err) + log(K - 1), with err clipped away from 0."""
    error = max(error, ERROR_FLOOR)
    return math.log((1.0 - error) / error) + math.log(num_classes - 1)


def update_weights(weights: np.ndarray, alpha: float, wrong: np.ndarray) -> np.ndarray:
    """w_i <- w_i exp(a_m [h_m(x_i) != y_i]), normalised to sum 1."""
    new = weights * np.exp(alpha * wrong.astype(np.float64))
    return new / new.sum()


def weighted_error(wrong: np.ndarray, weights: np.ndarray) -> float:
    """sum_i w_i [h(x_i) != y_i] / sum_i w_i."""
    return float((weights * wrong).sum() / weights.sum())


def out_of_bag_error(wrong: np.ndarray, weights: np.ndarray, bag: np.ndarray
                     ) -> float | None:
    """The member's error under the current weights, from the particles ``bag`` left out,
    each weighted by w_i / P_i with P_i = (1 - w_i)^n its chance of being left out (w
    normalised, n draws): the plain weighted mean over them is biased low, since heavy
    particles are rarely left out. None when no particle of positive weight was."""
    held_out = _held_out(bag, len(weights)) & (weights > 0)
    if not held_out.any():
        return None
    share = weights[held_out] / weights.sum()
    log_ipw = np.log(share) - len(bag) * np.log1p(-share)  # P_i can underflow: logs
    return weighted_error(wrong[held_out], np.exp(log_ipw - log_ipw.max()))  # scale-free


def fit_boosting(model: Model, train: Subtomograms, val: Subtomograms, context: FitContext,
                 *, members: int, mode: str, error_on: str) -> WeightedVote:
    """Fit up to ``members`` members by SAMME; ``mode`` 'weights' trains each on the split
    (or, with ``held_out``, its two thirds) with the boosting weights as sample weights,
    'resample' on a bag drawn with probabilities proportional to them."""
    state = SammeState(np.full(len(train), 1.0 / len(train)), context.num_classes)
    measured_on: list[str] = []
    for m in range(members):
        member, wrong, error, where = _boost_member(model, train, val, context, state.weights,
                                                    mode, error_on, m, members)
        measured_on.append(where)
        if not state.add(member, error, wrong):
            break
    return WeightedVote(state.members, state.alphas,
                        {"members": len(state.members), "alphas": state.alphas,
                         "errors": state.errors, "errors_on": measured_on,
                         "error_on": error_on, "mode": mode})


def held_out_part(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly drawn ``HELD_OUT_SHARE`` of n particles (at least one), as a mask."""
    held = np.zeros(n, dtype=bool)
    held[rng.choice(n, size=max(1, round(HELD_OUT_SHARE * n)), replace=False)] = True
    return held


def _boost_member(model: Model, train: Subtomograms, val: Subtomograms, context: FitContext,
                  weights: np.ndarray, mode: str, error_on: str, index: int, count: int
                  ) -> tuple[Predictor, np.ndarray, float, str]:
    """Member ``index``, fitted where ``mode`` and ``error_on`` say: the member, the
    training particles it gets wrong where a mistake counts in the update, its error and
    where that was measured."""
    n = len(train)
    held = rest = None
    if error_on == "held_out":
        rng = np.random.default_rng(member_seed(context.seed, 20_000 + index))
        held = held_out_part(n, rng)
        rest = np.flatnonzero(~held)
        if not len(rest):  # a split of one particle: it trains and scores the member
            held = rest = None
    else:
        rng = np.random.default_rng(member_seed(context.seed, 10_000 + index))
    bag = _draw(weights, rng, rest) if mode == "resample" else None
    member = _fit_member(model, train, val, context, weights, bag, rest, index, count)
    wrong = member.predict_proba(train.volumes).argmax(1) != train.labels
    if error_on == "held_out":
        if held is None:
            return member, wrong, weighted_error(wrong, weights), "training"
        return member, wrong & held, weighted_error(wrong[held], weights[held]), "held_out"
    error, where = _member_error(member, wrong, weights, bag, val, error_on)
    if bag is not None and error_on == "out_of_bag":
        wrong = wrong & _held_out(bag, n)
    return member, wrong, error, where


def _draw(weights: np.ndarray, rng: np.random.Generator,
          pool: np.ndarray | None = None) -> np.ndarray:
    """A bag of len(weights) particles drawn with replacement in proportion to weights,
    from ``pool`` (indices) when given, else from all."""
    if pool is None:
        return rng.choice(len(weights), size=len(weights), replace=True, p=weights)
    part = weights[pool]
    return pool[rng.choice(len(pool), size=len(weights), replace=True, p=part / part.sum())]


def _fit_member(model: Model, train: Subtomograms, val: Subtomograms, context: FitContext,
                weights: np.ndarray, bag: np.ndarray | None, rest: np.ndarray | None,
                index: int, count: int) -> Predictor:
    """On the bag when there is one; else on ``rest`` (or the whole split) with the
    boosting weights, scaled to mean 1, as sample weights."""
    if bag is not None:
        return model.fit(train.take(bag), val, member_context(context, index, count))
    if rest is None:
        return model.fit(train, val, member_context(context, index, count,
                                                    sample_weight=weights * len(weights)))
    part = weights[rest]
    return model.fit(train.take(rest), val, member_context(context, index, count,
                                                           sample_weight=part / part.mean()))


def _member_error(member: Predictor, wrong: np.ndarray, weights: np.ndarray,
                  bag: np.ndarray | None, val: Subtomograms, error_on: str
                  ) -> tuple[float, str]:
    """The member's error and where it was measured: out of bag falls back to the
    training split (recorded as such) when the bag left no particle out."""
    if error_on == "out_of_bag":
        assert bag is not None
        error = out_of_bag_error(wrong, weights, bag)
        if error is not None:
            return error, "out_of_bag"
        error_on = "training"
    if error_on == "validation":
        predicted = member.predict_proba(val.volumes).argmax(1)
        return float(np.mean(predicted != val.labels)), "validation"
    return weighted_error(wrong, weights), "training"


def _held_out(bag: np.ndarray, n: int) -> np.ndarray:
    """The particles a bag did not draw."""
    held_out = np.ones(n, dtype=bool)
    held_out[bag] = False
    return held_out
