"""Rotation-invariant descriptors of a volume: what a particle looks like whatever its pose.

Subtomograms come in random orientations, so a classical model on raw voxels (or their
PCA) must learn every pose; these descriptors do not change when the volume is rotated
about its centre (exactly so for 90-degree rotations, the grid's own symmetries):

- the radial density profile: mean density in spherical shells;
- the Fourier shell power spectrum: log mean power in frequency shells;
- moments of the density: mean, standard deviation, skewness and excess kurtosis of the
  voxels inside the inscribed sphere, the sorted eigenvalues of the spatial covariance of
  the density's energy ((v - mean)^2, so either contrast convention works), and the
  distance of that energy's centroid from the box centre.

Both use ``min(SHELLS, D // 2)`` shells of equal width out to the inscribed sphere (the
box's corners are left out), so a 40^3 particle gives 2 x 10 + 8 = 28 numbers.
"""

from __future__ import annotations

import numpy as np

#: Shells of the radial profile and of the power spectrum (fewer for boxes under 20).
SHELLS = 10
#: Particles processed at once (bounds the float64 FFT working memory).
BATCH = 64
#: Names of the moment descriptors, in order.
MOMENTS = ("mean", "std", "skewness", "kurtosis", "spread_1", "spread_2", "spread_3",
           "centroid_offset")


def invariant_descriptors(volumes: np.ndarray) -> np.ndarray:
    """``[n, D, D, D]`` -> ``[n, 2 * shells + 8]`` float64 descriptors, one per volume."""
    volumes = np.asarray(volumes)
    if volumes.ndim != 4 or len(set(volumes.shape[1:])) != 1:
        raise ValueError(f"volumes must be [n, D, D, D], got {volumes.shape}")
    geometry = _Geometry(volumes.shape[1])
    rows = [geometry.describe(volumes[start:start + BATCH].astype(np.float64))
            for start in range(0, len(volumes), BATCH)]
    if not rows:
        return np.zeros((0, 2 * geometry.shells + len(MOMENTS)))
    return np.concatenate(rows)


class _Geometry:
    """Shell averaging matrices and coordinates for one box size."""

    def __init__(self, box: int) -> None:
        self.shells = max(1, min(SHELLS, box // 2))
        width = (box / 2) / self.shells
        # centre (D - 1) / 2: np.rot90 turns the grid about this point, so radii match
        axis = np.arange(box) - (box - 1) / 2
        z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
        radius = np.sqrt(z * z + y * y + x * x).ravel()
        self.inside = radius < box / 2
        self.coordinates = np.stack([z.ravel(), y.ravel(), x.ravel()], axis=1)[self.inside]
        self.radial = _shell_means(np.floor(radius / width), np.ones_like(radius), self.shells)
        # Fourier shells over the real half-spectrum: interior columns of the last axis
        # stand for two conjugate coefficients, so they count twice
        k = np.fft.fftfreq(box) * box
        k_last = np.fft.rfftfreq(box) * box
        kz, ky, kx = np.meshgrid(k, k, k_last, indexing="ij")
        frequency = np.sqrt(kz * kz + ky * ky + kx * kx).ravel()
        twice = (k_last > 0) & (k_last < box / 2)
        weight = np.broadcast_to(np.where(twice, 2.0, 1.0), kx.shape).ravel()
        self.spectral = _shell_means(np.floor(frequency / width), weight, self.shells)

    def describe(self, volumes: np.ndarray) -> np.ndarray:
        n = len(volumes)
        flat = volumes.reshape(n, -1)
        power = np.abs(np.fft.rfftn(volumes, axes=(1, 2, 3))) ** 2
        spectrum = np.log(power.reshape(n, -1) @ self.spectral + 1e-12)
        return np.concatenate([flat @ self.radial, spectrum, self._moments(flat[:, self.inside])],
                              axis=1)

    def _moments(self, values: np.ndarray) -> np.ndarray:
        mean = values.mean(axis=1, keepdims=True)
        centred = values - mean
        std = np.sqrt((centred ** 2).mean(axis=1, keepdims=True))
        safe = np.where(std > 0, std, 1.0)
        skewness = ((centred / safe) ** 3).mean(axis=1, keepdims=True)
        kurtosis = ((centred / safe) ** 4).mean(axis=1, keepdims=True) - 3.0
        energy = centred ** 2
        total = energy.sum(axis=1, keepdims=True)
        weights = energy / np.where(total > 0, total, 1.0)
        centroid = weights @ self.coordinates  # [n, 3]
        second = np.stack([(weights * axis) @ self.coordinates
                           for axis in self.coordinates.T], axis=1)  # [n, 3, 3]
        covariance = second - centroid[:, :, None] * centroid[:, None, :]
        spreads = np.sort(np.linalg.eigvalsh(covariance), axis=1)
        offset = np.linalg.norm(centroid, axis=1, keepdims=True)
        return np.concatenate([mean, std, skewness, kurtosis, spreads, offset], axis=1)


def _shell_means(shell: np.ndarray, weight: np.ndarray, shells: int) -> np.ndarray:
    """``[voxels, shells]``: a matrix that averages a flattened volume per shell (shells
    past the last - the box's corners - are left out). With at most D / 2 shells, each
    is one voxel wide or more, so none is empty."""
    matrix = np.zeros((len(shell), shells))
    kept = shell < shells
    matrix[np.flatnonzero(kept), shell[kept].astype(int)] = weight[kept]
    return matrix / matrix.sum(axis=0, keepdims=True)
