"""Writing a labelled set as real-format files: one MRC per particle, labels.csv, and
metadata.json (provenance). Simulated sets and exported ones take this one road."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryobench import __version__
from cryobench.data import Progress
from cryobench.data.cache import private_name, remove_stale_partials
from cryobench.data.mrc import write_mrc
from cryobench.data.subtomograms import Subtomograms
from cryobench.errors import CryobenchError

METADATA = "metadata.json"


def write_dataset(out: Path, data: Subtomograms, metadata: Mapping[str, Any] | None = None,
                  *, progress: Progress | None = None) -> Path:
    """Write into a private folder renamed into place at the end: an interrupted or failed
    write leaves nothing at ``out``. ``metadata`` joins ``data.metadata`` (provenance);
    its ``contrast`` is also written into every MRC header."""
    out = Path(out)
    check_output_folder(out)
    meta = {**data.metadata, **(metadata or {})}
    try:
        remove_stale_partials(out)
        partial = private_name(out)
        partial.mkdir()
    except OSError as exc:
        raise CryobenchError(f"{out}: cannot create the folder ({exc.strerror or exc}); "
                             "choose a folder you can write to") from None
    try:
        try:
            write_particles(partial, data, str(meta.get("contrast", "")), progress)
            meta.update({"written_by": f"cryobench {__version__}", "particles": len(data),
                         "classes": dict(zip(data.class_names, map(int, data.counts()))),
                         "voxel_size_nm": data.voxel_size, "complete": True})
            (partial / METADATA).write_text(json.dumps(meta, indent=2, default=str),
                                            encoding="utf-8")
        except OSError as exc:  # e.g. the disk filled up: the partial copy is removed below
            raise CryobenchError(f"{out}: writing failed ({exc.strerror or exc}); nothing "
                                 "was written there; free some space or choose another "
                                 "folder") from None
        if out.exists():
            out.rmdir()
        try:
            os.replace(partial, out)
        except OSError:  # another process renamed its copy into place first
            raise CryobenchError(f"{out}: another process wrote a data set there first; "
                                 "choose another folder") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out


def check_output_folder(out: Path) -> None:
    """``out`` must be a new or empty folder, in a place this process can write to."""
    if out.is_symlink() and not out.exists():
        raise CryobenchError(f"{out}: is a broken symbolic link (or a loop); remove it or "
                             "choose another folder")
    if out.exists() and not out.is_dir():
        raise CryobenchError(f"{out}: is a file, not a folder; choose another folder")
    try:
        not_empty = out.is_dir() and any(out.iterdir())
    except OSError as exc:
        raise CryobenchError(f"{out}: cannot list the folder ({exc.strerror or exc}); "
                             "choose another folder") from None
    if not_empty:
        raise CryobenchError(f"{out}: already exists and is not empty; choose another folder")
    parent = next(p for p in out.absolute().parents if p.exists() or p.is_symlink())
    if not parent.is_dir():
        raise CryobenchError(f"{out}: cannot create the folder: {parent} is not a folder; "
                             "choose another place")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CryobenchError(f"{out}: cannot create the folder: {parent} is not writable; "
                             "choose a folder you can write to")
    try:  # the place must exist before any work goes into filling it
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CryobenchError(f"{out}: cannot create the folder ({exc.strerror or exc}); "
                             "choose a folder you can write to") from None


def write_particles(folder: Path, data: Subtomograms, contrast: str = "",
                    progress: Progress | None = None) -> None:
    """One MRC per particle under ``particles/`` and ``labels.csv`` (path,label)."""
    (folder / "particles").mkdir(exist_ok=True)
    rows = ["path,label"]
    names = [_file_name(s, i) for i, s in enumerate(data.source_ids)]
    if len(set(names)) < len(names):  # same file names from several folders
        names = [_file_name("", i) for i in range(len(data))]
    for i, (volume, label, name) in enumerate(zip(data.volumes, data.labels, names)):
        write_mrc(folder / "particles" / name, volume, data.voxel_size,
                  labels=(f"cryobench: {data.class_names[label]}", contrast[:80]))
        rows.append(f"particles/{name},{_csv_field(data.class_names[label])}")
        if progress and (i % 64 == 0 or i == len(data) - 1):
            progress("writing", i + 1, len(data))
    (folder / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _file_name(source_id: str, index: int) -> str:
    """The particle's own file name when it has one, else a numbered one."""
    name = Path(str(source_id)).name
    return name if name.endswith(".mrc") and "@" not in name else f"particle_{index + 1:05d}.mrc"


def _csv_field(text: str) -> str:
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def read_metadata(folder: Path) -> dict[str, Any]:
    """A folder's provenance, or nothing when it has none (or it cannot be read)."""
    try:
        meta = json.loads((folder / METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def is_complete(folder: Path) -> bool:
    """A finished set: metadata says so and every listed particle file is there."""
    meta = read_metadata(folder)
    try:
        lines = (folder / "labels.csv").read_text(encoding="utf-8").strip().splitlines()
    except OSError:
        return False
    files = list((folder / "particles").glob("*.mrc"))
    return bool(meta.get("complete")) and len(lines) - 1 == meta.get("particles") == len(files)
