"""What every classical model shares: features fitted on the training split, a predictor
that maps volumes through them, and the refusals of setups that cannot work."""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from cryobench.api import (
    SELF_FITTED, ArmSetup, FitContext, FitReport, Model, ParamError, Subtomograms,
)
from cryobench_classical.features import FEATURE_PARAMS, FeatureMap, fit_features


class Scorer(Protocol):
    """A model fitted on features: class probabilities ``[n, K]`` per feature row."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class FeatureData:
    """The training and validation splits as feature rows (validation may be empty)."""

    x: np.ndarray
    labels: np.ndarray
    x_val: np.ndarray
    val_labels: np.ndarray
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class FeaturePredictor:
    """Volumes -> the fitted features -> the fitted model's class probabilities."""

    features: FeatureMap
    scorer: Scorer
    fit_report: FitReport

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        with one_blas_thread():
            return self.scorer.predict_proba(self.features.transform(volumes))


class ClassicalModel(Model):
    """A model on a few features per particle; fits on its own (no epochs or loss)."""

    capabilities = SELF_FITTED
    params = FEATURE_PARAMS
    #: Training particles each class needs (one-vs-rest problems, stratified folds).
    min_per_class: ClassVar[int] = 1

    def check_setup(self, setup: ArmSetup) -> None:
        counts = estimated_training_counts(setup)
        if counts is None:
            return
        total = estimated_training_total(setup)
        if self.features == "pca" and self.components > total:
            raise ParamError("components", f"{self.components} principal components, but the "
                                           f"training split holds about {total} particles; "
                                           f"use at most {total}")
        for name, count in counts.items():
            if count < self.min_per_class:
                raise ParamError("", f"class {name!r} would have about {count} training "
                                     f"particle(s); {self.name} needs at least "
                                     f"{self.min_per_class} per class (add particles or "
                                     "drop the class)")

    def fit(self, train: Subtomograms, val: Subtomograms, context: FitContext
            ) -> FeaturePredictor:
        with one_blas_thread():
            return self._fit(train, val, context)

    def _fit(self, train: Subtomograms, val: Subtomograms, context: FitContext
             ) -> FeaturePredictor:
        start = time.perf_counter()
        features, x = fit_features(self.features, train.volumes, self.components, context.seed)
        x_val = features.transform(val.volumes) if len(val) else np.zeros((0, x.shape[1]))
        feature_seconds = time.perf_counter() - start
        data = FeatureData(x, train.labels, x_val, val.labels, train.class_names)
        scorer, report = self.fit_on_features(data, context)
        report.figures = {"features": self.features, "n_features": int(x.shape[1]),
                          "feature_seconds": feature_seconds,
                          "fit_seconds": time.perf_counter() - start, **report.figures}
        return FeaturePredictor(features, scorer, report)

    @abstractmethod
    def fit_on_features(self, data: FeatureData, context: FitContext
                        ) -> tuple[Scorer, FitReport]:
        """Fit on standardised feature rows; seeded from ``context.seed`` only."""


def one_blas_thread():
    """A context in which numpy and scikit-learn use one BLAS/OpenMP thread: the numbers
    do not depend on the thread count (``SELF_FITTED`` promises so), and a busy machine
    does not stall spinning threads (randomized PCA ran 100x slower on two loaded cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def estimated_training_counts(setup: ArmSetup) -> dict[str, int] | None:
    """Training particles per class after the test and validation parts are taken (a
    stratified estimate, +-1 per class); ``None`` when the source cannot tell."""
    if setup.class_counts is None:
        return None
    keep = (1 - _test_fraction(setup)) * (1 - setup.split.val_fraction)
    return {name: math.floor(count * keep) for name, count in setup.class_counts.items()}


def estimated_training_total(setup: ArmSetup) -> int:
    """Training particles in all, rounded as scikit-learn's ``train_test_split`` does
    (its test part is ``ceil(fraction x n)``)."""
    total = sum((setup.class_counts or {}).values())
    rest = total - math.ceil(_test_fraction(setup) * total)
    val_fraction = setup.split.val_fraction
    return rest - (math.ceil(val_fraction * rest) if val_fraction > 0 else 0)


def _test_fraction(setup: ArmSetup) -> float:
    split = setup.split
    return 1 / split.folds if split.method == "kfold" else split.test_fraction


def per_class(class_names: tuple[str, ...], values: list) -> dict[str, object]:
    """A figure per class, keyed by class name (plain data for the result file)."""
    return dict(zip(class_names, values))
