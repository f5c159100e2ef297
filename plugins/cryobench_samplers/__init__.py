"""First-party samplers (imbalanced-learn): rebalance the training split before fitting.

Volumes are flattened to ``[n, D^3]`` for the sampler and reshaped back.
"""

from __future__ import annotations

import logging
from abc import abstractmethod

import numpy as np

from cryobench.api import CryobenchError, Param, Sampler, hookimpl

log = logging.getLogger(__name__)


class NoSampler(Sampler):
    """Leaves the training split as it is (the imbalanced baseline)."""

    name = "none"
    summary = "keep the training split as it is"
    plain = True

    def fit_resample(self, volumes: np.ndarray, labels: np.ndarray, seed: int):
        return volumes, labels


class ImblearnSampler(Sampler):
    """Shared flatten / resample / reshape around an imbalanced-learn sampler."""

    @abstractmethod
    def make(self, labels: np.ndarray, seed: int):
        """The imbalanced-learn sampler for these labels."""

    def fit_resample(self, volumes: np.ndarray, labels: np.ndarray, seed: int):
        box = volumes.shape[1:]
        flat = volumes.reshape(len(volumes), -1)
        x, y = self.make(labels, seed).fit_resample(flat, labels)
        return np.asarray(x, dtype=np.float32).reshape(-1, *box), np.asarray(y, dtype=np.int64)


def _neighbours(name: str, wanted: int, labels: np.ndarray) -> int:
    """Neighbours a class can offer; fewer than asked is lowered, with a message."""
    smallest = int(np.bincount(labels)[np.bincount(labels) > 0].min())
    if smallest < 2:
        raise CryobenchError(f"sampler {name!r}: a class has {smallest} training particle; "
                             "interpolating needs at least 2 (use 'oversample' or more data)")
    if smallest - 1 < wanted:
        log.warning("%s: smallest class has %d training particles; k_neighbors lowered from "
                    "%d to %d", name, smallest, wanted, smallest - 1)
    return min(wanted, smallest - 1)


class Smote(ImblearnSampler):
    """SMOTE (Chawla et al. 2002): synthetic minority particles between neighbours."""

    name = "smote"
    summary = "SMOTE oversampling in voxel space (imbalanced-learn)"
    params = (Param("k_neighbors", int, 5, "neighbours to interpolate between (lowered for "
                                           "classes that have fewer)", low=1),)

    def make(self, labels, seed):
        from imblearn.over_sampling import SMOTE

        return SMOTE(k_neighbors=_neighbours(self.name, self.k_neighbors, labels),
                     random_state=seed)


class Adasyn(ImblearnSampler):
    """ADASYN (He et al. 2008): more synthetic particles where the minority is harder."""

    name = "adasyn"
    summary = "ADASYN oversampling in voxel space (imbalanced-learn)"
    params = (Param("n_neighbors", int, 5, "neighbours (lowered for small classes)", low=1),)

    def make(self, labels, seed):
        from imblearn.over_sampling import ADASYN

        return ADASYN(n_neighbors=_neighbours(self.name, self.n_neighbors, labels),
                      random_state=seed)


class RandomUnder(ImblearnSampler):
    """Random undersampling of every class down to the smallest one."""

    name = "undersample"
    summary = "random undersampling to the smallest class (imbalanced-learn)"

    def make(self, labels, seed):
        from imblearn.under_sampling import RandomUnderSampler

        return RandomUnderSampler(random_state=seed)


class RandomOver(ImblearnSampler):
    """Random oversampling (duplication) of every class up to the largest one."""

    name = "oversample"
    summary = "random oversampling to the largest class (imbalanced-learn)"

    def make(self, labels, seed):
        from imblearn.over_sampling import RandomOverSampler

        return RandomOverSampler(random_state=seed)


@hookimpl
def cryobench_register_samplers() -> list[type[Sampler]]:
    return [NoSampler, Smote, Adasyn, RandomUnder, RandomOver]
