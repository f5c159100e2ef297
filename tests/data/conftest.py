"""Tiny real-format data sets written by another program (mrcfile directly, not cryobench)."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pytest


def write_mrc(path: Path, data: np.ndarray, voxel_angstrom: float = 13.68) -> None:
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data.astype(np.float32))
        mrc.voxel_size = voxel_angstrom


@pytest.fixture
def csv_folder(tmp_path: Path) -> Path:
    """Six 8^3 particles in sub/ + labels.csv with paths relative to it."""
    rng = np.random.default_rng(1)
    (tmp_path / "sub").mkdir()
    rows = ["path,label"]
    for i, label in enumerate(["ribosome", "TRiC", "ribosome", "TRiC", "ribosome", "TRiC"]):
        write_mrc(tmp_path / "sub" / f"p{i}.mrc", rng.normal(size=(8, 8, 8)) + i)
        rows.append(f"sub/p{i}.mrc,{label}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path

