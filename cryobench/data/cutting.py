"""Cutting cubic boxes out of a tomogram that is never read whole.

``volume`` is anything sliced like a numpy array with axes (z, y, x): a memory-mapped
MRC, read box by box (a box is a few small reads of the mapped file), or a chunked zarr
array, read chunk by chunk: each chunk that any box touches is decompressed once and
its part of every such box copied out, so memory holds one chunk besides the particles.

A box that crosses the tomogram's edge is padded with the mean of its voxels inside
the tomogram: the padding carries no structure and leaves the particle's mean as it was.
"""

from __future__ import annotations

import itertools
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


def box_overlap(centre: np.ndarray, box: int, shape: tuple[int, ...]
                ) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """The part of one particle's box inside the tomogram: where it lies in the tomogram,
    and where in the box (what the simulator adds in, and what cutting pads around)."""
    start = box_bounds(np.asarray(centre)[None], box)[0][0]
    lo, hi = np.maximum(start, 0), np.minimum(start + box, np.asarray(shape[-3:]))
    return (tuple(slice(int(a), int(b)) for a, b in zip(lo, hi)),
            tuple(slice(int(a), int(b)) for a, b in zip(lo - start, hi - start)))


def cut_particles(volume: Any, centres: np.ndarray, box: int, out: np.ndarray,
                  chunks: tuple[int, int, int] | None = None,
                  done: Callable[[int], None] | None = None,
                  rows: np.ndarray | None = None) -> None:
    """Write the box around each centre (voxels, z y x, inside ``volume``) into
    ``out[rows[i]]`` (``rows`` default: i; ``out`` float32 ``[m, box, box, box]``);
    ``done(k)`` as particles are finished."""
    rows = np.arange(len(centres)) if rows is None else np.asarray(rows)
    shape = np.asarray(volume.shape[-3:])
    starts, _ = box_bounds(centres, box)
    lo, hi = np.maximum(starts, 0), np.minimum(starts + box, shape)  # the part inside
    if chunks is None:
        for i in range(len(centres)):
            region = np.asarray(volume[lo[i, 0]:hi[i, 0], lo[i, 1]:hi[i, 1], lo[i, 2]:hi[i, 2]],
                                dtype=np.float32)
            _place(region, lo[i], starts[i], box, out[rows[i]])
            if done:
                done(1)
        return
    _cut_by_chunk(volume, starts, lo, hi, np.asarray(chunks), out, rows, done)
    for i in np.flatnonzero(crosses_edge(centres, box, tuple(shape))):
        target = out[rows[i]]  # its inside part is filled: pad the rest
        inside = target[box_overlap(centres[i], box, tuple(shape))[1]].copy()
        _place(inside, lo[i], starts[i], box, target)


def _cut_by_chunk(volume: Any, starts: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  chunks: np.ndarray, out: np.ndarray, rows: np.ndarray,
                  done: Callable[[int], None] | None) -> None:
    """Each chunk any box touches is read (decompressed) once, and its part of every
    such box copied out: memory holds one chunk besides the particles."""
    touching: dict[tuple[int, ...], list[int]] = defaultdict(list)
    left = np.zeros(len(starts), dtype=np.int64)  # chunks each particle still waits for
    for i in range(len(starts)):
        first, last = lo[i] // chunks, (hi[i] - 1) // chunks
        for key in itertools.product(*(range(a, b + 1) for a, b in zip(first, last))):
            touching[key].append(i)
            left[i] += 1
    shape = np.asarray(volume.shape[-3:])
    for key, members in touching.items():
        c0 = np.asarray(key) * chunks
        c1 = np.minimum(c0 + chunks, shape)
        block = np.asarray(volume[c0[0]:c1[0], c0[1]:c1[1], c0[2]:c1[2]], dtype=np.float32)
        for i in members:
            a, b = np.maximum(lo[i], c0), np.minimum(hi[i], c1)
            s, t = a - starts[i], b - starts[i]
            u, v = a - c0, b - c0
            out[rows[i], s[0]:t[0], s[1]:t[1], s[2]:t[2]] = block[u[0]:v[0], u[1]:v[1], u[2]:v[2]]
            left[i] -= 1
        if done:
            done(int(sum(left[i] == 0 for i in members)))


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
