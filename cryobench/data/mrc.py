"""MRC volumes and stacks: read with validation, write with voxel size in the header."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np

from cryobench.errors import DataError
from cryobench.files import read_problem

ANGSTROM_PER_NM = 10.0
COMPLEX_MODES = {3: "complex int16", 4: "complex float32"}


def read_volume(path: Path, record: str | None = None) -> tuple[np.ndarray, float]:
    """One cubic 3D volume (float32, axes z, y, x) and its voxel size in nm."""
    data, voxel = _read(path, record)
    if data.ndim != 3:
        raise DataError(path, f"expected a 3D volume, got shape {data.shape}", record)
    if len(set(data.shape)) != 1:
        raise DataError(path, f"volume is not cubic: shape {data.shape}; "
                              "re-extract the subtomograms with a cubic box", record)
    _check_finite(path, data, record)
    return data, voxel


def read_stack(path: Path, *, record: str | None = None) -> tuple[np.ndarray, float]:
    """A stack of cubic volumes ``[n, D, D, D]`` stored as one 4D (or 3D-stacked) MRC;
    ``record`` is where it was first named (for errors about the file itself)."""
    data, voxel = _read(path, record)
    if data.ndim == 3 and data.shape[0] % data.shape[1] == 0 and data.shape[1] == data.shape[2]:
        data = data.reshape(-1, data.shape[1], data.shape[1], data.shape[1])
    if data.ndim != 4 or len(set(data.shape[1:])) != 1:
        raise DataError(path, f"expected a stack of cubic volumes, got shape {data.shape}")
    for i in range(len(data)):
        _check_finite(path, data[i], f"volume {i}")
    return data, voxel


def _read(path: Path, record: str | None) -> tuple[np.ndarray, float]:
    try:
        with mrcfile.open(path, permissive=False) as mrc:
            _check_mode(path, int(mrc.header.mode), record)
            data = np.array(mrc.data, dtype=np.float32)
            voxel = float(mrc.voxel_size.x) / ANGSTROM_PER_NM
    except OSError as exc:
        problem = read_problem(path, exc, "an MRC file")
        raise DataError(path, problem or f"unreadable MRC ({exc})", record) from None
    except (ValueError, EOFError) as exc:
        _check_mode(path, _header_mode(path), record)  # mrcfile cannot open mode 3 at all
        raise DataError(path, f"unreadable MRC ({exc})", record) from None
    return data, voxel


def _check_mode(path: Path, mode: int | None, record: str | None) -> None:
    """Complex modes hold a Fourier transform: its real part is not a density."""
    if mode in COMPLEX_MODES:
        raise DataError(path, f"MRC mode {mode} ({COMPLEX_MODES[mode]}) is a Fourier transform, "
                              "not a volume; write the real-space map (mode 2, float32)", record)


def _header_mode(path: Path) -> int | None:
    header = _header(path)
    return None if header is None else int(header.mode)


def header_shape(path: Path) -> tuple[int, int, int] | None:
    """``(nz, ny, nx)`` from the header alone, to size a request before reading any data;
    None when the header is unreadable (reading the file will then say why)."""
    header = _header(path)
    return None if header is None else (int(header.nz), int(header.ny), int(header.nx))


def _header(path: Path) -> np.recarray | None:
    try:
        with mrcfile.open(path, header_only=True, permissive=False) as mrc:
            return mrc.header.copy()
    except (ValueError, OSError, EOFError):
        return None


def _check_finite(path: Path, data: np.ndarray, record: str | None) -> None:
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise DataError(path, f"{bad} voxels are NaN or Inf", record)


def write_mrc(path: Path, data: np.ndarray, voxel_size_nm: float,
              labels: tuple[str, ...] = ()) -> None:
    """Write a volume ``[D, D, D]`` or a stack ``[n, D, D, D]`` (``.mrcs``) as float32,
    with the voxel size (stored in Angstrom, as MRC requires) and header labels."""
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data, dtype=np.float32))
        mrc.voxel_size = voxel_size_nm * ANGSTROM_PER_NM
        _set_labels(mrc, labels)


def _set_labels(mrc: mrcfile.mrcfile.MrcFile, labels: tuple[str, ...]) -> None:
    for i, text in enumerate(labels[:9], start=1):
        mrc.header.label[i] = text.encode("ascii", "replace")[:80]
    mrc.header.nlabl = 1 + min(len(labels), 9)
