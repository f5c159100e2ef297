"""MRC volumes and stacks: read with validation, write with voxel size in the header."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np

from cryobench.errors import DataError

ANGSTROM_PER_NM = 10.0


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


def read_stack(path: Path) -> tuple[np.ndarray, float]:
    """A stack of cubic volumes ``[n, D, D, D]`` stored as one 4D (or 3D-stacked) MRC."""
    data, voxel = _read(path, None)
    if data.ndim == 3 and data.shape[0] % data.shape[1] == 0 and data.shape[1] == data.shape[2]:
        data = data.reshape(-1, data.shape[1], data.shape[1], data.shape[1])
    if data.ndim != 4 or len(set(data.shape[1:])) != 1:
        raise DataError(path, f"expected a stack of cubic volumes, got shape {data.shape}")
    for i in range(len(data)):
        _check_finite(path, data[i], f"volume {i}")
    return data, voxel


def _read(path: Path, record: str | None) -> tuple[np.ndarray, float]:
    if not path.is_file():
        raise DataError(path, "file not found", record)
    try:
        with mrcfile.open(path, permissive=False) as mrc:
            data = np.array(mrc.data, dtype=np.float32)
            voxel = float(mrc.voxel_size.x) / ANGSTROM_PER_NM
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(path, f"unreadable MRC ({exc})", record) from None
    return data, voxel


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
