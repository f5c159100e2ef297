"""A RELION 5 tomograms STAR file: per tomogram its pixel size, its size and the file of
its reconstruction, as RELION wrote them. Each is checked against the MRC header, never
silently preferred to it: a binning mismatch would cut every particle at the wrong place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cryobench.data.labels import StarLoop, parse_star
from cryobench.errors import DataError

NAME, PIXEL, BINNING = "_rlnTomoName", "_rlnTomoTiltSeriesPixelSize", "_rlnTomoTomogramBinning"
SIZE = ("_rlnTomoSizeX", "_rlnTomoSizeY", "_rlnTomoSizeZ")
RECONSTRUCTED = "_rlnTomoReconstructedTomogram"


@dataclass(frozen=True)
class TomogramRow:
    """One tomogram as the tomograms STAR describes it."""

    pixel_size: float  # Angstrom: the tilt series' pixel size times the binning
    pixel_text: str  # "5 x binning 4": for messages
    size: tuple[int, int, int] | None  # x, y, z voxels, when given
    reconstructed: str | None  # the tomogram's file, as written (relative to a folder)
    record: str  # "line 12"


def read_tomogram_table(path: Path) -> dict[str, TomogramRow]:
    """Each tomogram's row of a RELION 5 tomograms STAR file."""
    path = Path(path)
    loops = parse_star(path)
    table = next((b for b in loops if {NAME, PIXEL} <= set(b.columns)), None)
    if table is None:
        raise DataError(path, f"missing columns: no loop with {NAME} and {PIXEL} (a RELION 5 "
                              "tomograms STAR file)")
    if len(set(table.columns)) != len(table.columns):
        twice = sorted({c for c in table.columns if table.columns.count(c) > 1})
        raise DataError(path, f"column {', '.join(twice)} given twice in {table.name}")
    return {values[table.columns.index(NAME)]: _row(path, table, line, values)
            for line, values in table.rows}


def read_pixel_sizes(path: Path) -> dict[str, float]:
    """Pixel size (Angstrom) of each tomogram of a RELION 5 tomograms STAR file."""
    return {name: row.pixel_size for name, row in read_tomogram_table(path).items()}


def _row(path: Path, table: StarLoop, line: int, values: list[str]) -> TomogramRow:
    where = f"line {line}"
    if len(values) != len(table.columns):
        raise DataError(path, f"{len(values)} values for {len(table.columns)} columns", where)

    def value(column: str) -> str | None:
        return values[table.columns.index(column)] if column in table.columns else None

    texts = [value(PIXEL) or ""] + ([value(BINNING) or ""] if BINNING in table.columns else [])
    try:
        size = math.prod(float(t) for t in texts)
    except ValueError:
        size = math.nan
    if not (math.isfinite(size) and size > 0):
        raise DataError(path, f"pixel size {' x '.join(texts)} is not a positive number",
                        where)
    shape = None
    if all(c in table.columns for c in SIZE):
        try:
            shape = tuple(int(float(value(c) or "")) for c in SIZE)
        except ValueError:
            raise DataError(path, f"tomogram size {' x '.join(value(c) or '' for c in SIZE)} "
                                  "is not three numbers of voxels", where) from None
    shown = " x binning ".join(texts)
    return TomogramRow(size, shown, shape, value(RECONSTRUCTED), where)  # type: ignore[arg-type]
