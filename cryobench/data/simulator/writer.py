"""Writing a simulated set as real-format files: MRC per particle, labels.csv, metadata."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from cryobench import __version__
from cryobench.data.mrc import write_mrc
from cryobench.data.simulator.simulate import CONTRAST, SimulationSpec, check_memory, simulate
from cryobench.data.subtomograms import Subtomograms
from cryobench.errors import CryobenchError

METADATA = "metadata.json"


def write_simulation(out: Path, spec: SimulationSpec, *, preset: str | None = None,
                     progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Simulate and write into a temporary folder renamed into place at the end.

    An interrupted run leaves no half-written data set at ``out``. A place that cannot
    hold the result, or a set too large for memory, is refused before any simulation.
    """
    out = Path(out)
    check_output_folder(out)
    check_memory(spec)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(out)
        partial = out.parent / f".{out.name}.partial-{os.getpid()}"
        partial.mkdir()
    except OSError as exc:
        raise CryobenchError(f"{out}: cannot create the folder ({exc.strerror or exc}); "
                             "choose a folder you can write to") from None
    try:
        data = simulate(spec, progress)
        try:
            write_particles(partial, data, progress)
            meta = {"generator": f"cryobench {__version__}", "preset": preset,
                    "parameters": spec.as_dict(), "particles": len(data),
                    "classes": dict(zip(data.class_names, map(int, data.counts()))),
                    "contrast": CONTRAST, "voxel_size_nm": spec.voxel_size, "complete": True}
            (partial / METADATA).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        except OSError as exc:  # e.g. the disk filled up: the partial copy is removed below
            raise CryobenchError(f"{out}: writing failed ({exc.strerror or exc}); nothing "
                                 "was written there; free some space or choose another "
                                 "folder") from None
        if out.exists():
            out.rmdir()
        try:
            os.replace(partial, out)
        except OSError as exc:  # another process renamed its copy into place first
            raise FileExistsError(out) from exc
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


def remove_stale_partials(out: Path) -> None:
    """Delete half-written copies of ``out`` left by processes that were killed."""
    for leftover in out.parent.glob(f".{out.name}.partial-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))) or int(pid) == os.getpid():
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def write_particles(folder: Path, data: Subtomograms,
                    progress: Callable[[str, int, int], None] | None = None) -> None:
    """One MRC per particle under ``particles/`` and ``labels.csv`` (path,label)."""
    (folder / "particles").mkdir(exist_ok=True)
    rows = ["path,label"]
    for i, (volume, label, source) in enumerate(zip(data.volumes, data.labels, data.source_ids)):
        name = data.class_names[label]
        write_mrc(folder / "particles" / source, volume, data.voxel_size,
                     labels=(f"cryobench simulated {name}", CONTRAST[:80]))
        rows.append(f"particles/{source},{name}")
        if progress and (i % 64 == 0 or i == len(data) - 1):
            progress("writing", i + 1, len(data))
    (folder / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def is_complete(folder: Path) -> bool:
    """A finished data set: metadata says so and every listed particle file is there."""
    try:
        meta = json.loads((folder / METADATA).read_text(encoding="utf-8"))
        lines = (folder / "labels.csv").read_text(encoding="utf-8").strip().splitlines()
    except (OSError, ValueError):
        return False
    files = list((folder / "particles").glob("*.mrc"))
    return bool(meta.get("complete")) and len(lines) - 1 == meta.get("particles") == len(files)
