from __future__ import annotations

import json
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from cryobench.data.coordinates import read_picks
from cryobench.data.tomogram_table import read_pixel_sizes
from cryobench.data.simulator import optics
from cryobench.data.simulator.simulate import SimulationSpec, imaged_signal
from cryobench.data.simulator.tomograms import TomogramSet, place, write_tomogram_set
from cryobench.errors import CryobenchError

SPEC = TomogramSet(SimulationSpec(class_counts={"TRiC": 10, "ribosome": 8}, box=16, snr=0.5),
                   tomograms=2, shape=(32, 64, 64))


def test_files_labs_keep(tomogram_set: Path):
    meta = json.loads((tomogram_set / "metadata.json").read_text())
    assert meta["class_numbers"] == {"1": "TRiC", "2": "ribosome"} and meta["particles"] == 18
    for name in ("TS_01", "TS_02"):
        with mrcfile.open(tomogram_set / "tomograms" / f"{name}.mrc") as mrc:
            assert mrc.data.shape == (32, 64, 64)
            assert float(mrc.voxel_size.x) == pytest.approx(13.68)
    picks = read_picks(tomogram_set / "particles.star")
    assert picks.format == "relion5" and len(picks.picks) == 18
    assert read_pixel_sizes(tomogram_set / "tomograms.star") == {"TS_01": 13.68, "TS_02": 13.68}


def test_particles_sit_where_the_star_says(tomogram_set: Path):
    """The tomogram around each listed position matches the particle's imaged signal."""
    labels, tomogram, centres = place(SPEC)
    names = list(SPEC.particles.class_counts)
    picks = read_picks(tomogram_set / "particles.star").picks
    with mrcfile.open(tomogram_set / "tomograms" / "TS_01.mrc") as mrc:
        data = np.array(mrc.data)
    interior = [i for i in np.flatnonzero(tomogram == 0)
                if ((centres[i] >= 8) & (centres[i] + 8 <= SPEC.shape)).all()]
    assert interior
    for i in interior:
        x, y, z = picks[i].xyz
        centre = np.round(np.array([z, y, x]) / 13.68 + np.array(SPEC.shape) / 2).astype(int)
        np.testing.assert_array_equal(centre, centres[i])
        signal = imaged_signal(SPEC.particles, [names[labels[i]]], np.array([i]))[0]
        lo = centre - 8
        cut = data[lo[0]:lo[0] + 16, lo[1]:lo[1] + 16, lo[2]:lo[2] + 16]
        assert np.corrcoef(cut.ravel(), signal.ravel())[0, 1] > 0.4


def test_noise_is_missing_in_the_wedge(tomogram_set: Path):
    with mrcfile.open(tomogram_set / "tomograms" / "TS_02.mrc") as mrc:
        power = np.abs(np.fft.rfftn(np.array(mrc.data), axes=(0, 2))) ** 2
    p = SPEC.particles
    grid = optics.FrequencyGrid(np.fft.fftfreq(32, d=p.voxel_size)[:, None, None],
                                np.zeros((1, 1, 1)),
                                np.fft.rfftfreq(64, d=p.voxel_size)[None, None, :])
    seen = np.broadcast_to(optics.wedge_mask(grid, p.tilt_min, p.tilt_max), power.shape)
    # particles are pasted in boxes, so a little of their signal leaks into the wedge
    assert power[~seen].mean() < 0.05 * power[seen].mean()


def test_deterministic_for_a_seed(tmp_path: Path, tomogram_set: Path):
    again = write_tomogram_set(tmp_path / "again", SPEC, copick=False)
    for name in ("TS_01.mrc", "TS_02.mrc"):  # (the header holds the time it was written)
        with mrcfile.open(again / "tomograms" / name) as a, \
                mrcfile.open(tomogram_set / "tomograms" / name) as b:
            np.testing.assert_array_equal(a.data, b.data)
    assert (again / "particles.star").read_text() == \
        (tomogram_set / "particles.star").read_text()
    assert not (again / "copick").exists()


def test_too_many_particles_for_the_tomograms_is_refused(tmp_path: Path):
    crowded = TomogramSet(SimulationSpec(class_counts={"TRiC": 300, "ribosome": 300}, box=16),
                          tomograms=1, shape=(16, 16, 16))
    with pytest.raises(CryobenchError, match="600 particles do not fit half a box apart"):
        write_tomogram_set(tmp_path / "crowded", crowded)
    assert not (tmp_path / "crowded").exists()
