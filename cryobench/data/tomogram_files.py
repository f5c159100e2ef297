"""Tomograms as MRC files in a folder, named by a coordinate list: found, read from their
headers alone to plan the cut, then memory-mapped while cutting."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np

from cryobench.data.coordinates import Pick, PickList, read_picks
from cryobench.data.loading import class_labels
from cryobench.data.labels import LabelRecord
from cryobench.data.mrc import COMPLEX_MODES
from cryobench.data.picked import (
    Opener, ParticlePlan, Tomogram, check_cuttable, check_distinct, check_inside,
    check_voxel_sizes, voxel_centre,
)
from cryobench.data.tomogram_table import TomogramRow, read_tomogram_table
from cryobench.errors import DataError

SUFFIXES = (".mrc", ".rec", ".map")


def plan_from_list(coordinates: Path, folder: Path, box: int, *,
                   class_names: Mapping[str, str] | None = None,
                   label_column: str | None = None,
                   pixel_sizes: Path | None = None, root: Path | None = None,
                   coordinate_pixel_size: float | None = None
                   ) -> tuple[ParticlePlan, list[Opener]]:
    """Read the list, find and read the header of every tomogram it names, and check
    every particle against its tomogram: no voxel is read. ``pixel_sizes``: a RELION 5
    tomograms STAR; the files it names are looked for beside it and under ``root`` (the
    RELION project's folder: where the benchmark file is). ``coordinate_pixel_size``
    (Angstrom): the pixel size of a RELION 3/4 or CSV list's coordinates, when it is not
    the tomogram's (RELION 4 gives unbinned tilt-series pixels)."""
    picks = read_picks(coordinates, label_column)
    if coordinate_pixel_size is not None and picks.centred:
        raise DataError(picks.path, "coordinate_pixel_size is for lists in pixels (RELION "
                                    "3/4, CSV); a RELION 5 list gives Angstrom: leave it out")
    first_row: dict[str, str] = {}
    for p in picks.picks:
        first_row.setdefault(p.tomogram, p.record)
    rows = read_tomogram_table(pixel_sizes) if pixel_sizes else {}
    if pixel_sizes:
        for name, record in first_row.items():
            if name not in rows:
                raise DataError(pixel_sizes, f"no row for tomogram {name!r}, which the "
                                             f"particle list names ({picks.path.name} "
                                             f"{record}); add it, or leave out "
                                             "tomograms_star to use the MRC headers")
    files = {name: find_tomogram(picks.path, folder, name, record, rows.get(name),
                                 pixel_sizes, root)
             for name, record in first_row.items()}
    # one file under two names (TS_01, TS_01.mrc) is one tomogram: one group, one count
    by_file: dict[str, str] = {}  # resolved path -> the first name that means it
    for name in first_row:
        by_file.setdefault(os.path.realpath(files[name]), name)
    firsts = list(by_file.values())
    tomograms = [mrc_tomogram(name, files[name], rows.get(name), pixel_sizes)
                 for name in firsts]
    if pixel_sizes:  # the STAR's rows differ: it is the file to fix
        check_voxel_sizes(pixel_sizes, tomograms, {})
    else:
        check_voxel_sizes(picks.path, tomograms, first_row)
    index = {name: firsts.index(by_file[os.path.realpath(files[name])]) for name in first_row}
    plan = _plan(picks, tomograms, index, box, class_names, coordinate_pixel_size)
    check_cuttable(plan)
    return plan, [_opener(files[t.name]) for t in tomograms]


def _plan(picks: PickList, tomograms: list[Tomogram], index: Mapping[str, int], box: int,
          class_names: Mapping[str, str] | None,
          coordinate_pixel_size: float | None = None) -> ParticlePlan:
    """``index``: each name the list uses -> its tomogram."""
    centres = np.empty((len(picks.picks), 3), dtype=np.int64)
    for i, p in enumerate(picks.picks):
        tomo = tomograms[index[p.tomogram]]
        centres[i] = _centre(picks, p, tomo, coordinate_pixel_size)
        check_inside(picks.path, p.record, centres[i], tomo)
    check_distinct(picks.path, [index[p.tomogram] for p in picks.picks], centres,
                   [p.record for p in picks.picks], [t.name for t in tomograms])
    records = [LabelRecord(picks.path, None, p.label, p.record, picks.path) for p in picks.picks]
    names, labels = class_labels(records, class_names)
    return ParticlePlan(
        tuple(tomograms), np.array([index[p.tomogram] for p in picks.picks]), centres, labels,
        names, tuple(f"{p.tomogram} {picks.path.name} {p.record}" for p in picks.picks), box)


def _centre(picks: PickList, pick: Pick, tomo: Tomogram,
            coordinate_pixel_size: float | None = None) -> np.ndarray:
    """The voxel a pick means: its coordinate minus its origin (RELION's shift from
    classification or refinement), in the tomogram's voxels; coordinates in pixels of
    ``coordinate_pixel_size`` Angstrom (default: the tomogram's) are scaled to them."""
    xyz = np.asarray(pick.xyz, dtype=np.float64)
    origin = np.asarray(pick.origin, dtype=np.float64)
    if picks.centred:
        return voxel_centre(xyz - origin, tomo.voxel_size, tomo.shape)
    pixel = coordinate_pixel_size or tomo.voxel_size
    if picks.origin_unit == "angstrom":
        origin = origin / pixel  # the coordinates are pixels
    if coordinate_pixel_size is None:
        return voxel_centre(xyz - origin)  # in the tomogram's voxels already
    return voxel_centre((xyz - origin) * pixel, tomo.voxel_size)


def find_tomogram(listed_in: Path, folder: Path, name: str, record: str,
                  row: TomogramRow | None = None, star: Path | None = None,
                  root: Path | None = None) -> Path:
    """The file a list's tomogram name means: the tomograms STAR's
    ``_rlnTomoReconstructedTomogram`` (beside the STAR, or under the project ``root``),
    else the name itself (RELION 3/4 lists often give a path), else the name with an MRC
    suffix, in ``folder``."""
    tried: list[Path] = []
    if row is not None and row.reconstructed and star is not None:
        given = Path(row.reconstructed)
        tried = [given] if given.is_absolute() else [star.parent / given] + (
            [root / given] if root is not None else [])
        for path in dict.fromkeys(tried):
            if path.is_file():
                return path
    given = Path(name)
    candidates = [folder / given, folder / given.name]
    if given.suffix.lower() not in SUFFIXES:
        candidates += [folder / f"{given.name}{s}" for s in SUFFIXES]
    for path in dict.fromkeys(candidates):
        if path.is_file():
            return path
    also = (f"; {star.name} {row.record} names {row.reconstructed}: tried "  # type: ignore[union-attr]
            f"{', '.join(str(p) for p in dict.fromkeys(tried))}" if tried else "")
    if folder.is_file():
        raise DataError(listed_in, f"tomograms = {folder} is a file, not a folder; set it to "
                                   f"the folder that holds the tomogram files{also}", record)
    if not folder.is_dir():
        raise DataError(listed_in, f"the tomograms folder {folder} does not exist; set "
                                   f"tomograms to the folder that holds the tomogram files{also}",
                        record)
    present = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    shown = ", ".join(present[:6]) + (", ..." if len(present) > 6 else "")
    raise DataError(listed_in, f"tomogram {name!r} not found in {folder} (looked for "
                               f"{', '.join(p.name for p in dict.fromkeys(candidates[1:]))}; "
                               f"the folder has {shown or 'no .mrc/.rec/.map file'}){also}",
                    record)


def mrc_tomogram(name: str, path: Path, row: TomogramRow | None = None,
                 star: Path | None = None) -> Tomogram:
    """A tomogram from its MRC header: shape and pixel size. A tomograms STAR's ``row``
    must agree with the header (a header without a pixel size takes the STAR's)."""
    try:
        with mrcfile.open(path, header_only=True, permissive=False) as mrc:
            header = mrc.header
            mode, voxel = int(header.mode), float(mrc.voxel_size.x)
            shape = (int(header.nz), int(header.ny), int(header.nx))
            need = _data_end(header)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"unreadable MRC header ({exc})") from None
    size = os.stat(path).st_size
    if need is not None and size < need:
        raise DataError(path, f"truncated: {size} bytes, but its header ({shape[2]} x "
                              f"{shape[1]} x {shape[0]} voxels, mode {mode}) needs {need}; "
                              "copy or write the file again")
    if mode in COMPLEX_MODES:
        raise DataError(path, f"MRC mode {mode} ({COMPLEX_MODES[mode]}) is a Fourier "
                              "transform, not a tomogram")
    if min(shape) < 2:
        raise DataError(path, f"shape {shape[2]} x {shape[1]} x {shape[0]} is not a 3D "
                              "tomogram")
    if row is not None and star is not None:
        voxel = _agreed(name, path, voxel, shape, row, star)
    elif not voxel > 0:
        raise DataError(path, "the MRC header gives no pixel size (0); write it into the "
                              "header, or give a RELION 5 tomograms STAR (tomograms_star)")
    stat = os.stat(path)
    fingerprint = f"{os.path.realpath(path)}:{stat.st_size}:{stat.st_mtime_ns}"
    return Tomogram(name, shape, voxel, str(path), fingerprint)


def _data_end(header: Any) -> int | None:
    """Bytes a whole file needs: the 1024-byte header, the extended header and every
    voxel (None for a mode whose size the header alone does not tell)."""
    from mrcfile.utils import data_dtype_from_header

    if int(header.mode) == 101:  # 4-bit, packed
        return None
    voxels = int(header.nx) * int(header.ny) * int(header.nz)
    return 1024 + int(header.nsymbt) + voxels * data_dtype_from_header(header).itemsize


def _agreed(name: str, path: Path, header_voxel: float, shape: tuple[int, int, int],
            row: TomogramRow, star: Path) -> float:
    """The pixel size the STAR and the header agree on; a disagreement (often another
    binning) is an error naming both."""
    nz, ny, nx = shape
    if row.size is not None and tuple(row.size) != (nx, ny, nz):
        sx, sy, sz = row.size
        raise DataError(star, f"tomogram {name!r} is {sx} x {sy} x {sz} voxels here "
                              f"(_rlnTomoSize), but {path}'s MRC header says {nx} x {ny} x "
                              f"{nz}: another binning? list the tomograms that were picked",
                        row.record)
    if header_voxel > 0 and abs(header_voxel - row.pixel_size) > 1e-3 * row.pixel_size:
        raise DataError(star, f"tomogram {name!r} has pixel size {row.pixel_size:.4g} A here "
                              f"({row.pixel_text}), but {path}'s MRC header says "
                              f"{header_voxel:.4g} A: another binning? make them agree (or "
                              "leave out tomograms_star to use the header)", row.record)
    return row.pixel_size


def _opener(path: Path) -> Opener:
    @contextmanager
    def opened() -> Iterator[tuple[Any, None]]:
        try:
            mrc = mrcfile.mmap(path, mode="r", permissive=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(path, f"unreadable MRC ({exc})") from None
        with mrc:
            yield mrc.data, None

    return opened

