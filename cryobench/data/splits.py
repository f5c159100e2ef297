"""Stratified train/validation/test splits from a seed; a particle is in one part only.

With ``groups`` (the tomogram of each particle) the test part is made of whole
tomograms, so that neighbours from one tomogram never sit on both sides of a score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from cryobench.errors import CryobenchError


@dataclass(frozen=True)
class Split:
    """Indices into one data set."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def holdout_split(labels: np.ndarray, test_fraction: float, val_fraction: float,
                  seed: int, class_names: tuple[str, ...] = (),
                  groups: np.ndarray | None = None) -> Split:
    """One stratified test split, then a stratified validation part of the rest.

    With ``groups``, the test part is whole groups (tomograms): one fold of a stratified
    group k-fold with ``round(1 / test_fraction)`` folds (fewer when there are fewer
    groups), so its share is as near ``test_fraction`` as whole tomograms allow. The seed
    chooses the fold (``seed % folds``) and the shuffle (``seed // folds``): seeds 0 to
    folds - 1 test every tomogram once (fold 0 alone kept testing the same ones).
    """
    _check_counts(labels, class_names, test_fraction, val_fraction)
    if groups is not None:
        tomograms = _group_count(groups, 2, "a test and a training part")
        folds = min(max(round(1 / test_fraction), 2), tomograms)
        return _grouped(labels, groups, folds, seed % folds, val_fraction, seed, class_names,
                        shuffle_seed=seed // folds)
    _check_room("test", math.ceil(test_fraction * len(labels)), labels, test_fraction)
    index = np.arange(len(labels))
    rest, test = train_test_split(index, test_size=test_fraction, stratify=labels,
                                  random_state=seed)
    train, val = _carve_validation(rest, labels, val_fraction, seed, class_names)
    return _check_parts(Split(np.sort(train), np.sort(val), np.sort(test)), labels, class_names)


def kfold_split(labels: np.ndarray, folds: int, fold: int, val_fraction: float, seed: int,
                class_names: tuple[str, ...] = (), groups: np.ndarray | None = None) -> Split:
    """Fold ``fold`` of a repeated (by seed) stratified k-fold as the test part; with
    ``groups``, a stratified group k-fold (each fold whole tomograms)."""
    _check_counts(labels, class_names, 1.0 / folds, val_fraction, folds=folds)
    if groups is not None:
        _group_count(groups, folds, f"{folds} folds")
        return _grouped(labels, groups, folds, fold, val_fraction, seed, class_names)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    rest, test = list(splitter.split(np.zeros(len(labels)), labels))[fold]
    train, val = _carve_validation(rest, labels, val_fraction, seed, class_names)
    return _check_parts(Split(np.sort(train), np.sort(val), np.sort(test)), labels, class_names)


def _grouped(labels: np.ndarray, groups: np.ndarray, folds: int, fold: int,
             val_fraction: float, seed: int, names: tuple[str, ...],
             shuffle_seed: int | None = None) -> Split:
    """Test part: whole groups. The validation part (early stopping only) is carved,
    stratified, from the training tomograms: with a handful of tomograms, holding whole
    ones out for validation too would leave too few to train on."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=(
        seed if shuffle_seed is None else shuffle_seed))
    rest, test = list(splitter.split(np.zeros(len(labels)), labels, groups))[fold]
    train, val = _carve_validation(rest, labels, val_fraction, seed, names, grouped=True)
    split = Split(np.sort(train), np.sort(val), np.sort(test))
    return _check_parts(split, labels, names, grouped=True)


def _group_count(groups: np.ndarray, need: int, what: str) -> int:
    count = len(np.unique(groups))
    if count < need:
        raise CryobenchError(
            f"split by tomogram: {count} tomogram{'s' if count != 1 else ''} cannot make "
            f"{what} of whole tomograms (at least {need} needed); add tomograms, or remove "
            "[split] group")
    return count


def _carve_validation(rest: np.ndarray, labels: np.ndarray, val_fraction: float,
                      seed: int, names: tuple[str, ...] = (),
                      grouped: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The validation part, stratified, out of the training particles: each class needs
    two of them there (one each side)."""
    if val_fraction <= 0:
        return rest, np.array([], dtype=rest.dtype)
    _check_room("validation", math.ceil(val_fraction * len(rest)), labels, val_fraction)
    where = "the training tomograms" if grouped else "the training part"
    for c, n in enumerate(np.bincount(labels[rest], minlength=labels.max() + 1)):
        if 0 < n < 2:
            raise CryobenchError(
                f"class {_name(names, c)!r} has {n} particle in {where}: the validation part, "
                "carved from them by stratification, needs at least 2 of each class; "
                + ("add particles of it to more tomograms, drop the class, or set "
                   "val_fraction = 0" if grouped else "add particles or set val_fraction = 0"))
    try:
        train, val = train_test_split(rest, test_size=val_fraction, stratify=labels[rest],
                                      random_state=seed + 1)
    except ValueError as exc:  # scikit-learn's refusal, as one line
        raise CryobenchError(f"the validation part (carved by stratification from {where}, "
                             f"{len(rest)} particles) cannot be made: {exc}") from None
    return train, val


def _check_counts(labels: np.ndarray, names: tuple[str, ...], test_fraction: float,
                  val_fraction: float, folds: int = 0) -> None:
    """Every class needs a particle in every part; say which class is too small."""
    need = max(3 if val_fraction > 0 else 2, folds)
    for c, n in enumerate(np.bincount(labels)):
        if n < need:
            raise CryobenchError(
                f"class {_name(names, c)!r} has {n} particles; this split (test "
                f"{test_fraction:g}, validation {val_fraction:g}) needs at least {need}: "
                "add particles, drop the class, or lower the fractions")


def _check_room(part: str, size: int, labels: np.ndarray, fraction: float) -> None:
    """A stratified part must hold at least one particle of every class."""
    classes = len(np.unique(labels))
    if size < classes:
        raise CryobenchError(
            f"the {part} part ({fraction:g} of the split: {size} particles) cannot hold one "
            f"particle of each of the {classes} classes; raise the {part} fraction or add "
            "particles")


def _check_parts(split: Split, labels: np.ndarray, names: tuple[str, ...],
                 grouped: bool = False) -> Split:
    """Rounding (or whole tomograms) can leave a small class out of a part: an error,
    not a silent zero."""
    for part, index in (("test", split.test), ("validation", split.val), ("training", split.train)):
        if part == "validation" and len(index) == 0:
            continue
        present = np.bincount(labels[index], minlength=labels.max() + 1)
        for c in np.flatnonzero(present == 0):
            raise CryobenchError(
                f"class {_name(names, c)!r} ({int((labels == c).sum())} particles) has none in "
                f"the {part} part; " + (_GROUPED_HINT if grouped and part != "validation" else
                                        _VALIDATION_HINT if grouped else
                                        f"add particles or raise the {part} fraction"))
    return split


_VALIDATION_HINT = ("the validation part is carved by stratification from the training "
                    "tomograms' particles; raise val_fraction, add particles of it, or set "
                    "val_fraction = 0")
_GROUPED_HINT = ("its particles sit in too few tomograms to split by tomogram; add "
                 "tomograms, drop the class, or remove [split] group")


def _name(names: tuple[str, ...], c: int) -> str:
    return names[c] if c < len(names) else str(c)
