"""Boosting's member error out of bag: the error under the current weights, not the
plain weighted mean over the left-out particles (biased low where the heavy ones are
the wrong ones, since a bag rarely leaves them out)."""

from __future__ import annotations

import numpy as np
import pytest

from cryobench.contract.components import Capabilities, Model
from cryobench.registry import Registry
from cryobench.testing import Centroid, tiny_context, tiny_data
from cryobench_ensembles.boosting import _held_out, out_of_bag_error, weighted_error


def heavy_mistakes() -> tuple[np.ndarray, np.ndarray]:
    """Weights and mistakes where the hard particles are heavy: 60 particles hold half
    the weight and two thirds of them are wrong; of the 240 light ones, one in eight."""
    weights = np.r_[np.full(60, 0.5 / 60), np.full(240, 0.5 / 240)]
    wrong = np.r_[np.arange(60) < 40, np.arange(240) < 30]
    return weights, wrong


def test_out_of_bag_error_matches_the_weighted_error_over_many_bags():
    weights, wrong = heavy_mistakes()
    true = weighted_error(wrong, weights)
    assert true == pytest.approx(0.396, abs=1e-3)
    rng = np.random.default_rng(0)
    bags = [rng.choice(len(weights), size=len(weights), p=weights) for _ in range(2000)]

    estimates = [out_of_bag_error(wrong, weights, bag) for bag in bags]
    assert np.mean(estimates) == pytest.approx(true, abs=0.03)  # measured: 0.383

    plain = [weighted_error(wrong[held], weights[held])
             for held in (_held_out(bag, len(weights)) for bag in bags)]
    assert np.mean(plain) < true - 0.15  # measured: 0.195, half the true error


def test_out_of_bag_error_on_a_hand_case():
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    bag = np.array([3, 3, 2, 2])  # leaves out particles 0 and 1, drawn 4 times
    wrong = np.array([False, True, False, False])
    left_out = np.array([0.1 / 0.9 ** 4, 0.2 / 0.8 ** 4])  # w_i / P(i left out)
    assert out_of_bag_error(wrong, weights, bag) == pytest.approx(
        left_out[1] / left_out.sum())  # 0.762, where the plain mean says 0.667
    assert out_of_bag_error(wrong, weights * 7, bag) == pytest.approx(
        left_out[1] / left_out.sum())  # weights need not sum to 1


def test_out_of_bag_error_stays_finite_where_leaving_out_is_vanishingly_rare():
    weights = np.r_[0.3, np.full(1999, 0.7 / 1999)]  # w / P = 0.3 / 0.7 ** 2000 overflows
    wrong = np.r_[True, np.zeros(1999, dtype=bool)]
    bag = np.r_[np.arange(1, 1000), np.arange(1, 1000), 1, 2]  # 0 and half the rest out
    error = out_of_bag_error(wrong, weights, bag)
    assert error is not None and 0.999 < error <= 1.0  # the heavy mistake dominates


class FirstClass(Model):
    """Says class 0 for every particle, whatever it trained on (one particle will do)."""

    name = "testing_first_class"
    summary = "test-only model that always says class 0"
    capabilities = Capabilities(sample_weight=True, thread_dependent=False)

    def fit(self, train, val, context):
        return self

    def predict_proba(self, volumes):
        return np.eye(3)[np.zeros(len(volumes), dtype=int)]


def test_a_bag_that_leaves_nothing_out_falls_back_and_says_so():
    assert out_of_bag_error(np.array([True, False]), np.array([0.5, 0.5]),
                            np.array([1, 0])) is None
    data = tiny_data(n=30, classes=3, box=6)
    train, val = data.take(np.arange(24)), data.take(np.arange(24, 30))
    ensemble = Registry().create("ensemble", "boosting", {"members": 2})
    figures = ensemble.fit(Centroid(), train, val, tiny_context(3)).fit_report.figures
    assert figures["errors_on"] == ["out_of_bag"] * len(figures["errors"])

    one = data.take(np.arange(1))  # a bag of one draw from one particle leaves none out
    figures = ensemble.fit(FirstClass(), one, val, tiny_context(3)).fit_report.figures
    assert figures["errors_on"] == ["training"] * len(figures["errors"])
    assert figures["errors"][0] == float(one.labels[0] != 0)  # its training error
