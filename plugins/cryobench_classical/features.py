"""Volumes to a few standardised features, fitted on the training split only.

Every classical model reads particles through one :class:`FeatureMap`, chosen by its
``features`` parameter: ``pca`` (principal components of the voxels) or ``invariant``
(rotation-invariant descriptors, :mod:`cryobench_classical.descriptors`). Both are then
standardised with the training split's mean and spread, so that an RBF kernel or a GP
constant in [-1, 1] means the same thing for every column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryobench.api import CryobenchError, Param
from cryobench_classical.descriptors import invariant_descriptors

FEATURE_KINDS = ("pca", "invariant")

FEATURE_PARAMS = (
    Param("features", str, "invariant", "what the model sees of a volume: rotation-"
          "invariant descriptors (the default: on randomly oriented particles PCA of the "
          "voxels carries little class signal, docs/classical.md) or principal components "
          "of its voxels", choices=FEATURE_KINDS),
    Param("components", int, 32, "principal components kept (features = 'pca'); at most "
          "the number of training particles", low=1),
)


@dataclass
class FeatureMap:
    """A fitted map from volumes ``[n, D, D, D]`` to standardised features ``[n, f]``."""

    kind: str
    pca: object | None  # sklearn PCA, fitted on the training volumes (kind "pca")
    scaler: object  # sklearn StandardScaler, fitted on the training features

    def transform(self, volumes: np.ndarray) -> np.ndarray:
        return self.scaler.transform(self._raw(volumes))

    @property
    def n_features(self) -> int:
        return int(self.scaler.n_features_in_)

    def _raw(self, volumes: np.ndarray) -> np.ndarray:
        if self.kind == "invariant":
            return invariant_descriptors(volumes)
        return self.pca.transform(_flat(volumes))


def fit_features(kind: str, volumes: np.ndarray, components: int, seed: int
                 ) -> tuple[FeatureMap, np.ndarray]:
    """Fit the map on training volumes only (validation and test data never enter it);
    returns it with the training particles' features."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}")
    pca = None
    if kind == "pca":
        if components > len(volumes):
            raise CryobenchError(f"features 'pca': components = {components} but the "
                                 f"training split has {len(volumes)} particles; lower "
                                 "components")
        pca = PCA(n_components=components, svd_solver="randomized", random_state=seed)
        raw = pca.fit_transform(_flat(volumes))
    else:
        raw = invariant_descriptors(volumes)
    scaler = StandardScaler().fit(raw)
    return FeatureMap(kind, pca, scaler), scaler.transform(raw)


def _flat(volumes: np.ndarray) -> np.ndarray:
    return np.asarray(volumes, dtype=np.float32).reshape(len(volumes), -1)
