"""Cutting cubic boxes out of a tomogram that is never read whole.

``volume`` is anything sliced like a numpy array with axes (z, y, x): a memory-mapped
MRC, or a chunked zarr array. Particles are read region by region: with ``chunks`` (a
zarr array's), the particles whose centres share a chunk are cut from one read of their
bounding region, so each chunk is decompressed about once and memory holds one region
(a chunk plus a box's margin) besides the cut particles.

A box that crosses the tomogram's edge is padded with the mean of its voxels inside
the tomogram: the padding carries no structure and leaves the particle's mean as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np


def box_bounds(centres: np.ndarray, box: int) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last voxel of each particle's box (axes z, y, x); the centre
    voxel sits at ``box // 2``, as in the simulator's particles."""
    starts = np.asarray(centres, dtype=np.int64) - box // 2
    return starts, starts + box


def crosses_edge(centres: np.ndarray, box: int, shape: tuple[int, int, int]) -> np.ndarray:
    """Which particles' boxes reach outside the tomogram (and will be padded)."""
    starts, ends = box_bounds(centres, box)
    return ((starts < 0) | (ends > np.asarray(shape))).any(axis=1)


def cut_particles(volume: Any, centres: np.ndarray, box: int, out: np.ndarray,
                  chunks: tuple[int, int, int] | None = None,
                  done: Callable[[int], None] | None = None,
                  rows: np.ndarray | None = None) -> None:
    """Write the box around each centre (voxels, z y x, inside ``volume``) into
    ``out[rows[i]]`` (``rows`` default: i; ``out`` float32 ``[m, box, box, box]``);
    ``done(k)`` after each region."""
    rows = np.arange(len(centres)) if rows is None else np.asarray(rows)
    shape = np.asarray(volume.shape[-3:])
    starts, ends = box_bounds(centres, box)
    for members in _regions(np.asarray(centres), chunks):
        lo = np.maximum(starts[members].min(axis=0), 0)
        hi = np.minimum(ends[members].max(axis=0), shape)
        region = np.asarray(volume[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], dtype=np.float32)
        for i in members:
            _place(region, lo, starts[i], box, out[rows[i]])
        if done:
            done(len(members))


def _regions(centres: np.ndarray, chunks: tuple[int, int, int] | None) -> list[list[int]]:
    """Particles read together: one per particle for a memory map (a box is already one
    small read), those whose centres share a chunk for a chunked array."""
    if chunks is None:
        return [[i] for i in range(len(centres))]
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, key in enumerate(map(tuple, centres // np.asarray(chunks))):
        groups[key].append(i)
    return list(groups.values())


def _place(region: np.ndarray, lo: np.ndarray, start: np.ndarray, box: int,
           target: np.ndarray) -> None:
    a = np.maximum(start, lo)
    b = np.minimum(start + box, lo + np.asarray(region.shape))
    piece = region[a[0] - lo[0]:b[0] - lo[0], a[1] - lo[1]:b[1] - lo[1],
                   a[2] - lo[2]:b[2] - lo[2]]
    if piece.shape == target.shape:
        target[...] = piece
        return
    target[...] = piece.mean(dtype=np.float64) if piece.size else 0.0
    o, e = a - start, b - start
    target[o[0]:e[0], o[1]:e[1], o[2]:e[2]] = piece


def normalise(volumes: np.ndarray) -> None:
    """Each particle to mean 0 and standard deviation 1, in place (a constant box: mean
    0 only), as the simulator's particles are: tomograms differ in scale and offset."""
    for v in volumes:
        mean = v.mean(dtype=np.float64)
        std = v.std(dtype=np.float64)
        v -= mean
        if std > 0:
            v /= std
