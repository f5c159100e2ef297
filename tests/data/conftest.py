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


@pytest.fixture(scope="session")
def tomogram_set(tmp_path_factory) -> Path:
    """Two simulated 64 x 64 x 32 tomograms with 18 particles of 16^3, their RELION 5
    STAR and a copick project: written once for the session (read, never changed)."""
    from cryobench.data.simulator.simulate import SimulationSpec
    from cryobench.data.simulator.tomograms import TomogramSet, write_tomogram_set

    spec = TomogramSet(SimulationSpec(class_counts={"TRiC": 10, "ribosome": 8}, box=16,
                                      snr=0.5), tomograms=2, shape=(32, 64, 64))
    return write_tomogram_set(tmp_path_factory.mktemp("tomograms") / "set", spec)
