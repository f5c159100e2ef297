"""Rendering bead clouds onto voxel grids, a whole batch at once."""

from __future__ import annotations

import numpy as np


def splat(points: list[np.ndarray], box: int) -> np.ndarray:
    """Trilinear deposit of unit beads (voxel coordinates, z y x) into ``[B, D, D, D]``.

    One ``bincount`` for the whole batch: no Python loop over beads or voxels.
    Beads outside the box (crowding neighbours) are cut at the edge.
    """
    counts = np.array([len(p) for p in points])
    owner = np.repeat(np.arange(len(points)), counts)
    coords = np.concatenate(points) if points else np.zeros((0, 3))
    base = np.floor(coords).astype(np.int64)
    frac = coords - base
    out = np.zeros(len(points) * box**3, dtype=np.float64)
    for corner in range(8):
        offset = np.array([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])
        idx = base + offset
        weight = np.prod(np.where(offset, frac, 1.0 - frac), axis=1)
        ok = ((idx >= 0) & (idx < box)).all(axis=1)
        flat = ((owner[ok] * box + idx[ok, 0]) * box + idx[ok, 1]) * box + idx[ok, 2]
        out += np.bincount(flat, weights=weight[ok], minlength=out.size)
    return out.reshape(len(points), box, box, box)
