"""The classical models: GSVM-RU's granule loop, features fitted on training data only
and invariant to rotation, the contract checks, fits above chance, and refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.svm import SVC

import cryobench_classical
from cryobench.contract.components import SELF_FITTED, ArmSetup
from cryobench.errors import ParamError
from cryobench.metrics import score
from cryobench.contract.params import resolve_params
from cryobench.registry import Registry
from cryobench.specs import SplitConfig
from cryobench.testing import TINY_TRAINING, check_component, tiny_context, tiny_data
from cryobench_classical.base import one_blas_thread
from cryobench_classical.descriptors import invariant_descriptors
from cryobench_classical.features import fit_features
from cryobench_classical.gsvm import binary_gmean, granular_svm, one_vs_rest_gsvm

#: Parameters that keep each model's conformance check to a second or so.
SMALL = {
    "gsvm_ru": {"components": 6, "C": [1.0], "gamma": [1.0], "max_granules": 3},
    "gp_classifier": {"components": 6, "population": 30, "generations": 4},
    "svm": {"components": 6},
    "balanced_random_forest": {"components": 6, "n_estimators": 10},
}

#: A GP needs a few more generations to learn the three tiny classes.
LEARNS = {**SMALL, "gp_classifier": {"components": 6, "population": 100, "generations": 10}}
#: One 15-particle test split is too noisy to judge a GP fitted on 60 (one program that
#: overfits takes the ties): it is scored over three splits.
SPLIT_SEEDS = {"gp_classifier": (0, 1, 2)}


def registry() -> Registry:
    # entry_points=False: the same test works before and after pyproject names the plugin
    return Registry(plugins=[cryobench_classical], entry_points=False)


def test_the_plugin_registers_four_self_fitted_models_and_stays_light_to_import():
    names = {info.name for info in registry().components() if info.kind == "model"}
    assert names == set(SMALL)
    assert all(registry().get("model", name).capabilities == SELF_FITTED for name in SMALL)
    from cryobench_genetic_programming import FITNESSES
    from cryobench_classical.models import FITNESS_CHOICES

    assert FITNESS_CHOICES == tuple(FITNESSES)
    code = ("import sys, cryobench_classical; "
            "print(sorted({'deap', 'sklearn', 'imblearn', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# --- GSVM-RU ------------------------------------------------------------------------------


def _two_gaussians(n_pos: int, n_neg: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Positives around (1.6, 1.6), negatives around the origin: they overlap."""
    x = np.concatenate([rng.normal(1.6, 1.0, (n_pos, 2)), rng.normal(0.0, 1.0, (n_neg, 2))])
    return x, np.arange(len(x)) < n_pos


@pytest.fixture(scope="module")
def imbalanced():
    """1:20 training, validation and test parts of one seeded problem."""
    rng = np.random.default_rng(0)
    return _two_gaussians(15, 300, rng), _two_gaussians(10, 200, rng), \
        _two_gaussians(40, 800, rng)


def test_granules_are_the_negative_support_vectors_of_what_is_left(imbalanced):
    (x, positive), (x_val, val_positive), _ = imbalanced
    fit = granular_svm(x, positive, x_val, val_positive, C=1.0, gamma=0.5)
    assert len(fit.granule_rows) >= 3
    first = SVC(C=1.0, gamma=0.5).fit(x, positive).support_
    np.testing.assert_array_equal(np.sort(fit.granule_rows[0]),
                                  np.sort(first[~positive[first]]))
    taken = np.concatenate(fit.granule_rows)
    assert not positive[taken].any() and len(np.unique(taken)) == len(taken)
    # the second granule: negative support vectors once the first is removed
    rest = np.setdiff1d(np.arange(len(x)), fit.granule_rows[0])
    second = rest[SVC(C=1.0, gamma=0.5).fit(x[rest], positive[rest]).support_]
    np.testing.assert_array_equal(np.sort(fit.granule_rows[1]),
                                  np.sort(second[~positive[second]]))
    assert [s.size for s in fit.steps] == [len(g) for g in fit.granule_rows]


def test_extraction_stops_when_the_validation_gmean_stops_improving(imbalanced):
    (x, positive), (x_val, val_positive), _ = imbalanced
    fit = granular_svm(x, positive, x_val, val_positive, C=1.0, gamma=0.5)
    scores = [step.gmean for step in fit.steps]
    assert fit.stop == "no improvement"
    assert scores[-1] <= scores[-2]  # the granule that did not help ends the loop...
    assert all(a < b for a, b in zip(scores[:-1], scores[1:-1]))  # ...none before it
    assert fit.granules == len(scores) - 1 and fit.gmean == max(scores)
    capped = granular_svm(x, positive, x_val, val_positive, C=1.0, gamma=0.5, max_granules=1)
    assert capped.stop == "max granules" and len(capped.steps) == 1


def test_gsvm_ru_beats_a_plain_svm_on_gmean_and_combine_does_not_move_it(imbalanced):
    (x, positive), (x_val, val_positive), (x_test, test_positive) = imbalanced
    plain = SVC(C=1.0, gamma=0.5).fit(x, positive).decision_function(x_test) > 0
    plain_gmean = binary_gmean(plain, test_positive)
    discard = granular_svm(x, positive, x_val, val_positive, C=1.0, gamma=0.5)
    discard_gmean = binary_gmean(discard.decision_function(x_test) > 0, test_positive)
    assert discard_gmean > plain_gmean + 0.1  # 0.74 against 0.61
    # negatives outside the first SVM's margin cannot move it (docs/classical.md)
    combine = granular_svm(x, positive, x_val, val_positive, C=1.0, gamma=0.5,
                           aggregation="combine")
    assert np.mean((combine.decision_function(x_test) > 0) == plain) > 0.99


def test_one_vs_rest_gives_one_model_per_class_and_a_valid_argmax():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], [150, 25, 15])
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    x = centres[labels] + rng.normal(scale=0.7, size=(len(labels), 2))
    val = np.repeat([0, 1, 2], [40, 8, 6])
    x_val = centres[val] + rng.normal(scale=0.7, size=(len(val), 2))
    model = one_vs_rest_gsvm(x, labels, x_val, val, 3, Cs=[1.0, 10.0], gammas=[0.5])
    assert len(model.models) == 3 and all(m.granules >= 1 for m in model.models)
    assert {m.C for m in model.models} <= {1.0, 10.0}
    p = model.predict_proba(x_val)
    assert p.shape == (len(val), 3) and np.allclose(p.sum(1), 1.0)
    assert score(val, p.argmax(1), ("a", "b", "c")).macro_gmean > 0.8


# --- features -----------------------------------------------------------------------------


def _splits(n: int = 60, classes: int = 3, seed: int = 0):
    data = tiny_data(n=n, classes=classes, seed=seed)
    third = n // 3
    return (data.take(np.arange(third, n)), data.take(np.arange(third // 2)),
            data.take(np.arange(third // 2, third)))


def test_pca_and_scaler_are_fitted_on_the_training_split_only():
    train, val, _ = _splits()
    model = registry().create("model", "svm", {"features": "pca", "components": 6})
    other_val = val.with_volumes(np.random.default_rng(9).normal(size=val.volumes.shape),
                                 val.labels)
    first = model.fit(train, val, tiny_context(3, seed=0)).features
    second = model.fit(train, other_val, tiny_context(3, seed=0)).features
    np.testing.assert_array_equal(first.pca.components_, second.pca.components_)
    np.testing.assert_array_equal(first.scaler.mean_, second.scaler.mean_)
    with one_blas_thread():  # as models fit: BLAS threads change the last digits
        alone, x = fit_features("pca", train.volumes, 6, seed=0)
    np.testing.assert_array_equal(alone.pca.components_, first.pca.components_)
    # standardised with training statistics: the training rows have mean 0, spread 1
    np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(x.std(0), 1.0, atol=1e-4)


def test_invariant_descriptors_do_not_change_under_90_degree_rotations():
    volumes = tiny_data(n=4, box=16).volumes
    descriptors = invariant_descriptors(volumes)
    assert descriptors.shape == (4, 2 * 8 + 8) and np.isfinite(descriptors).all()
    for axes in ((1, 2), (2, 3), (1, 3)):
        turned = np.rot90(volumes, k=1, axes=axes)
        np.testing.assert_allclose(invariant_descriptors(turned), descriptors,
                                   rtol=1e-9, atol=1e-9)
    # but they do see a change that is not a rotation: a shifted particle
    shifted = np.roll(volumes, 3, axis=3)
    assert not np.allclose(invariant_descriptors(shifted), descriptors, atol=1e-3)


# --- the contract, and fits above chance --------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
def test_every_classical_model_passes_the_conformance_checks(name):
    check_component(registry().get("model", name), SMALL[name])


@pytest.mark.parametrize("features", ["pca", "invariant"])
@pytest.mark.parametrize("name", SMALL)
def test_every_classical_model_classifies_tiny_data_above_chance(name, features):
    model = registry().create("model", name, {**LEARNS[name], "features": features})
    f1 = []
    for seed in SPLIT_SEEDS.get(name, (0,)):
        train, val, test = _splits(n=90, seed=seed)
        predictor = model.fit(train, val, tiny_context(3, seed=0))
        p = predictor.predict_proba(test.volumes)
        assert p.shape == (len(test), 3) and np.allclose(p.sum(1), 1.0)
        f1.append(score(test.labels, p.argmax(1), test.class_names).macro_f1)
    assert np.mean(f1) > 0.6, f1  # chance: 1/3
    report = predictor.fit_report
    assert report.figures["features"] == features and report.figures["fit_seconds"] > 0
    json.dumps(report.as_dict())  # the result file holds it


def test_gsvm_ru_reports_its_choices_per_class():
    train, val, _ = _splits(n=90)
    params = {**SMALL["gsvm_ru"], "C": [0.5, 2.0], "gamma": [0.5, 1.0]}
    report = registry().create("model", "gsvm_ru", params).fit(
        train, val, tiny_context(3)).fit_report
    figures = report.figures
    assert figures["selection"] == "validation"
    assert set(figures["granules"]) == set(train.class_names)
    assert all(1 <= g <= 3 for g in figures["granules"].values())
    assert set(figures["C"].values()) <= {0.5, 2.0}
    assert set(figures["gamma"].values()) <= {0.5, 1.0}
    history = report.parts["class class0"].history
    assert history[0]["granules"] == 1 and 0 <= history[0]["gmean"] <= 1


def test_gsvm_ru_without_a_validation_split_tunes_on_a_training_holdout():
    train, val, test = _splits(n=90)
    model = registry().create("model", "gsvm_ru", SMALL["gsvm_ru"])
    predictor = model.fit(train, val.take(np.arange(0)), tiny_context(3))
    assert predictor.fit_report.figures["selection"] == "training holdout"
    p = predictor.predict_proba(test.volumes)
    assert score(test.labels, p.argmax(1), test.class_names).macro_f1 > 0.6


def test_gp_classifier_reports_each_program():
    train, val, _ = _splits(n=90)
    report = registry().create("model", "gp_classifier", SMALL["gp_classifier"]).fit(
        train, val, tiny_context(3)).fit_report
    assert set(report.figures["best_fitness"]) == set(train.class_names)
    part = report.parts["class class1"]
    assert part.figures["program"] and len(part.history) == 4 + 1
    assert 0.5 < part.figures["fitness"] <= 1.0


# --- refusals -----------------------------------------------------------------------------


def _setup(counts: dict[str, int] | None, val_fraction: float = 0.1) -> ArmSetup:
    return ArmSetup(SELF_FITTED, SplitConfig("holdout", 0.2, val_fraction, 5), TINY_TRAINING,
                    counts)


@pytest.mark.parametrize(("name", "params", "param"), [
    ("gp_classifier", {"population": 1}, "population"),
    ("gsvm_ru", {"C": []}, "C"),
    ("gsvm_ru", {"gamma": [1.0, 0.0]}, "gamma[1]"),
    ("svm", {"class_weight": "auto"}, "class_weight"),
    ("balanced_random_forest", {"features": "voxels"}, "features"),
])
def test_bad_parameters_are_refused_naming_the_parameter(name, params, param):
    with pytest.raises(ParamError) as caught:  # as benchmark validation resolves them
        resolve_params(registry().get("model", name).params, params)
    assert caught.value.param == param


def test_more_components_than_training_particles_is_refused_before_any_work():
    # 100 particles: 20 test, then 8 validation of 80: 72 training particles
    counts = {"a": 70, "b": 30}
    model = registry().create("model", "svm", {"features": "pca", "components": 73})
    with pytest.raises(ParamError) as caught:
        model.check_setup(_setup(counts))
    assert caught.value.param == "components" and "about 72" in caught.value.problem
    registry().create("model", "svm", {"features": "pca", "components": 72}).check_setup(_setup(counts))
    registry().create("model", "svm", {"features": "pca", "components": 500}).check_setup(_setup(None))
    invariant = registry().create("model", "svm", {"components": 500, "features": "invariant"})
    invariant.check_setup(_setup(counts))  # components do not apply


def test_a_class_too_small_for_one_vs_rest_is_refused_by_name():
    counts = {"big": 200, "tiny": 2}  # 2 x 0.8 x 0.9: about 1 training particle
    for name in ("gsvm_ru", "gp_classifier", "svm"):
        with pytest.raises(ParamError, match="class 'tiny' would have about 1 training"):
            registry().create("model", name, {"components": 8}).check_setup(_setup(counts))
    registry().create("model", "balanced_random_forest", {"components": 8}).check_setup(
        _setup(counts))


def test_pca_with_more_components_than_particles_fails_clearly_when_fitted():
    from cryobench.errors import CryobenchError

    train, val, _ = _splits()
    with pytest.raises(CryobenchError, match="components = 64 but the training split has 40"):
        registry().create("model", "svm", {"features": "pca", "components": 64}).fit(train, val, tiny_context(3))


# --- through a benchmark ------------------------------------------------------------------


def with_builtins() -> Registry:
    """The installed plugins (data sources, the default loss...) and this one, whether or
    not pyproject already names it as an entry point."""
    installed = Registry()
    if any(info.name == "gsvm_ru" for info in installed.components()):
        return installed
    return Registry(plugins=[cryobench_classical])


BENCH = {
    "benchmark": {"name": "classical", "seeds": [0]},
    "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0, "snr": 5.0,
                "class_counts": {"TRiC": 20, "ribosome": 20}},
    "arm": [
        {"name": "gsvm", "model": {"name": "gsvm_ru", **SMALL["gsvm_ru"]}},
        {"name": "gp", "model": {"name": "gp_classifier", **SMALL["gp_classifier"],
                                 "features": "invariant"}},
    ],
}


def test_classical_arms_run_through_a_benchmark_and_record_their_fit(tmp_path, monkeypatch):
    from rich.console import Console

    from cryobench.config import parse_benchmark, source_class_counts
    from tests.conftest import run_locally
    from cryobench.run.results import ResultStore

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    registry = with_builtins()
    bench = parse_benchmark(BENCH, registry, class_counts=source_class_counts(registry, tmp_path))
    store = ResultStore(tmp_path / "results.jsonl")
    records = run_locally(bench, registry, store, Console(record=True, width=150))
    assert [r.status for r in records] == ["ok", "ok"]
    gsvm, gp = (json.loads(line) for line in store.path.read_text().splitlines())
    assert set(gsvm["fit"]["granules"]) == {"TRiC", "ribosome"}
    assert gp["fit"]["parts"]["class TRiC"]["program"]
    assert gsvm["config"]["model"]["name"] == "gsvm_ru" and "lr" not in json.dumps(gsvm["config"])


def test_validation_refuses_more_components_than_the_training_split_holds(tmp_path):
    from cryobench.config import parse_benchmark, source_class_counts
    from cryobench.errors import ConfigError

    registry = with_builtins()
    doc = dict(BENCH, arm=[{"name": "big", "model": {"name": "svm", "features": "pca", "components": 40}}])
    # 40 particles: 8 test, then 4 validation of 32: 28 training particles
    with pytest.raises(ConfigError, match=r"arm\[0\]\.model\.components: 40 principal "
                                          "components, but the training split holds about 28"):
        parse_benchmark(doc, registry, class_counts=source_class_counts(registry, tmp_path))
