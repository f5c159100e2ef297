"""The paper's metrics: macro F1 and macro G-mean (one-vs-rest), plus per-class figures.

The metric names are defined here once; scikit-learn and imbalanced-learn are imported
only when something is scored, so that validating a benchmark file stays light.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from cryobench.errors import CryobenchError

#: Every metric a trial reports, in the order tables show them; any can rank the arms.
METRICS = ("macro_f1", "macro_gmean", "balanced_accuracy")
#: How tables and figures name them.
METRIC_LABELS = {"macro_f1": "macro F1", "macro_gmean": "macro G-mean",
                 "balanced_accuracy": "balanced accuracy"}


@dataclass(frozen=True)
class ClassScore:
    name: str
    precision: float
    recall: float
    f1: float
    gmean: float
    support: int


@dataclass(frozen=True)
class Scores:
    macro_f1: float
    macro_gmean: float
    balanced_accuracy: float
    per_class: tuple[ClassScore, ...]
    confusion: np.ndarray  # rows: true class, columns: predicted class

    def summary(self) -> dict[str, float]:
        """The macro figures, keyed by the names in :data:`METRICS`."""
        return {name: getattr(self, name) for name in METRICS}

    def as_dict(self) -> dict[str, object]:
        return {**self.summary(),
                "per_class": [asdict(c) for c in self.per_class],
                "confusion": self.confusion.tolist()}


def score(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> Scores:
    """All figures for one prediction.

    G-mean per class is sqrt(sensitivity x specificity) one-vs-rest and the macro G-mean is
    their mean: imblearn's ``geometric_mean_score(average=None).mean()``, not its
    ``average="macro"`` (which is sqrt(mean sens x mean spec)).
    """
    from imblearn.metrics import sensitivity_specificity_support
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = np.arange(len(class_names))
    absent = [class_names[c] for c in labels if not np.any(y_true == c)]
    if absent:
        raise CryobenchError(f"class {absent[0]!r} is absent from the evaluated split; "
                             "its F1 and G-mean are undefined")
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    sens, spec, _ = sensitivity_specificity_support(y_true, y_pred, labels=labels,
                                                    average=None)
    gmean = np.sqrt(sens * spec)
    per_class = tuple(
        ClassScore(str(n), float(p), float(r), float(f), float(g), int(s))
        for n, p, r, f, g, s in zip(class_names, precision, recall, f1, gmean, support))
    return Scores(float(f1.mean()), float(gmean.mean()), float(recall.mean()), per_class,
                  confusion_matrix(y_true, y_pred, labels=labels))
