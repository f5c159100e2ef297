"""The one container every data source yields and every model consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from cryobench.errors import CryobenchError


@dataclass
class Subtomograms:
    """Labelled cubic volumes.

    ``volumes`` is float32 ``[n, D, D, D]`` (axes z, y, x as in MRC files); ``labels`` are
    integer indices into ``class_names``; ``voxel_size`` is in nm; ``source_ids`` say where
    each particle came from (a file, or ``stack.mrcs@index``); ``metadata`` is the set's
    provenance (how it was made), carried into anything written from it; ``tomograms``
    names the tomogram each particle was cut from, where known (a split can keep each
    tomogram on one side).
    """

    volumes: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    voxel_size: float
    source_ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    metadata: dict[str, Any] = field(default_factory=dict)
    tomograms: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.volumes = np.asarray(self.volumes, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.class_names = tuple(self.class_names)
        if self.volumes.ndim != 4 or len(set(self.volumes.shape[1:])) != 1:
            raise ValueError(f"volumes must be [n, D, D, D], got {self.volumes.shape}")
        if self.labels.shape != (len(self.volumes),):
            raise ValueError(f"{len(self.labels)} labels for {len(self.volumes)} volumes")
        if len(self.labels) and not 0 <= self.labels.min() <= self.labels.max() < len(self.class_names):
            raise ValueError("labels must index class_names")
        if self.source_ids is None:
            self.source_ids = np.array([str(i) for i in range(len(self.labels))], dtype=object)
        self.source_ids = np.asarray(self.source_ids, dtype=object)
        if self.tomograms is not None:
            self.tomograms = np.asarray(self.tomograms, dtype=object)
            if self.tomograms.shape != self.labels.shape:
                raise ValueError(f"{len(self.tomograms)} tomogram names for {len(self.labels)} "
                                 "particles")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def box(self) -> int:
        return int(self.volumes.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def counts(self) -> np.ndarray:
        """Particles per class, in class order (zeros included)."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def take(self, indices: np.ndarray) -> Subtomograms:
        """A subset of particles; classes and their order are kept."""
        indices = np.asarray(indices)
        return Subtomograms(self.volumes[indices], self.labels[indices], self.class_names,
                            self.voxel_size, self.source_ids[indices], self.metadata,
                            self._tomograms_at(indices))

    def with_volumes(self, volumes: np.ndarray, labels: np.ndarray) -> Subtomograms:
        """New particles (e.g. from a sampler) in this set's class space."""
        return Subtomograms(volumes, labels, self.class_names, self.voxel_size,
                            np.array([f"resampled:{i}" for i in range(len(labels))], dtype=object),
                            self.metadata)

    def select_classes(self, names: Sequence[str]) -> Subtomograms:
        """Keep only these classes, relabelled 0..k-1 in the order given."""
        missing = [n for n in names if n not in self.class_names]
        if missing:
            from cryobench.errors import unknown_name_message

            raise CryobenchError(unknown_name_message("class", missing[0], self.class_names))
        old = np.array([self.class_names.index(n) for n in names])
        remap = np.full(self.num_classes, -1)
        remap[old] = np.arange(len(names))
        keep = np.flatnonzero(remap[self.labels] >= 0)
        return Subtomograms(self.volumes[keep], remap[self.labels[keep]], tuple(names),
                            self.voxel_size, self.source_ids[keep], self.metadata,
                            self._tomograms_at(keep))

    def _tomograms_at(self, indices: np.ndarray) -> np.ndarray | None:
        return None if self.tomograms is None else self.tomograms[indices]

    def summary(self) -> list[tuple[str, int, float]]:
        """(class, count, share in %) per class."""
        counts = self.counts()
        total = max(int(counts.sum()), 1)
        return [(n, int(c), 100.0 * c / total) for n, c in zip(self.class_names, counts)]
