"""Particle coordinate lists: RELION 5 and RELION 3/4 particle STAR files, and CSV.

Only reading and checking the list itself lives here; which tomogram file a name means,
and whether a particle lies inside it, is :mod:`cryobench.data.picked`'s business.

Conventions: a voxel position counts from the centre of the first voxel (x = 0 is the
first voxel's centre). RELION 5 places particles in Angstrom from the tomogram's centre:
voxel = Angstrom / pixel size + size / 2.

A particle file written by RELION's Class3D or Refine3D also shifts each particle by its
origin (``_rlnOriginX/Y/ZAngst``; RELION 3/4 may give ``_rlnOriginX/Y/Z`` in pixels): the
particle's centre is the coordinate minus the origin, which is what is cut.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from cryobench.data.labels import StarLoop, parse_star, read_label_text
from cryobench.errors import DataError

RELION5 = ("_rlnCenteredCoordinateXAngst", "_rlnCenteredCoordinateYAngst",
           "_rlnCenteredCoordinateZAngst")
RELION4 = ("_rlnCoordinateX", "_rlnCoordinateY", "_rlnCoordinateZ")
TOMOGRAM_COLUMNS = ("_rlnTomoName", "_rlnMicrographName")
STAR_LABEL = "_rlnClassNumber"
ORIGIN_ANGSTROM = ("_rlnOriginXAngst", "_rlnOriginYAngst", "_rlnOriginZAngst")
ORIGIN_PIXELS = ("_rlnOriginX", "_rlnOriginY", "_rlnOriginZ")  # RELION 3/4
CSV_COLUMNS = ("tomogram", "x", "y", "z")
CSV_LABEL = "label"


@dataclass(frozen=True)
class Pick:
    """One particle as the list gives it."""

    tomogram: str  # the name the list uses (RELION: _rlnTomoName or _rlnMicrographName)
    xyz: tuple[float, float, float]  # voxels, or Angstrom from the centre when ``centred``
    label: str
    record: str  # "line 12", for error messages
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)  # subtracted: see origin_unit


@dataclass(frozen=True)
class PickList:
    path: Path
    format: str  # "relion5" | "relion4" | "csv"
    picks: tuple[Pick, ...]
    #: the origins' unit: "angstrom", "pixel" (the coordinates' pixels), None (no origins)
    origin_unit: str | None = None

    @property
    def centred(self) -> bool:
        """Positions in Angstrom from the tomogram's centre (RELION 5)."""
        return self.format == "relion5"


def read_picks(path: Path, label_column: str | None = None) -> PickList:
    """The particles of a coordinate list; ``label_column`` names the class column
    (default ``_rlnClassNumber`` in a STAR file, ``label`` in a CSV)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".star":
        found = _read_star(path, label_column or STAR_LABEL)
    elif suffix == ".csv":
        found = _read_csv(path, label_column or CSV_LABEL)
    else:
        raise DataError(path, "expected a coordinate list: a RELION particle STAR file "
                              "(.star) or a CSV (.csv) with columns tomogram,x,y,z,label")
    if not found.picks:
        raise DataError(path, "no particles listed")
    return found


def _read_star(path: Path, label_column: str) -> PickList:
    loops = parse_star(path)
    particles = next((b for b in loops if set(RELION5) <= set(b.columns)), None)
    columns, fmt = RELION5, "relion5"
    if particles is None:
        particles = next((b for b in loops if set(RELION4) <= set(b.columns)), None)
        columns, fmt = RELION4, "relion4"
    if particles is None:
        _no_coordinates(path, loops)
    twice = sorted({c for c in particles.columns if particles.columns.count(c) > 1})
    if twice:
        raise DataError(path, f"column {', '.join(twice)} given twice in {particles.name}")
    if not particles.rows:
        _not_a_loop(path, columns[0])
    tomo = next((c for c in TOMOGRAM_COLUMNS if c in particles.columns), None)
    if tomo is None or (fmt == "relion5" and tomo != "_rlnTomoName"):
        need = "_rlnTomoName" if fmt == "relion5" else "_rlnTomoName or _rlnMicrographName"
        raise DataError(path, f"missing columns: no {need} naming each particle's "
                              f"tomogram (has {', '.join(particles.columns)})")
    _require_label(path, particles.columns, label_column, particles.name)
    origin, unit = _origin_columns(path, particles, fmt)
    at = [particles.columns.index(c) for c in (tomo, *columns, label_column)]
    shift = [particles.columns.index(c) for c in origin]
    picks = []
    for line, values in particles.rows:
        where = f"line {line}"
        if len(values) != len(particles.columns):
            raise DataError(path, f"{len(values)} values for {len(particles.columns)} columns",
                            where)
        name, x, y, z, label = (values[i] for i in at)
        moved = (_position(path, where, tuple(values[i] for i in shift), origin)  # type: ignore[arg-type]
                 if shift else (0.0, 0.0, 0.0))
        picks.append(Pick(name, _position(path, where, (x, y, z), columns), label, where,
                          moved))
    return PickList(path, fmt, tuple(picks), unit)


def _no_coordinates(path: Path, loops: list[StarLoop]) -> None:
    """No loop has a whole set of coordinates: name what one that has some lacks."""
    for block in loops:
        for columns in (RELION5, RELION4):
            have = [c for c in columns if c in block.columns]
            if have:
                missing = ", ".join(c for c in columns if c not in have)
                raise DataError(path, f"missing columns: {block.name} has {', '.join(have)} "
                                      f"but not {missing}")
    raise DataError(path, "missing columns: no loop with RELION 5 "
                          "(_rlnCenteredCoordinate{X,Y,Z}Angst) or RELION 3/4 "
                          "(_rlnCoordinate{X,Y,Z}) particle coordinates")


def _not_a_loop(path: Path, column: str) -> None:
    """Particles written as ``_name value`` pairs (one particle, no loop_) are not read as
    a list: say so, rather than "no particles"."""
    for number, line in enumerate(read_label_text(path).splitlines(), start=1):
        words = line.split()
        if len(words) > 1 and words[0] == column and not words[1].startswith("#"):
            raise DataError(path, f"{column} is given as a key and value, not as a column of "
                                  "a loop: a particle list needs a loop_ (loop_, the column "
                                  "names, then one row per particle)", f"line {number}")


def _origin_columns(path: Path, particles: StarLoop, fmt: str
                    ) -> tuple[tuple[str, ...], str | None]:
    """The origin columns the loop has (all three, or none), and their unit."""
    choices = [(ORIGIN_ANGSTROM, "angstrom")]
    if fmt == "relion4":
        choices.append((ORIGIN_PIXELS, "pixel"))
    for columns, unit in choices:
        have = [c for c in columns if c in particles.columns]
        if len(have) == 3:
            return columns, unit
        if have:
            missing = ", ".join(c for c in columns if c not in have)
            raise DataError(path, f"missing columns: {particles.name} has {', '.join(have)} "
                                  f"but not {missing}; a particle's origin needs all three")
    return (), None


def _read_csv(path: Path, label_column: str) -> PickList:
    reader = csv.DictReader(io.StringIO(read_label_text(path), newline=""))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DataError(path, f"column {', '.join(twice)} given twice in the header", "line 1")
    missing = [c for c in CSV_COLUMNS if c not in columns]
    if missing:
        raise DataError(path, f"missing columns {','.join(missing)}: need "
                              f"tomogram,x,y,z,{label_column} (x, y, z in voxels), found "
                              f"{','.join(columns) or 'no header'}", "line 1")
    _require_label(path, columns, label_column, "the header")
    picks = []
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row or None in row.values():  # more values than columns, or fewer
                count = len(columns) + len(row.get(None) or ()) - sum(  # type: ignore[call-overload]
                    v is None for v in row.values())
                raise DataError(path, f"{count} values for {len(columns)} columns "
                                      f"({','.join(columns)})", where)
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if not row["tomogram"]:
                raise DataError(path, "empty tomogram name", where)
            xyz = _position(path, where, (row["x"], row["y"], row["z"]), ("x", "y", "z"))
            picks.append(Pick(row["tomogram"], xyz, row[label_column], where))
    except csv.Error as exc:
        raise DataError(path, f"cannot parse ({exc})", f"line {reader.line_num}") from None
    return PickList(path, "csv", tuple(picks))


def _require_label(path: Path, columns: list[str], label_column: str, where: str) -> None:
    if label_column not in columns:
        raise DataError(path, f"missing class column: no {label_column} in {where} (has "
                              f"{', '.join(columns)}); name the column that holds the class "
                              "with label_column")


def _position(path: Path, where: str, texts: tuple[str, str, str],
              columns: tuple[str, ...]) -> tuple[float, float, float]:
    out = []
    for text, column in zip(texts, columns):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(path, f"{column} = {text!r} is not a finite number", where)
        out.append(value)
    return out[0], out[1], out[2]
