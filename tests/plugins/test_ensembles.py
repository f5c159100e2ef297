"""Bagging and boosting over any model: bags, votes, SAMME's formulas, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryobench.contract.components import SELF_FITTED, Capabilities, Model
from cryobench.registry import Registry
from cryobench.testing import tiny_context, tiny_data
from cryobench_ensembles.boosting import (
    SammeState, samme_alpha, update_weights, weighted_error,
)


class Recorder(Model):
    """Remembers the particles and seed of every fit; predicts a fixed distribution."""

    name = "recorder"
    summary = "test-only model that records its training particles"
    capabilities = Capabilities(sample_weight=True, thread_dependent=False)

    def __init__(self, **params):
        super().__init__(**params)
        self.fits = []

    def fit(self, train, val, context):
        from cryobench.testing import Centroid

        self.fits.append((list(train.source_ids), context.seed, context.sample_weight))
        return Centroid().fit(train, val, context)


def ensemble(name, **params):
    return Registry().create("ensemble", name, params)


def test_bags_are_seeded_bootstraps_and_the_vote_is_the_members_mean():
    data = tiny_data(n=30, classes=3)
    train, val = data.take(np.arange(24)), data.take(np.arange(24, 30))
    runs = []
    for _ in range(2):
        model = Recorder()
        predictor = ensemble("bagging", members=3).fit(model, train, val, tiny_context(3, 5))
        runs.append((model.fits, predictor))
    (fits, predictor), (again, _) = runs
    assert [f[0] for f in fits] == [f[0] for f in again]  # one seed, the same bags
    assert len({f[1] for f in fits}) == 3  # each member its own seed
    for ids, _, _ in fits:
        assert len(ids) == 24 and len(set(ids)) < 24  # same size, with replacement
    members = [m.predict_proba(data.volumes[:4]) for m in predictor.members]
    assert np.allclose(predictor.predict_proba(data.volumes[:4]), np.mean(members, axis=0))
    report = predictor.report(data.take(np.arange(24, 30)))["members"]
    assert [r["member"] for r in report] == [1, 2, 3] and all(r["weight"] == 1 for r in report)


def test_balanced_bags_hold_every_class_equally():
    data = tiny_data(n=40, classes=2)
    keep = np.concatenate([np.flatnonzero(data.labels == 0)[:16],
                           np.flatnonzero(data.labels == 1)[:6]])
    train = data.take(keep)
    model = Recorder()
    ensemble("bagging", members=2, balanced=True).fit(model, train, train, tiny_context(2))
    index = {sid: label for sid, label in zip(train.source_ids, train.labels)}
    for ids, _, _ in model.fits:
        counts = np.bincount([index[i] for i in ids], minlength=2)
        assert counts[0] == counts[1] <= 6  # a bootstrap of the rare class, matched


def test_samme_formulas_on_a_hand_case():
    assert samme_alpha(0.25, 3) == pytest.approx(math.log(3) + math.log(2))
    assert samme_alpha(0.0, 2) == pytest.approx(math.log(999))  # clipped at 1e-3
    weights = np.full(4, 0.25)
    wrong = np.array([True, False, False, False])
    assert weighted_error(wrong, weights) == 0.25
    new = update_weights(weights, math.log(3), wrong)
    assert np.allclose(new, np.array([3, 1, 1, 1]) / 6)

    state = SammeState(np.full(4, 0.25), num_classes=3)
    assert state.add("first", 0.25, wrong) and state.alphas == [pytest.approx(math.log(6))]
    assert not state.add("chance", 2 / 3, wrong)  # err >= 1 - 1/K: stop, not kept
    assert state.members == ["first"]
    lone = SammeState(np.full(4, 0.25), num_classes=2)
    assert not lone.add("only", 0.6, wrong) and lone.members == ["only"]  # never empty


def noisy_split():
    """Three classes with some training labels wrong, in few dimensions: a nearest
    centroid cannot memorise them, so members make mistakes for boosting to weigh."""
    data = tiny_data(n=30, classes=3, box=6)
    train, val = data.take(np.arange(24)), data.take(np.arange(24, 30))
    train.labels[[0, 1, 5, 9]] = (train.labels[[0, 1, 5, 9]] + 1) % 3
    return train, val


def test_boosting_weights_reach_the_members_and_change_what_they_learn():
    train, val = noisy_split()
    model = Recorder()
    ensemble("boosting", members=3, mode="weights", error_on="validation").fit(
        model, train, val, tiny_context(3))
    first, second = model.fits[0][2], model.fits[1][2]
    assert np.allclose(first, 1.0)  # uniform: 1/N scaled to mean 1
    assert not np.allclose(second, first)  # the first member's mistakes weigh more

    from cryobench.testing import Centroid  # a model that honours sample weights

    uniform = Centroid().fit(train, val, tiny_context(3))
    weights = np.linspace(0.1, 5.0, len(train))  # within each class, too
    skewed = Centroid().fit(train, val, tiny_context(3).replace(sample_weight=weights))
    assert not np.allclose(uniform.means, skewed.means)


def test_resampling_boosting_draws_bags_in_proportion_to_the_weights():
    train, val = noisy_split()
    model = Recorder()
    predictor = ensemble("boosting", members=2).fit(model, train, val, tiny_context(3))
    assert model.fits[0][2] is None  # resampled bags, no sample weights
    assert len(model.fits[0][0]) == 24
    figures = predictor.fit_report.figures
    assert figures["mode"] == "resample" and figures["error_on"] == "out_of_bag"
    assert len(figures["errors"]) >= 1


def doc_with(ensemble_spec, model="cnn", split=None):
    doc = {"benchmark": {"name": "e", "seeds": [0]},
           "dataset": {"source": "synthetic", "box": 12},
           "arm": [{"name": "a", "model": model, "ensemble": ensemble_spec}]}
    if split:
        doc["split"] = split
    return doc


@pytest.mark.parametrize(("spec", "split", "message"), [
    ({"name": "bagging", "members": 0}, None, "arm[0].ensemble.members: got 0"),
    ({"name": "boosting", "mode": "weights", "error_on": "out_of_bag"}, None,
     "arm[0].ensemble.error_on: 'out_of_bag' needs mode = 'resample'"),
    ({"name": "boosting", "error_on": "validation"}, {"val_fraction": 0.0},
     "arm[0].ensemble.error_on: 'validation' needs a validation part"),
])
def test_bad_ensemble_settings_are_refused_before_any_work(spec, split, message):
    from cryobench.config import parse_benchmark
    from cryobench.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_benchmark(doc_with(spec, split=split), Registry())


def test_boosting_by_weights_refuses_a_model_that_ignores_them():
    from cryobench import hookimpl
    from cryobench.config import parse_benchmark
    from cryobench.errors import ConfigError

    class Deaf(Model):
        name = "deaf"
        summary = "ignores sample weights"
        capabilities = SELF_FITTED

        def fit(self, train, val, context):
            raise AssertionError("never trained")

    class Plugin:
        @hookimpl
        def cryobench_register_models(self):
            return [Deaf]

    with pytest.raises(ConfigError, match=r"arm\[0\]\.ensemble\.mode: the model ignores "
                                          "sample weights"):
        parse_benchmark(doc_with({"name": "boosting", "mode": "weights",
                                  "error_on": "validation"}, model="deaf"),
                        Registry(plugins=[Plugin()]))


def test_gp_combines_members_of_a_model_without_parts_deterministically():
    import random

    data = tiny_data(n=45, classes=3, box=6)
    train, val, test = (data.take(np.arange(a, b)) for a, b in ((0, 27), (27, 39), (39, 45)))
    state = random.getstate()
    runs = [ensemble("gp", population=20, generations=3, members=2).fit(
        Recorder(), train, val, tiny_context(3, seed=7)) for _ in range(2)]
    assert random.getstate() == state  # DEAP's global random, isolated
    first, second = runs
    assert first.fit_report.figures["programs"] == second.fit_report.figures["programs"]
    assert first.fit_report.figures["inputs"] == 2 * 3  # two members x three classes
    p = first.predict_proba(test.volumes)
    assert p.shape == (6, 3) and np.allclose(p.sum(1), 1)
    import pickle  # a tuning configuration's fit is kept for its trial (run.fitted)

    assert np.array_equal(pickle.loads(pickle.dumps(first)).predict_proba(test.volumes), p)
    report = first.report(test)
    assert [r["class"] for r in report["gp"]] == list(test.class_names)
    assert len(report["members"]) == 2 and "macro_f1" in report["combined"]


def test_the_multipath_cnn_offers_its_paths_and_head_to_a_combiner():
    model = Registry().create("model", "multipath", {"stage1_epochs": 1, "widths": [4, 4, 4],
                                                     "hidden": 8})
    data = tiny_data(n=30, classes=3)
    predictor = model.fit(data.take(np.arange(24)), data.take(np.arange(24, 30)),
                          tiny_context(3))
    outputs = predictor.part_outputs(data.volumes[:5])
    assert outputs.shape == (5, 6)  # three paths' "this class", then three head outputs
    assert np.allclose(outputs[:, 3:], predictor.predict_proba(data.volumes[:5]))


def test_gp_needs_a_validation_part():
    from cryobench.config import parse_benchmark
    from cryobench.errors import ConfigError

    with pytest.raises(ConfigError, match=r"arm\[0\]\.ensemble: evolves its programs on the "
                                          "validation part"):
        parse_benchmark(doc_with("gp", split={"val_fraction": 0.0}), Registry())
