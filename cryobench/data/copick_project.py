"""A copick project through copick's own API: its pickable objects, its runs' picks
(positions in Angstrom) and their tomograms' OME-Zarr arrays. Nothing here knows
where copick keeps its files; copick and zarr read them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from cryobench.data.picked import (
    Opener, ParticlePlan, Tomogram, check_cuttable, check_distinct, check_inside,
    voxel_centre,
)
from cryobench.errors import DataError, unknown_name_message

#: The full-resolution array of an OME-Zarr multiscale group (copick reads the same).
FULL_RESOLUTION = "0"


def open_project(config: Path) -> Any:
    """The project root (``copick.from_file``), with a one-line error for a bad file."""
    import copick

    if not Path(config).is_file():
        raise DataError(config, "not found: give the copick project's configuration file "
                                "(copick.json)")
    try:
        return copick.from_file(str(config))
    except (OSError, ValueError, TypeError) as exc:  # pydantic's errors are ValueErrors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(config, f"not a readable copick configuration ({first})") from None


def plan_from_project(config: Path, voxel_spacing: float, tomogram_type: str, box: int, *,
                      objects: Sequence[str] | None = None, user_id: str | None = None,
                      session_id: str | None = None) -> tuple[ParticlePlan, list[Opener]]:
    """Every pick of the chosen objects (and users), in every run that has one, checked
    against its run's tomogram from its metadata; of each tomogram only a 16^3 block at
    its centre is read (the cache's fingerprint), never the whole."""
    root = open_project(config)
    classes = _classes(config, root, objects)
    tomograms: list[Tomogram] = []
    openers: list[Opener] = []
    rows: list[tuple[int, np.ndarray, int, str]] = []
    for run in root.runs:
        found = _run_picks(config, run, classes, user_id, session_id)
        if not found:
            continue
        tomo, opener = _tomogram(config, run, voxel_spacing, tomogram_type)
        for label, points, record in found:
            centre = voxel_centre(points, voxel_spacing)
            check_inside(config, record, centre, tomo)
            rows.append((len(tomograms), centre, label, record))
        tomograms.append(tomo)
        openers.append(opener)
    check_distinct(config, [r[0] for r in rows], [r[1] for r in rows],
                   [r[3] for r in rows], [t.name for t in tomograms])
    labels = np.array([r[2] for r in rows], dtype=np.int64)
    classes, labels = _picked_classes(config, classes, labels, objects is None,
                                      user_id, session_id)
    plan = ParticlePlan(tuple(tomograms), np.array([r[0] for r in rows], dtype=np.int64),
                        np.array([r[1] for r in rows], dtype=np.int64).reshape(-1, 3),
                        labels, tuple(classes), tuple(r[3] for r in rows), box)
    check_cuttable(plan)
    return plan, openers


def _classes(config: Path, root: Any, objects: Sequence[str] | None) -> list[str]:
    """The objects that are classes: those asked for (each must be a particle object of
    the project), else every particle object, in the project's order."""
    particles = [o.name for o in root.pickable_objects if o.is_particle]
    if objects is None:
        if not particles:
            raise DataError(config, "the project has no particle objects (is_particle) to "
                                    "classify")
        return particles
    every = [o.name for o in root.pickable_objects]
    for name in objects:
        if name not in every:
            raise DataError(config, unknown_name_message("pickable object", name, every))
        if name not in particles:
            raise DataError(config, f"object {name!r} is not a particle (is_particle is "
                                    f"false): it has no picks to cut; particle objects: "
                                    f"{', '.join(particles) or 'none'}")
    return list(dict.fromkeys(objects))


def _run_picks(config: Path, run: Any, classes: list[str], user_id: str | None,
               session_id: str | None) -> list[tuple[int, list[float], str]]:
    """(class index, position in Angstrom (x, y, z), record) of each pick in the run.
    Positions include the shift a pick's transform holds (refined in subtomogram
    averaging), as copick's ``full_positions`` gives them."""
    out = []
    for label, name in enumerate(classes):
        sets = run.get_picks(object_name=name, user_id=user_id, session_id=session_id)
        if len(sets) > 1:
            _refuse_several(config, run.name, name, sets, user_id, session_id)
        for picks in sets:
            positions = picks.full_positions()
            for i, xyz in enumerate(positions):
                record = (f"run {run.name}, {name} pick {i + 1} of user {picks.user_id} "
                          f"session {picks.session_id}")
                out.append((label, [float(v) for v in xyz], record))
    return out


def _refuse_several(config: Path, run: str, name: str, sets: Sequence[Any],
                    user_id: str | None, session_id: str | None) -> None:
    """Several users' (or tools', or sessions') picks of one object usually mark the same
    particles: merged, each would count twice. One set must be chosen."""
    whose = ", ".join(sorted(f"user {p.user_id} session {p.session_id}" for p in sets))
    given = "".join(f" {k} {v!r}" for k, v in (("user_id", user_id),
                                                ("session_id", session_id)) if v)
    raise DataError(config, f"run {run!r} has {len(sets)} pick sets of {name!r}"
                            f"{' for' + given if given else ''} ({whose}): merged, a particle "
                            "picked twice would count twice; set user_id and/or session_id "
                            "to choose one")


def _tomogram(config: Path, run: Any, voxel_spacing: float,
              tomogram_type: str) -> tuple[Tomogram, Opener]:
    spacing = run.get_voxel_spacing(voxel_spacing)
    if spacing is None:
        have = ", ".join(f"{vs.voxel_size:g}" for vs in run.voxel_spacings) or "none"
        raise DataError(config, f"run {run.name!r} has picks but no voxel spacing "
                                f"{voxel_spacing:g} (has: {have}); set voxel_spacing to one "
                                "of them")
    found = spacing.get_tomograms(tomogram_type)
    if not found:
        have = ", ".join(t.tomo_type for t in spacing.tomograms) or "none"
        raise DataError(config, f"run {run.name!r} has no {tomogram_type!r} tomogram at voxel "
                                f"spacing {voxel_spacing:g} (has: {have}); set tomogram_type "
                                "to one of them")
    tomogram = found[0]
    array = _full_resolution(config, run.name, tomogram)
    nz, ny, nx = (int(s) for s in array.shape[-3:])
    described = Tomogram(run.name, (nz, ny, nx), float(voxel_spacing),
                         f"{config} run {run.name}", _fingerprint(array))
    return described, _opener(config, run.name, tomogram)


def _full_resolution(config: Path, run: str, tomogram: Any) -> Any:
    import zarr

    try:
        return zarr.open(tomogram.zarr(), mode="r")[FULL_RESOLUTION]
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(config, f"run {run!r}: the {tomogram.tomo_type!r} tomogram cannot be "
                                f"read as OME-Zarr ({exc})") from None


def _fingerprint(array: Any) -> str:
    """Shape, type, chunks and the central voxels: a rewritten tomogram gets another
    cache entry without reading it whole (one chunk is read)."""
    centre = [s // 2 for s in array.shape]
    sample = np.asarray(array[tuple(slice(max(c - 8, 0), c + 8) for c in centre)])
    digest = hashlib.sha256(np.ascontiguousarray(sample).tobytes()).hexdigest()[:16]
    return json.dumps([list(array.shape), str(array.dtype), list(array.chunks), digest])


def _opener(config: Path, run: str, tomogram: Any) -> Opener:
    @contextmanager
    def opened() -> Iterator[tuple[Any, tuple[int, int, int]]]:
        array = _full_resolution(config, run, tomogram)
        yield array, tuple(array.chunks[-3:])

    return opened


def _picked_classes(config: Path, classes: list[str], labels: np.ndarray, default: bool,
                    user_id: str | None, session_id: str | None
                    ) -> tuple[list[str], np.ndarray]:
    """Objects asked for must have picks; by default, objects nobody picked are left
    out (a project often lists more objects than were picked)."""
    counts = np.bincount(labels, minlength=len(classes))
    whose = "".join(f", {k} {v!r}" for k, v in (("user_id", user_id),
                                                 ("session_id", session_id)) if v)
    if not counts.any():
        raise DataError(config, f"no picks of {', '.join(classes)} in any run{whose}")
    if default:
        keep = np.flatnonzero(counts)
        remap = np.full(len(classes), -1)
        remap[keep] = np.arange(len(keep))
        return [classes[k] for k in keep], remap[labels]
    for name, count in zip(classes, counts):
        if count == 0:
            raise DataError(config, f"object {name!r} has no picks in any run{whose}; "
                                    "list only objects that were picked (objects = [...])")
    return classes, labels
