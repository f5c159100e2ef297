"""Pseudo-atomic (Gaussian bead) models of the complexes, built from their real dimensions.

Coordinates are in nm, centred on the particle, long or symmetry axis along z. A class's
template is a fixed fill of its shape; each particle gets its own conformation (cap tilt
and azimuth, ring twist, subunit rotation) and bead displacement.

Every template lies on one cubic lattice of cells SPACING wide, centred on the origin,
with a bead at the centre of each cell its shape contains: a bead stands for the protein
in its cell, so a shape's parameters are the complex's physical dimensions (to within half
a cell), and overlapping parts are merged rather than counted twice, so density is uniform.
Sources for the dimensions: SIMULATOR.md (see docs/simulator.md, "The complexes").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
from scipy.spatial.transform import Rotation

SPACING = 1.2  # nm, lattice cell of a template: one bead per cell
BEAD_SIGMA = 0.9  # nm, Gaussian width of one bead when rendered
BEAD_JITTER = 0.3  # nm, per-particle random displacement of every bead
CAP_SEAT = 7.2  # nm from the barrel's centre to its alpha-ring face, where a 19S cap sits

#: Published physical dimensions (nm) of each complex, largest first (SIMULATOR.md).
#: ``principal_extents`` reads about 2 nm more than these on a rendered map, so the tests
#: compare a model's readings with readings of solid bodies of these dimensions rendered
#: the same way, not with these figures (docs/simulator.md, "The complexes").
EXPECTED_EXTENTS: dict[str, tuple[float, ...]] = {
    "proteasome_20s": (15.0, 11.5, 11.5),
    "proteasome_s": (30.0, 19.0),
    "proteasome_d": (44.5, 19.0),
    "TRiC": (16.0, 15.5, 15.5),
    "ribosome": (27.5, 25.0),
}

#: ``principal_extents`` (nm) of maps rendered from atomic models at 1.368 nm per voxel:
#: the same measurement as on a simulated particle, so the tests compare them directly.
MAP_EXTENTS: dict[str, tuple[float, ...]] = {
    "TRiC": (17.6, 17.5, 17.2),  # PDB 4V8R, closed state
}


def _grid(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> np.ndarray:
    """Centres of the lattice cells whose centres lie in the box [lo, hi]."""
    axes = [(np.arange(np.ceil(a / SPACING - 0.5), np.floor(b / SPACING - 0.5) + 1) + 0.5)
            * SPACING for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def _union(*parts: np.ndarray) -> np.ndarray:
    """Lattice beads of overlapping parts, each cell once."""
    cells = np.round(np.concatenate(parts) / SPACING - 0.5).astype(np.int64)
    return (np.unique(cells, axis=0) + 0.5) * SPACING


def _ellipsoid(center, radii) -> np.ndarray:
    c, r = np.asarray(center, float), np.asarray(radii, float)
    p = _grid(tuple(c - r), tuple(c + r))
    return p[(((p - c) / r) ** 2).sum(1) <= 1.0]


def _sectors(p: np.ndarray, n: int, gap_deg: float, phase_deg: float = 0.0) -> np.ndarray:
    """True for points in one of n subunits around z, each separated by a gap."""
    angle = (np.degrees(np.arctan2(p[:, 1], p[:, 0])) - phase_deg) % (360.0 / n)
    return (angle >= gap_deg / 2) & (angle <= 360.0 / n - gap_deg / 2)


def _ring(n: int, r_in: float, r_out: float, z0: float, z1: float, gap_deg: float,
          phase_deg: float = 0.0) -> np.ndarray:
    """n subunits around z, each an annular sector with a gap to its neighbours."""
    p = _grid((-r_out, -r_out, z0), (r_out, r_out, z1))
    radius = np.hypot(p[:, 0], p[:, 1])
    return p[(radius >= r_in) & (radius <= r_out) & _sectors(p, n, gap_deg, phase_deg)]


@cache
def _barrel() -> np.ndarray:
    """20S core: alpha7 beta7 beta7 alpha7, 14.4 nm long (15 published; a whole number
    of cells) and about 11.5 wide; the beta rings enclose the catalytic chamber, the alpha
    rings narrow to a gated pore."""
    beta = _ring(7, 2.4, 5.6, 0.0, 3.6, gap_deg=9.0)
    alpha = _ring(7, 1.2, 5.4, 3.6, CAP_SEAT, gap_deg=9.0)
    half = np.concatenate([beta, alpha])
    return np.concatenate([half, half * np.array([1.0, -1.0, -1.0])])  # two-fold about x


@cache
def _cap() -> np.ndarray:
    """19S regulatory particle on the barrel's +z face, 15 nm tall: the 6-fold ATPase
    ring of the base, Rpn2 above it, Rpn1 at one side and the lid clamping the base from
    the other, so the cap is asymmetric and wider than the barrel (its lobes' tips are
    20.4 nm apart; it reads like a solid 19 nm wide, docs/simulator.md)."""
    base = _ring(6, 1.5, 6.2, CAP_SEAT, CAP_SEAT + 3.6, gap_deg=8.0)
    rpn1 = _ellipsoid((-7.0, 2.0, CAP_SEAT + 3.4), (3.4, 3.4, 2.8))
    rpn2 = _ellipsoid((0.5, -1.0, CAP_SEAT + 6.0), (3.5, 3.5, 2.4))
    lid = _ellipsoid((1.5, 0.0, CAP_SEAT + 10.3), (8.5, 4.0, 4.8))
    return _union(base, rpn1, rpn2, lid)


@cache
def _tric_ring() -> np.ndarray:
    """One 8-subunit ring of closed TRiC (as in PDB 4V8R), from the equator up: a wall
    whose outer surface is half an ellipsoid 15.5 nm wide, around a folding chamber 8 nm
    wide that narrows under the apical domains; over it the apical lids meet, 8.4 nm
    above the equator. A flat-topped barrel of this size reads 1-2 nm taller than 4V8R."""
    radius, height = 7.75, 8.4
    p = _grid((-radius, -radius, 0.0), (radius, radius, height))
    r, z = np.hypot(p[:, 0], p[:, 1]), p[:, 2]
    dome = (r / radius) ** 2 + (z / height) ** 2 <= 1.0
    chamber = np.where(z < 6.0, 4.0, 2.0)  # its radius, narrower under the apical domains
    wall = dome & (r >= chamber) & _sectors(p, 8, 12.0) & (z < 7.2)
    lids = (z > 7.2) & (r <= 1.8)
    return p[wall | lids]


@cache
def _ribosome_parts() -> tuple[np.ndarray, np.ndarray]:
    """80S: 60S body with central protuberance and stalks; 40S above a groove. 28.8 x
    26.6 x 21.7 nm tip to tip, it reads like a solid 27.5 x 25 (mid "25-30 across")."""
    large = _union(
        _ellipsoid((0.0, 0.0, -4.4), (11.5, 10.5, 8.3)),
        _ellipsoid((0.5, -2.2, 4.9), (3.3, 3.3, 2.8)),  # central protuberance
        _ellipsoid((-11.3, 3.3, -1.1), (2.4, 2.4, 3.3)),  # L1 stalk
        _ellipsoid((10.9, 4.4, -2.2), (2.0, 2.0, 3.5)),  # P stalk
        *[_ellipsoid((x, 1.1, 5.3), (1.5, 1.5, 1.3)) for x in (-3.8, 3.8)],  # bridges
    )
    small = _union(
        _ellipsoid((1.1, 2.2, 10.0), (10.6, 6.8, 4.1)),
        _ellipsoid((-6.8, 3.3, 13.3), (2.8, 2.8, 2.2)),  # head
    )
    return large, small


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
    small = _rotate(small, _small_tilt(rng, 4.0), pivot=(0.0, 1.1, 5.4))
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
