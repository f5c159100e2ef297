"""Reference points for the classical models: a plain SVM and a balanced random forest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryobench.api import CryobenchError, FitContext, FitReport, Param
from cryobench_classical.base import ClassicalModel, FeatureData, Scorer
from cryobench_classical.features import FEATURE_PARAMS
from cryobench_classical.models import GAMMA_UNITS

#: Most folds of the cross-validated decision values the SVM's sigmoids are fitted on.
CALIBRATION_FOLDS = 5


@dataclass
class ClassColumns:
    """A scikit-learn classifier's probabilities with one column per class, in class
    order, whichever classes it saw."""

    estimator: object
    num_classes: int

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), self.num_classes))
        out[:, self.estimator.classes_] = self.estimator.predict_proba(x)
        return out


class SVMModel(ClassicalModel):
    """A multi-class RBF SVM; probabilities by Platt scaling: a sigmoid per class fitted
    on cross-validated decision values (up to 5 stratified folds), normalised across
    classes, then the SVM refitted on the whole training split."""

    name = "svm"
    summary = "RBF support vector machine (scikit-learn SVC), optional class weights"
    params = (
        *FEATURE_PARAMS,
        Param("C", float, 1.0, "SVM regularisation C", low=1e-6),
        Param("gamma", float, 1.0, f"RBF gamma, {GAMMA_UNITS}", low=1e-6),
        Param("class_weight", str, "none", "'balanced' weights each class by its inverse "
              "frequency", choices=("none", "balanced")),
    )

    min_per_class = 2  # the calibration's stratified folds

    def fit_on_features(self, data: FeatureData, context: FitContext
                        ) -> tuple[Scorer, FitReport]:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        smallest = int(np.bincount(data.labels)[np.unique(data.labels)].min())
        if smallest < self.min_per_class:
            raise CryobenchError(f"svm: a class has {smallest} training particle; Platt "
                                 f"scaling needs at least {self.min_per_class}")
        # SVC(probability=True) is deprecated (scikit-learn 1.9) for this same recipe
        svc = SVC(C=self.C, kernel="rbf", gamma=self.gamma / data.x.shape[1],
                  class_weight=None if self.class_weight == "none" else "balanced",
                  random_state=context.seed)
        folds = min(CALIBRATION_FOLDS, smallest)
        model = CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)
        model.fit(data.x, data.labels)
        support = model.calibrated_classifiers_[0].estimator.support_
        report = FitReport({"support_vectors": int(len(support)), "calibration_folds": folds})
        return ClassColumns(model, data.num_classes), report


class BalancedRandomForest(ClassicalModel):
    """imbalanced-learn's balanced random forest: each tree on a class-balanced
    undersample; probabilities are the trees' mean vote."""

    name = "balanced_random_forest"
    summary = "balanced random forest (imbalanced-learn)"
    params = (*FEATURE_PARAMS, Param("n_estimators", int, 100, "trees", low=1))

    def fit_on_features(self, data: FeatureData, context: FitContext
                        ) -> tuple[Scorer, FitReport]:
        from imblearn.ensemble import BalancedRandomForestClassifier

        # the published defaults, written out; one job: its numbers must not depend on
        # the threads (SELF_FITTED says so)
        forest = BalancedRandomForestClassifier(
            n_estimators=self.n_estimators, sampling_strategy="all", replacement=True,
            bootstrap=False, n_jobs=1, random_state=context.seed)
        forest.fit(data.x, data.labels)
        return ClassColumns(forest, data.num_classes), FitReport({})
