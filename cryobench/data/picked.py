"""Particles picked in whole tomograms: where each will be cut, checked before any voxel
is read, then cut once and cached like the simulated data set.

The ``tomograms`` and ``copick`` sources each turn their inputs into a
:class:`ParticlePlan` (names, shapes and voxel sizes from headers or metadata alone), so
that validation finds a particle outside its tomogram in a second, and both share the
cutting, the cache and the summary.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryobench.data import Progress
from cryobench.data.cache import cached_folder, content_key, discard
from cryobench.data.cutting import crosses_edge, cut_particles, normalise
from cryobench.data.memory import shortfall, volumes_bytes
from cryobench.data.subtomograms import Subtomograms
from cryobench.errors import CryobenchError, DataError

#: Bump when cutting gives other volumes for the same inputs: it keys the cache.
CUT_VERSION = 1
PADDING = "mean of the box's voxels inside the tomogram"
#: Opens one tomogram for reading: yields an array sliced (z, y, x) and its chunk
#: shape (None for a memory map, which is read particle by particle).
Opener = Callable[[], AbstractContextManager[tuple[Any, "tuple[int, int, int] | None"]]]


@dataclass(frozen=True)
class Tomogram:
    """A tomogram as its header (or metadata) tells it, without its voxels."""

    name: str
    shape: tuple[int, int, int]  # z, y, x
    voxel_size: float  # Angstrom
    where: str  # a file, or a copick run: for messages
    fingerprint: str  # what keys the cache: changes when the tomogram is rewritten


@dataclass(frozen=True)
class ParticlePlan:
    """Every particle's tomogram, centre voxel and class, already checked."""

    tomograms: tuple[Tomogram, ...]
    tomogram_index: np.ndarray  # [n] into ``tomograms``
    centres: np.ndarray  # [n, 3] voxels, z y x, inside their tomogram
    labels: np.ndarray  # [n] into ``class_names``
    class_names: tuple[str, ...]
    source_ids: tuple[str, ...]  # "TS_01 line 12": where each particle was listed
    box: int

    @property
    def voxel_size_nm(self) -> float:
        return self.tomograms[0].voxel_size / 10.0

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return dict(zip(self.class_names, map(int, counts)))

    def tomogram_counts(self) -> dict[str, dict[str, int]]:
        """Tomogram -> class -> particles (classes with none left out)."""
        out: dict[str, dict[str, int]] = {}
        for t, c in zip(self.tomogram_index, self.labels):
            by_class = out.setdefault(self.tomograms[t].name, {})
            name = self.class_names[c]
            by_class[name] = by_class.get(name, 0) + 1
        return out

    def edges(self) -> np.ndarray:
        """Which particles' boxes cross their tomogram's edge (padded when cut)."""
        out = np.zeros(len(self.labels), dtype=bool)
        for t, tomo in enumerate(self.tomograms):
            at = self.tomogram_index == t
            out[at] = crosses_edge(self.centres[at], self.box, tomo.shape)
        return out

    def key(self, normalised: bool) -> str:
        """The cache key: every input that decides the cut volumes."""
        arrays = hashlib.sha256()
        for a in (self.tomogram_index, self.centres, self.labels):
            arrays.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        # the cut set keeps each particle's row ("TS_01 picks.star line 12"): a list
        # edited around the same particles must not read back stale rows
        arrays.update("\n".join(self.source_ids).encode())
        return content_key({
            "cut": CUT_VERSION, "box": self.box, "normalised": normalised,
            "classes": list(self.class_names), "particles": arrays.hexdigest(),
            "tomograms": [[t.name, list(t.shape), t.voxel_size, t.fingerprint]
                          for t in self.tomograms]})


def voxel_centre(xyz: Sequence[float], voxel_size: float | None = None,
                 shape: tuple[int, int, int] | None = None) -> np.ndarray:
    """A position (x, y, z) as the nearest voxel (z, y, x): voxels as given, or Angstrom
    from the first voxel's centre (``voxel_size``), or Angstrom from the tomogram's
    centre (``voxel_size`` and ``shape``, RELION 5)."""
    x, y, z = (float(v) for v in xyz)
    zyx = np.array([z, y, x])
    if voxel_size is not None:
        zyx = zyx / voxel_size
    if shape is not None:
        zyx = zyx + np.asarray(shape) / 2.0
    return np.floor(zyx + 0.5).astype(np.int64)


def check_inside(file: str | Path, record: str, centre: np.ndarray, tomo: Tomogram) -> None:
    """A particle's centre must be a voxel of its tomogram."""
    z, y, x = (int(v) for v in centre)
    nz, ny, nx = tomo.shape
    if not (0 <= z < nz and 0 <= y < ny and 0 <= x < nx):
        raise DataError(file, f"particle at voxel x {x}, y {y}, z {z} lies outside tomogram "
                              f"{tomo.name!r} ({nx} x {ny} x {nz} voxels: x 0-{nx - 1}, "
                              f"y 0-{ny - 1}, z 0-{nz - 1})", record)


def check_distinct(file: str | Path, tomogram_index: Sequence[int],
                   centres: Sequence[np.ndarray], records: Sequence[str],
                   names: Sequence[str]) -> None:
    """No two particles at one voxel of one tomogram: a particle listed twice (two
    pickers, two merged lists) would be counted, trained on and scored twice."""
    if not len(records):
        return
    keys = np.column_stack([np.asarray(tomogram_index, dtype=np.int64),
                            np.asarray(centres, dtype=np.int64).reshape(-1, 3)])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    again = np.flatnonzero(first[inverse.reshape(-1)] != np.arange(len(keys)))
    if len(again):
        i = int(again.min())
        j = int(first[inverse.reshape(-1)[i]])
        z, y, x = (int(v) for v in keys[i, 1:])
        raise DataError(file, f"the same particle as {records[j]}: voxel x {x}, y {y}, z {z} "
                              f"of tomogram {names[int(keys[i, 0])]!r} (after rounding to the "
                              "nearest voxel); list each particle once", records[i])


def check_voxel_sizes(file: str | Path, tomograms: Sequence[Tomogram],
                      records: Mapping[str, str], tolerance: float = 1e-3) -> None:
    """Tomograms of one list must share a pixel size (a box of D voxels is then one
    physical size); ``records`` gives, per tomogram, the first row that names it."""
    first = tomograms[0]
    for tomo in tomograms[1:]:
        if abs(tomo.voxel_size - first.voxel_size) > tolerance * first.voxel_size:
            raise DataError(file, f"tomogram {tomo.name!r} has pixel size "
                                  f"{tomo.voxel_size:.4g} A, {first.name!r} has "
                                  f"{first.voxel_size:.4g} A: one list needs one pixel size "
                                  "(rescale the tomograms, or list them separately)",
                            records.get(tomo.name))


def check_cuttable(plan: ParticlePlan) -> None:
    """What would stop the cut, found while planning (``validate``): a box that does not
    fit in a tomogram, particles that do not fit in memory."""
    for tomo in plan.tomograms:
        if plan.box > min(tomo.shape):
            nz, ny, nx = tomo.shape
            raise DataError(tomo.where, f"box {plan.box} is larger than tomogram {tomo.name!r} "
                                        f"({nx} x {ny} x {nz} voxels); choose box <= "
                                        f"{min(tomo.shape)}")
    check_memory(plan)


def check_memory(plan: ParticlePlan) -> None:
    """The cut particles are held in memory at once: refuse before reading any voxel."""
    n = len(plan.labels)
    problem = shortfall(volumes_bytes(n, plan.box))
    if problem:
        raise CryobenchError(f"cutting {n} particles of {plan.box}^3 voxels needs {problem}; "
                             "choose a smaller box or fewer particles")


def load_cut(plan: ParticlePlan, openers: Sequence[Opener], cache_dir: Path, *,
             source: str, normalised: bool = True,
             progress: Progress | None = None) -> Subtomograms:
    """The cut particles: from the cache when these inputs were cut before, else cut
    (tomogram by tomogram, region by region) and cached."""
    name = f"cut-{plan.key(normalised)}"

    def build(folder: Path) -> None:
        data = cut(plan, openers, source=source, normalised=normalised, progress=progress)
        write_cut(folder, data)

    folder, _ = cached_folder(cache_dir, name, is_cut_complete, build)
    try:
        return read_cut(folder)
    except (OSError, ValueError, KeyError):  # damaged after it was written: cut again
        discard(folder)
        folder, _ = cached_folder(cache_dir, name, is_cut_complete, build)
        return read_cut(folder)


def cut(plan: ParticlePlan, openers: Sequence[Opener], *, source: str,
        normalised: bool = True, progress: Progress | None = None) -> Subtomograms:
    """Cut every particle of the plan; only the particles are held in memory."""
    n = len(plan.labels)
    check_memory(plan)
    volumes = np.empty((n, plan.box, plan.box, plan.box), dtype=np.float32)
    done = 0
    for t, (tomo, opener) in enumerate(zip(plan.tomograms, openers)):
        members = np.flatnonzero(plan.tomogram_index == t)
        if not len(members):
            continue
        def step(k: int) -> None:
            nonlocal done
            done += k
            if progress:
                progress("cutting", done, n)

        with opener() as (array, chunks):
            cut_particles(array, plan.centres[members], plan.box, volumes, chunks, step,
                          rows=members)
        _check_finite(tomo, volumes, members, plan.source_ids)
    if normalised:
        normalise(volumes)
    edges = plan.edges()
    names = [plan.tomograms[t].name for t in plan.tomogram_index]
    metadata = {"source": source, "box": plan.box, "voxel_size_angstrom":
                plan.tomograms[0].voxel_size, "normalised": normalised,
                "edge_particles": int(edges.sum()), "padding": PADDING,
                "tomograms": plan.tomogram_counts(),
                "contrast": "as in the tomograms" + (", each particle normalised to mean "
                                                     "0, std 1" if normalised else "")}
    return Subtomograms(volumes, plan.labels, plan.class_names, plan.voxel_size_nm,
                        np.array(plan.source_ids, dtype=object), metadata,
                        np.array(names, dtype=object))


def _check_finite(tomo: Tomogram, volumes: np.ndarray, members: np.ndarray,
                  ids: Sequence[str]) -> None:
    bad = [i for i in members if not np.isfinite(volumes[i]).all()]
    if bad:
        raise DataError(tomo.where, f"NaN or Inf voxels in the box of particle {ids[bad[0]]} "
                                    f"({len(bad)} particles affected)")


VOLUMES, INDEX = "volumes.npy", "particles.json"


def write_cut(folder: Path, data: Subtomograms) -> None:
    folder.mkdir(parents=True)
    np.save(folder / VOLUMES, data.volumes)
    index = {"labels": data.labels.tolist(), "class_names": list(data.class_names),
             "voxel_size_nm": data.voxel_size, "source_ids": data.source_ids.tolist(),
             "tomograms": None if data.tomograms is None else data.tomograms.tolist(),
             "metadata": data.metadata, "complete": True}
    (folder / INDEX).write_text(json.dumps(index), encoding="utf-8")


def read_cut(folder: Path) -> Subtomograms:
    index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    volumes = np.load(folder / VOLUMES)
    return Subtomograms(volumes, np.array(index["labels"]), tuple(index["class_names"]),
                        float(index["voxel_size_nm"]), np.array(index["source_ids"], dtype=object),
                        index["metadata"], index["tomograms"])


def is_cut_complete(folder: Path) -> bool:
    """Finished: the index says so and the volumes file holds every particle."""
    try:
        index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        volumes = np.load(folder / VOLUMES, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return bool(index.get("complete")) and len(volumes) == len(index.get("labels", ()))
