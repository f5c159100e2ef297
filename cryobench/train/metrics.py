"""The paper's metrics: macro F1 and macro G-mean (one-vs-rest), plus per-class figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from imblearn.metrics import sensitivity_specificity_support
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from cryobench.errors import CryobenchError


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

    def as_dict(self) -> dict[str, object]:
        return {"macro_f1": self.macro_f1, "macro_gmean": self.macro_gmean,
                "balanced_accuracy": self.balanced_accuracy,
                "per_class": [asdict(c) for c in self.per_class],
                "confusion": self.confusion.tolist()}


def score(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> Scores:
    """All figures for one prediction.

    G-mean per class is sqrt(sensitivity x specificity) one-vs-rest and the macro G-mean is
    their mean: imblearn's ``geometric_mean_score(average=None).mean()``, not its
    ``average="macro"`` (which is sqrt(mean sens x mean spec)).
    """
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
