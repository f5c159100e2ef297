"""Boosting's member error out of bag: the error under the current weights, not the
plain weighted mean over the left-out particles (biased low where the heavy ones are
the wrong ones, since a bag rarely leaves them out)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cryobench.contract.components import Capabilities, Model
from cryobench.registry import Registry
from cryobench.testing import Centroid, tiny_context, tiny_data
from cryobench_ensembles.boosting import (
    _held_out, held_out_part, out_of_bag_error, samme_alpha, update_weights, weighted_error,
)


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


def test_the_out_of_bag_error_after_an_update_turns_on_one_particle_held_out_does_not():
    """Why 'held_out' exists: after one SAMME update the promoted mistakes hold half the
    weight and are rarely left out, so the next member's out-of-bag error swings with the
    one a bag may leave out (and stops the boosting by chance now and then); over the
    uniformly drawn third that 'held_out' keeps aside it is steady and unbiased."""
    rng = np.random.default_rng(0)
    n, classes = 1176, 4
    first_wrong = rng.random(n) < 0.26
    bag = rng.choice(n, n)
    promoted = first_wrong & _held_out(bag, n)
    weights = update_weights(np.full(n, 1 / n),
                             samme_alpha(out_of_bag_error(first_wrong, np.full(n, 1 / n), bag),
                                         classes), promoted)
    assert 0.4 < weights[promoted].sum() < 0.6
    chance = 1 - 1 / classes
    out_of_bag, held_out, truth, promoted_left_out = [], [], [], []
    for _ in range(1000):  # the next member: wrong on half the promoted, a quarter of the rest
        wrong = rng.random(n) < np.where(promoted, 0.5, 0.25)
        truth.append(weighted_error(wrong, weights))
        bag = rng.choice(n, n, p=weights)
        promoted_left_out.append((promoted & _held_out(bag, n)).sum())
        out_of_bag.append(out_of_bag_error(wrong, weights, bag))
        third = held_out_part(n, rng)
        held_out.append(weighted_error(wrong[third], weights[third]))
    truth, out_of_bag, held_out = map(np.array, (truth, out_of_bag, held_out))
    assert truth.mean() == pytest.approx(0.37, abs=0.02)
    assert np.mean(np.array(promoted_left_out) <= 1) > 0.75  # measured: 0.82
    assert np.std(held_out) < 0.06 < 0.15 < np.std(out_of_bag)  # measured: 0.04, 0.21
    assert abs(held_out.mean() - truth.mean()) < 0.01
    assert out_of_bag.mean() < truth.mean() - 0.02  # measured: 0.04 low
    assert np.mean(out_of_bag >= chance) > 0.01 and not (held_out >= chance).any()


class Remembering(Centroid):
    """The centroid model, remembering which particles (by their first voxel) and sample
    weights each fit saw."""

    name = "testing_remembering_centroid"

    def __init__(self) -> None:
        self.seen: list[tuple[np.ndarray, np.ndarray | None]] = []

    def fit(self, train, val, context):
        self.seen.append((train.volumes[:, 0, 0, 0].copy(), context.sample_weight))
        return super().fit(train, val, context)


def noisy_split(n: int, noise: float) -> tuple:
    """A training and a validation part where the centroid model makes mistakes."""
    data = tiny_data(n=n + 30, classes=3, box=4)
    volumes = data.volumes + np.random.default_rng(1).normal(0, noise, data.volumes.shape)
    data = dataclasses.replace(data, volumes=volumes.astype(np.float32))
    return data.take(np.arange(n)), data.take(np.arange(n, n + 30))


@pytest.mark.parametrize("mode", ["resample", "weights"])
def test_a_held_out_member_never_trains_on_the_third_it_is_measured_on(mode):
    train, val = noisy_split(300, 4.0)
    model = Remembering()
    ensemble = Registry().create("ensemble", "boosting", {
        "members": 3, "error_on": "held_out", "mode": mode})
    fitted = ensemble.fit(model, train, val, tiny_context(3))
    figures = fitted.fit_report.figures
    assert figures["errors_on"] == ["held_out"] * 3 and len(model.seen) == 3
    ids = train.volumes[:, 0, 0, 0]
    trained = [np.isin(ids, seen) for seen, _ in model.seen]
    for (seen, weights), used in zip(model.seen, trained):
        if mode == "weights":  # the other two thirds, weights rescaled to mean 1
            assert len(seen) == used.sum() == 200 and np.mean(weights) == pytest.approx(1.0)
        else:
            # 300 draws from the other 200 reach about 155 of them; from all 300 they
            # would reach about 190
            assert len(seen) == 300 and weights is None and used.sum() < 175
    if mode != "weights":
        return
    # the first member's error: its plain error rate on the third it never saw (the
    # weights start equal)
    wrong = fitted.members[0].predict_proba(train.volumes).argmax(1) != train.labels
    unseen = ~trained[0]
    assert figures["errors"][0] == pytest.approx(wrong[unseen].mean())
    # only those mistakes were promoted: every particle member 1 trained on, right or
    # wrong, reaches member 2 with one and the same weight
    assert (wrong & trained[0]).any() and (wrong & unseen).any()
    weights_2 = dict(zip(model.seen[1][0], model.seen[1][1]))
    kept = {weights_2[i] for i in ids[trained[0] & trained[1]]}
    promoted = {weights_2[i] for i in ids[wrong & unseen & trained[1]]}
    assert len(kept) == 1 and min(promoted) > max(kept)
    assert len({frozenset(np.flatnonzero(~t)) for t in trained}) == 3  # its own third each


def test_held_out_with_one_particle_falls_back_to_the_training_error_and_says_so():
    data = tiny_data(n=8, classes=3, box=6)
    ensemble = Registry().create("ensemble", "boosting", {"members": 2,
                                                          "error_on": "held_out"})
    figures = ensemble.fit(FirstClass(), data.take(np.arange(1)), data.take(np.arange(1, 8)),
                           tiny_context(3)).fit_report.figures
    assert figures["errors_on"] == ["training"] * len(figures["errors"])
