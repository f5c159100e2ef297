"""Pseudo-atomic (Gaussian bead) models of the complexes, built from their real dimensions.

Coordinates are in nm, centred on the particle, long or symmetry axis along z. A class's
template is a fixed grid fill of its shape; each particle gets its own conformation
(cap tilt and azimuth, ring twist, subunit rotation) and bead displacement.
Sources for the dimensions: SIMULATOR.md (see docs/simulator.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.spatial.transform import Rotation

SPACING = 1.2  # nm between beads of a template
BEAD_SIGMA = 0.9  # nm, Gaussian width of one bead when rendered
BEAD_JITTER = 0.3  # nm, per-particle random displacement of every bead
CAP_SEAT = 6.6  # nm from the barrel's centre to where a 19S cap's ATPase ring sits

#: Principal extents (nm) the rendered, noise-free models are tested against.
EXPECTED_EXTENTS: dict[str, tuple[float, ...]] = {
    "proteasome_20s": (15.0, 11.5, 11.5),
    "proteasome_s": (30.0, 19.0),
    "proteasome_d": (44.5, 19.0),
    "TRiC": (16.0, 15.5, 15.5),
    "ribosome": (27.5, 25.0),
}


def _grid(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> np.ndarray:
    axes = [np.arange(a, b + 1e-9, SPACING) for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def _ellipsoid(center, radii) -> np.ndarray:
    c, r = np.asarray(center, float), np.asarray(radii, float)
    p = _grid(tuple(c - r), tuple(c + r))
    return p[(((p - c) / r) ** 2).sum(1) <= 1.0]


def _ring(n: int, r_in: float, r_out: float, z0: float, z1: float, gap_deg: float,
          phase_deg: float = 0.0) -> np.ndarray:
    """n subunits around z, each an annular sector with a gap to its neighbours."""
    p = _grid((-r_out, -r_out, z0), (r_out, r_out, z1))
    radius = np.hypot(p[:, 0], p[:, 1])
    angle = (np.degrees(np.arctan2(p[:, 1], p[:, 0])) - phase_deg) % (360.0 / n)
    keep = (radius >= r_in) & (radius <= r_out) & (angle >= gap_deg / 2) & (
        angle <= 360.0 / n - gap_deg / 2)
    return p[keep]


@lru_cache(maxsize=None)
def _barrel() -> np.ndarray:
    """20S core: alpha7 beta7 beta7 alpha7, 15 nm long, about 11.5 nm wide."""
    rings = []
    for k, (r_in, r_out) in enumerate([(1.2, 4.2), (2.0, 4.4), (2.0, 4.4), (1.2, 4.2)]):
        z0 = (k - 1.5) * 3.2 - 0.9
        rings.append(_ring(7, r_in, r_out, z0, z0 + 1.8, gap_deg=9.0))
    return np.concatenate(rings)


@lru_cache(maxsize=None)
def _cap() -> np.ndarray:
    """19S regulatory particle on the barrel's +z end: ATPase ring, lid, Rpn1 lobe."""
    base = _ring(6, 1.4, 5.4, CAP_SEAT, CAP_SEAT + 1.9, gap_deg=8.0)
    lid = _ellipsoid((2.0, 0.0, CAP_SEAT + 9.0), (8.6, 5.6, 5.6))
    rpn1 = _ellipsoid((-4.3, 3.0, CAP_SEAT + 3.3), (2.8, 2.8, 2.4))
    return np.concatenate([base, lid, rpn1])


@lru_cache(maxsize=None)
def _tric_ring() -> np.ndarray:
    """One 8-subunit ring of TRiC, z from the equator up; central cavity left open."""
    return _ring(8, 2.6, 5.6, 0.6, 5.5, gap_deg=8.0)


@lru_cache(maxsize=None)
def _ribosome_parts() -> tuple[np.ndarray, np.ndarray]:
    """80S: 60S body with central protuberance and stalks; 40S above a groove."""
    large = np.concatenate([
        _ellipsoid((0.0, 0.0, -4.0), (10.8, 9.6, 7.6)),
        _ellipsoid((0.5, -2.0, 4.5), (3.0, 3.0, 2.6)),  # central protuberance
        _ellipsoid((-10.6, 3.0, -1.0), (2.2, 2.2, 3.0)),  # L1 stalk
        _ellipsoid((10.2, 4.0, -2.0), (1.8, 1.8, 3.2)),  # P stalk
    ])
    small = np.concatenate([
        _ellipsoid((1.0, 2.0, 9.2), (10.0, 6.2, 3.8)),
        _ellipsoid((-6.5, 3.0, 12.0), (2.6, 2.6, 2.0)),  # head
    ])
    bridges = np.concatenate([_ellipsoid((x, 1.0, 4.9), (1.4, 1.4, 1.2)) for x in (-3.5, 3.5)])
    return np.concatenate([large, bridges]), small


def _rotate(points: np.ndarray, rotation: Rotation, pivot=(0.0, 0.0, 0.0)) -> np.ndarray:
    pivot = np.asarray(pivot)
    return rotation.apply(points - pivot) + pivot


def _small_tilt(rng: np.random.Generator, sd_deg: float) -> Rotation:
    """A rotation by a normal(0, sd) angle about a random axis."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    return Rotation.from_rotvec(axis * np.radians(rng.normal(0.0, sd_deg)))


def _placed_cap(rng: np.random.Generator, flip: bool) -> np.ndarray:
    azimuth = Rotation.from_euler("z", rng.uniform(0, 360), degrees=True)
    cap = _rotate(_rotate(_cap(), azimuth), _small_tilt(rng, 6.0), pivot=(0, 0, CAP_SEAT))
    if flip:  # the second cap of a double-capped particle: two-fold about y
        cap = cap * np.array([-1.0, 1.0, -1.0])
    return cap


def proteasome_20s(rng: np.random.Generator) -> np.ndarray:
    return _barrel()


def proteasome_s(rng: np.random.Generator) -> np.ndarray:
    return _recentre(np.concatenate([_barrel(), _placed_cap(rng, flip=False)]))


def proteasome_d(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([_barrel(), _placed_cap(rng, False), _placed_cap(rng, True)])


def tric(rng: np.random.Generator) -> np.ndarray:
    twist = Rotation.from_euler("z", rng.normal(0.0, 3.0), degrees=True)
    top = _rotate(_tric_ring(), twist)
    bottom = _tric_ring() * np.array([1.0, -1.0, -1.0])  # back to back: two-fold about x
    return np.concatenate([top, bottom])


def ribosome(rng: np.random.Generator) -> np.ndarray:
    large, small = _ribosome_parts()
    # ratcheting of the small subunit about the inter-subunit axis
    small = _rotate(small, _small_tilt(rng, 4.0), pivot=(0.0, 1.0, 5.0))
    return _recentre(np.concatenate([large, small]))


def _recentre(points: np.ndarray) -> np.ndarray:
    return points - points.mean(0)


STRUCTURES: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "proteasome_20s": proteasome_20s,
    "proteasome_s": proteasome_s,
    "proteasome_d": proteasome_d,
    "TRiC": tric,
    "ribosome": ribosome,
}


def particle_beads(name: str, rng: np.random.Generator) -> np.ndarray:
    """One particle's bead centres (nm): its conformation plus per-bead displacement."""
    points = STRUCTURES[name](rng)
    return points + rng.normal(0.0, BEAD_JITTER, size=points.shape)


def principal_extents(density: np.ndarray, voxel_size: float, level: float = 0.3) -> np.ndarray:
    """Extents (nm) along the principal axes of the voxels above ``level`` x the density's
    99.9th percentile, largest first: how a biologist would measure an isosurface."""
    threshold = level * np.percentile(density, 99.9)
    coords = np.argwhere(density > threshold).astype(float) * voxel_size
    coords -= coords.mean(0)
    _, _, axes = np.linalg.svd(coords, full_matrices=False)
    projected = coords @ axes.T
    return np.sort(projected.max(0) - projected.min(0) + voxel_size)[::-1]
