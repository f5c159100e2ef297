"""The rows a model tunes on: the validation split, or a stand-in when it has none."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Share of the training split held out for tuning when there is no validation split.
HOLDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class Selection:
    """Rows to fit on and rows to choose on, and where the latter came from."""

    x: np.ndarray
    labels: np.ndarray
    x_select: np.ndarray
    select_labels: np.ndarray
    source: str  # "validation", "training holdout" or "training (in-sample)"


def selection_rows(x: np.ndarray, labels: np.ndarray, x_val: np.ndarray,
                   val_labels: np.ndarray, num_classes: int, seed: int) -> Selection:
    """The validation split when it holds every class; otherwise a stratified
    :data:`HOLDOUT_FRACTION` of the training split (fitted on the rest), or, when a class
    is too small to split, the training rows themselves (an optimistic score)."""
    from sklearn.model_selection import train_test_split

    if len(val_labels) and np.all(np.bincount(val_labels, minlength=num_classes) > 0):
        return Selection(x, labels, x_val, val_labels, "validation")
    n_select = math.ceil(HOLDOUT_FRACTION * len(labels))
    splittable = min(n_select, len(labels) - n_select) >= num_classes
    if splittable and np.all(np.bincount(labels, minlength=num_classes) >= 2):
        fit, select = train_test_split(np.arange(len(labels)), test_size=HOLDOUT_FRACTION,
                                       stratify=labels, random_state=seed)
        if np.all(np.bincount(labels[select], minlength=num_classes) > 0):
            return Selection(x[fit], labels[fit], x[select], labels[select],
                             "training holdout")
    return Selection(x, labels, x, labels, "training (in-sample)")
