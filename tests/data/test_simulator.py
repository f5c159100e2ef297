from __future__ import annotations

import numpy as np
import pytest

from cryobench.data.simulator import optics
from cryobench.data.simulator.simulate import SimulationSpec, simulate, simulate_batch
from cryobench.data.simulator.structures import EXPECTED_EXTENTS, principal_extents

SMALL = SimulationSpec(class_counts={"proteasome_d": 3, "ribosome": 2}, box=24, snr=0.1)


def test_deterministic_for_a_seed_and_independent_of_batching():
    a, b = simulate(SMALL), simulate(SMALL)
    np.testing.assert_array_equal(a.volumes, b.volumes)
    np.testing.assert_array_equal(a.labels, b.labels)
    other = simulate(SimulationSpec(class_counts=SMALL.class_counts, box=24, snr=0.1, seed=1))
    assert not np.allclose(a.volumes, other.volumes)
    names = [a.class_names[c] for c in a.labels]
    one = simulate_batch(SMALL, names[2:3], np.array([2])).image[0]
    np.testing.assert_allclose(one, a.volumes[2], atol=1e-5)


def test_volumes_are_normalised():
    data = simulate(SMALL)
    np.testing.assert_allclose(data.volumes.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(data.volumes.std(axis=(1, 2, 3)), 1, atol=1e-4)
    assert data.counts().tolist() == [3, 2]


@pytest.mark.parametrize("snr", [0.5, 0.05, 0.01, 0.005])
def test_measured_snr_within_ten_percent(snr):
    counts = {"TRiC": 1, "ribosome": 1, "proteasome_d": 1}
    spec = SimulationSpec(class_counts=counts, box=40, snr=snr, crowding=0.0)
    names = list(counts) * 8  # class-balanced, particles the reference did not see
    stages = simulate_batch(spec, names, np.arange(len(names)))
    noise = stages.noise.var(axis=(1, 2, 3))
    np.testing.assert_allclose(noise, noise[0], rtol=1e-4)  # one noise level per data set
    measured = stages.signal.var(axis=(1, 2, 3)).mean() / noise.mean()
    assert measured == pytest.approx(snr, rel=0.10)


def test_small_complexes_are_fainter_than_large_ones():
    counts = {"TRiC": 1, "ribosome": 1}
    spec = SimulationSpec(class_counts=counts, box=40, snr=0.1, crowding=0.0)
    stages = simulate_batch(spec, ["TRiC", "ribosome"] * 4, np.arange(8))
    signal = stages.signal.var(axis=(1, 2, 3)).reshape(4, 2).mean(0)
    assert signal[0] < 0.6 * signal[1]


def test_missing_wedge_is_empty():
    spec = SimulationSpec(class_counts={"ribosome": 2}, box=32, snr=0.1)
    image = simulate_batch(spec, ["ribosome"] * 2, np.arange(2)).image
    power = np.abs(np.fft.rfftn(image, axes=(1, 2, 3))) ** 2
    wedge = optics.wedge_mask(optics.FrequencyGrid.for_box(32, spec.voxel_size), -50, 70)
    missing = power[:, ~wedge].sum() / power.sum()
    assert missing < 1e-8
    assert (~wedge).mean() > 0.25  # a -50..+70 range leaves a third of Fourier space empty


def test_wedge_is_asymmetric_like_the_tilt_range():
    grid = optics.FrequencyGrid.for_box(64, 1.0)
    wedge = optics.wedge_mask(grid, -50, 70)
    mirrored = optics.wedge_mask(grid, -70, 50)
    # mirror images up to the unpaired Nyquist plane of an even-sized FFT
    assert wedge.sum() == pytest.approx(mirrored.sum(), rel=0.02)
    assert not np.array_equal(wedge, mirrored)
    kx, kz = 10, 5  # (x, z) angle -26.6 degrees: inside both ranges
    assert wedge[kz, 0, kx] and mirrored[kz, 0, kx]
    kz = -15  # angle +56 degrees: inside -50..+70, outside -70..+50
    assert wedge[kz, 0, kx] and not mirrored[kz, 0, kx]


def test_electron_wavelength_at_300_kv():
    assert optics.electron_wavelength_nm(300) == pytest.approx(0.0019687, rel=1e-3)


@pytest.mark.parametrize("name", list(EXPECTED_EXTENTS))
def test_noise_free_extents_match_the_real_complexes(name):
    spec = SimulationSpec(class_counts={name: 4}, box=48, crowding=0.0, shift_nm=0.0)
    density = simulate_batch(spec, [name] * 4, np.arange(4)).density
    for particle in density:
        extents = principal_extents(particle, spec.voxel_size)
        expected = np.array(EXPECTED_EXTENTS[name])
        np.testing.assert_allclose(extents[: len(expected)], expected, rtol=0.15)


def test_double_capped_is_longer_than_single_capped_by_one_cap():
    spec = SimulationSpec(class_counts={"proteasome_s": 1, "proteasome_d": 1}, box=48,
                          crowding=0.0, shift_nm=0.0)
    names = ["proteasome_20s", "proteasome_s", "proteasome_d"] * 3
    density = simulate_batch(spec, names, np.arange(len(names))).density
    length = np.array([principal_extents(d, spec.voxel_size)[0] for d in density]).reshape(3, 3)
    core, single, double = length.mean(0)
    assert single - core == pytest.approx(double - single, rel=0.2)
    assert double - single > 12.0  # one 19S cap is about 14-15 nm long
