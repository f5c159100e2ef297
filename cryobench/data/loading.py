"""One road in for every data set: a label file (CSV/STAR), a folder with one, or a stack."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from cryobench.data import Progress
from cryobench.data.export import read_metadata
from cryobench.data.labels import LabelRecord, read_csv_labels, read_star_labels
from cryobench.data.memory import FLOAT32, shortfall, volumes_bytes
from cryobench.data.mrc import header_shape, read_stack, read_volume
from cryobench.data.subtomograms import Subtomograms
from cryobench.errors import CryobenchError, DataError
from cryobench.files import read_problem

VOXEL_TOLERANCE = 1e-3  # relative; headers round voxel sizes differently


def load_dataset(
    path: Path,
    *,
    labels: Path | None = None,
    class_names: Mapping[str, str] | None = None,
    label_column: str = "_rlnClassNumber",
    progress: Progress | None = None,
) -> Subtomograms:
    """Read and validate every particle.

    ``class_names`` maps label text (e.g. RELION class numbers) to class names, in the
    class order wanted; without it, label texts are the names, in natural sort order.
    """
    records = read_records(Path(path), labels=labels, label_column=label_column)
    names, label_ids = class_labels(records, class_names)
    _check_memory(Path(path), records)
    volumes, voxel = _read_volumes(records, progress)
    source_ids = np.array([_source_id(r) for r in records], dtype=object)
    metadata = read_metadata(records[0].label_file.parent)
    return Subtomograms(volumes, label_ids, names, voxel, source_ids, metadata)


def count_classes(
    path: Path,
    *,
    labels: Path | None = None,
    class_names: Mapping[str, str] | None = None,
    label_column: str = "_rlnClassNumber",
) -> dict[str, int]:
    """Particles per class from the label file alone (no volume is read): what
    validation needs to check class subsets before any work."""
    records = read_records(Path(path), labels=labels, label_column=label_column)
    names, label_ids = class_labels(records, class_names)
    return dict(zip(names, map(int, np.bincount(label_ids, minlength=len(names)))))


def read_records(path: Path, *, labels: Path | None = None,
                 label_column: str = "_rlnClassNumber") -> list[LabelRecord]:
    """The label records behind a path, however it was given."""
    _check_reachable(path)
    if path.is_dir():
        path = _label_file_in(path)
    if not path.exists() and not path.is_symlink():  # a link's reader says what is wrong
        raise DataError(path, "not found")
    suffix = path.suffix.lower()
    if labels is not None and suffix != ".mrcs":
        raise DataError(path, f"labels = {str(labels)!r} is for a .mrcs stack; this is a "
                              f"{suffix or 'folder'} file, which holds its labels itself")
    if label_column != "_rlnClassNumber" and suffix != ".star":
        raise DataError(path, f"label_column = {label_column!r} is for a STAR file; remove it")
    if suffix == ".star":
        records = read_star_labels(path, label_column)
    elif suffix == ".csv":
        records = _with_stack(path, read_csv_labels(path))
    elif suffix == ".mrcs":
        records = [replace(r, path=path) for r in read_csv_labels(labels or _stack_labels(path))]
    else:
        raise DataError(path, "expected a label file (.csv, .star), a folder with one, "
                              "or a stack (.mrcs)")
    if not records:
        raise DataError(path, "no particles listed")
    for r in records:
        if "\x00" in str(r.path):
            raise DataError(r.label_file, "the particle's path holds a NUL byte", r.record)
    _check_duplicates(records)
    return records


def _check_reachable(path: Path) -> None:
    """A symlink loop, a broken link or a NUL in the name: say so, not "not a label file"."""
    try:
        os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            raise DataError(path, read_problem(path, FileNotFoundError(), "a label file")
                            or "broken symbolic link") from None
    except OSError as exc:
        raise DataError(path, read_problem(path, exc, "a label file")
                        or f"cannot read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL byte in the path
        raise DataError(repr(str(path)), "the path holds a NUL byte") from None


def _with_stack(csv_path: Path, records: list[LabelRecord]) -> list[LabelRecord]:
    """``index,label`` rows of a CSV given alone name positions in a stack: the one
    ``.mrcs`` beside it."""
    if not records or records[0].index is None:
        return records
    stacks = sorted(csv_path.parent.glob("*.mrcs"))
    if len(stacks) != 1:
        raise DataError(csv_path, "its rows give stack indices (index,label); name the .mrcs "
                                  "stack as the path, with this file as its labels", "line 1")
    return [replace(r, path=stacks[0]) for r in records]


def _label_file_in(folder: Path) -> Path:
    if (folder / "labels.csv").is_file():
        return folder / "labels.csv"
    for pattern in ("*.star", "*.csv", "*.mrcs"):
        found = sorted(folder.glob(pattern))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DataError(folder, f"several {pattern} files; name the one to use")
    if folder.suffix.lower() in (".csv", ".star", ".mrcs"):  # it was meant as a file
        raise DataError(folder, f"is a folder, not a {folder.suffix} file, and holds no label "
                                "file; give the path of the file itself")
    raise DataError(folder, "no labels.csv, .star, .csv or .mrcs file in this folder")


def _stack_labels(stack: Path) -> Path:
    for candidate in (stack.with_suffix(".csv"), stack.parent / "labels.csv"):
        if candidate.is_file():
            return candidate
    raise DataError(stack, f"no label file for this stack: write {stack.with_suffix('.csv').name} "
                           "with columns index,label")


def _check_duplicates(records: list[LabelRecord]) -> None:
    seen: dict[tuple[str, int | None], str] = {}
    for r in records:
        key = (os.path.realpath(r.path), r.index)  # unlike Path.resolve, never raises on a loop
        if key in seen:
            what = r.path.name + (f"@{r.index}" if r.index is not None else "")
            raise DataError(r.label_file, f"duplicate entry for {what} (also {seen[key]})",
                            r.record)
        seen[key] = r.record


def _natural_key(text: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def class_labels(records: list[LabelRecord],
                 class_names: Mapping[str, str] | None) -> tuple[tuple[str, ...], np.ndarray]:
    """Class names and each record's class index: by ``class_names`` (label text ->
    name, in the order wanted), else the label texts in natural sort order."""
    for r in records:
        if not r.label:
            raise DataError(r.label_file, "empty class label", r.record)
    if class_names:
        names = tuple(dict.fromkeys(class_names.values()))
        for r in records:
            if r.label not in class_names:
                raise DataError(r.label_file, f"unknown class {r.label!r}; class_names maps "
                                              f"{', '.join(map(repr, class_names))}", r.record)
        texts = [class_names[r.label] for r in records]
    else:
        texts = [r.label for r in records]
        names = tuple(sorted(set(texts), key=_natural_key))
    index = {n: i for i, n in enumerate(names)}
    return names, np.array([index[t] for t in texts], dtype=np.int64)


def _check_memory(path: Path, records: list[LabelRecord]) -> None:
    """Refuse a data set that cannot fit before allocating it. The box is the first file's,
    from its header alone; stacks are held whole while read (the largest twice, raw and
    as float32)."""
    first = header_shape(records[0].path)
    if first is None:
        return  # unreadable: reading it says why, with its record
    box = first[2]
    stack_files = dict.fromkeys(r.path for r in records if r.index is not None)
    shapes = [s for s in map(header_shape, stack_files) if s is not None]
    stacks = [math.prod(s) * FLOAT32 for s in shapes]
    need = volumes_bytes(len(records), box) + sum(stacks) + max(stacks, default=0)
    problem = shortfall(need)
    if problem:
        particles = f"{len(records)} particle{'s' if len(records) != 1 else ''}"
        # not a DataError: the files are sound (the synthetic source rebuilds on DataError)
        raise CryobenchError(f"{path}: reading {particles} of {box}^3 voxels needs {problem}; "
                             "bin the subtomograms to a smaller box or list fewer particles")


def _read_volumes(records: list[LabelRecord], progress: Progress | None) -> tuple[np.ndarray, float]:
    stacks: dict[Path, tuple[np.ndarray, float]] = {}
    volumes: np.ndarray | None = None
    first: tuple[Path, int, float] | None = None
    for i, r in enumerate(records):
        if r.index is None:
            volume, voxel = read_volume(r.path, r.record)
        else:
            if r.path not in stacks:
                stacks[r.path] = read_stack(r.path, record=r.record)
            stack, voxel = stacks[r.path]
            if not 0 <= r.index < len(stack):
                raise DataError(r.label_file, f"position {r.index} is beyond the stack "
                                              f"{r.path.name} ({len(stack)} volumes)", r.record)
            volume = stack[r.index]
        if first is None:
            first = (r.path, volume.shape[0], voxel)
            volumes = np.empty((len(records), *volume.shape), dtype=np.float32)
        elif volume.shape[0] != first[1]:
            raise DataError(r.path, f"box {volume.shape[0]} differs from box {first[1]} of "
                                    f"{first[0].name}; all particles need one box size", r.record)
        elif abs(voxel - first[2]) > VOXEL_TOLERANCE * first[2]:
            raise DataError(r.path, f"voxel size {voxel:.4f} nm differs from {first[2]:.4f} nm "
                                    f"of {first[0].name}", r.record)
        volumes[i] = volume
        if progress and (i % 64 == 0 or i == len(records) - 1):
            progress("reading", i + 1, len(records))
    assert volumes is not None and first is not None
    return volumes, first[2]


def _source_id(record: LabelRecord) -> str:
    return record.path.name if record.index is None else f"{record.path.name}@{record.index}"
