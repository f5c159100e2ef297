"""Label files: CSV (``path,label`` or ``index,label``) and RELION STAR (3.0 and 3.1)."""

from __future__ import annotations

import csv
import io
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from cryobench.errors import DataError
from cryobench.files import read_text


@dataclass(frozen=True)
class LabelRecord:
    """One particle's entry: where its volume is, its label text, where it was read."""

    path: Path  # the MRC file (or stack)
    index: int | None  # position in a stack; None for one file per particle
    label: str
    record: str  # "line 12", for error messages
    label_file: Path  # the CSV/STAR file the record is on: label errors name it


def read_csv_labels(path: Path) -> list[LabelRecord]:
    """``path,label`` rows (paths relative to the CSV) or ``index,label`` rows for a stack."""
    reader = csv.DictReader(io.StringIO(read_label_text(path), newline=""))
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "label" not in columns or not ({"path", "index"} & set(columns)):
            raise DataError(path, f"missing columns: need 'path,label' or 'index,label', "
                                  f"found {','.join(columns) or 'no header'}", "line 1")
        return [_csv_record(path, columns, row, f"line {reader.line_num}") for row in reader]
    except csv.Error as exc:
        raise DataError(path, f"cannot parse ({exc})", f"line {reader.line_num}") from None


def _csv_record(path: Path, columns: list[str], row: dict[str, str | None],
                where: str) -> LabelRecord:
    row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
    if "path" in columns:
        if not row["path"]:
            raise DataError(path, "empty path", where)
        return LabelRecord(path.parent / row["path"], None, row["label"], where, path)
    try:
        index = int(row["index"])
    except ValueError:
        raise DataError(path, f"index {row['index']!r} is not an integer", where) from None
    return LabelRecord(path, index, row["label"], where, path)


def read_label_text(path: Path) -> str:
    """A label file's text: UTF-8, with or without a byte-order mark."""
    hint = " (in Excel: 'CSV UTF-8')" if path.suffix.lower() == ".csv" else ""
    return read_text(path, "a label file", hint=hint)


def read_star_labels(path: Path, label_column: str = "_rlnClassNumber") -> list[LabelRecord]:
    """Particles of a RELION STAR file: ``_rlnImageName`` plus a label column.

    RELION 3.1+ files put optics groups in a separate ``data_optics`` block; the particles
    are the loop that has ``_rlnImageName``. ``index@stack.mrcs`` names are 1-based.
    """
    blocks = parse_star(path)
    particles = next((b for b in blocks if "_rlnImageName" in b.columns), None)
    if particles is None:
        raise DataError(path, "missing columns: no loop with _rlnImageName")
    if not particles.looped and particles.stray:
        raise DataError(path, f"{particles.name} has column names but no 'loop_' line, so "
                              f"its {len(particles.stray)} rows of values are not a table; "
                              f"add a line 'loop_' after '{particles.name}'",
                        f"line {particles.stray[0]}")
    if label_column not in particles.columns:
        raise DataError(path, f"missing columns: no {label_column} in the particle loop "
                              f"(has {', '.join(particles.columns)})")
    name_at = particles.columns.index("_rlnImageName")
    label_at = particles.columns.index(label_column)
    records = []
    for line, values in particles.rows:
        where = f"line {line}"
        if len(values) != len(particles.columns):
            raise DataError(path, f"{len(values)} values for {len(particles.columns)} columns", where)
        image = values[name_at]
        if "@" in image:
            index_text, stack = image.split("@", 1)
            try:
                index = int(index_text) - 1
            except ValueError:
                raise DataError(path, f"bad image name {image!r}", where) from None
            if index < 0:
                raise DataError(path, f"image name {image!r}: STAR stack positions start at "
                                      "1", where)
            records.append(LabelRecord(path.parent / stack, index, values[label_at], where,
                                       path))
        else:
            records.append(LabelRecord(path.parent / image, None, values[label_at], where, path))
    return records


@dataclass
class StarLoop:
    """One loop of a STAR file: its block name, column names and (line, values) rows."""

    name: str
    columns: list[str]
    rows: list[tuple[int, list[str]]]
    looped: bool = False  # a loop_ line opened it
    stray: list[int] = field(default_factory=list)  # lines of values outside any loop_


def parse_star(path: Path) -> list[StarLoop]:
    """Every loop of a STAR file, in file order."""
    blocks: list[StarLoop] = []
    current: StarLoop | None = None
    in_loop = False
    for number, raw in enumerate(read_label_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("data_"):
            current, in_loop = StarLoop(line, [], []), False
            blocks.append(current)
        elif line.startswith("loop_"):
            in_loop = True
            if current is not None:
                current.looped = True
        elif line.startswith("_") and current is not None:
            if current.rows:  # a new loop's header without loop_: start over
                current = StarLoop(current.name, [], [])
                blocks.append(current)
            current.columns.append(line.split()[0])
        elif not in_loop and current is not None:
            current.stray.append(number)
        elif in_loop and current is not None:
            try:
                current.rows.append((number, shlex.split(line)))
            except ValueError as exc:
                raise DataError(path, f"cannot parse ({exc})", f"line {number}") from None
    return blocks
