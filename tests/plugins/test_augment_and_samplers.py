from __future__ import annotations

import numpy as np
import pytest
import torch

from cryobench.data.simulator import optics
from cryobench.errors import CryobenchError
from cryobench.registry import Registry


@pytest.fixture(scope="module")
def registry():
    return Registry()


def test_mixup_blends_volumes_and_targets_with_the_same_lambda(registry):
    mixup = registry.create("augmentation", "mixup", {"alpha": 0.4})
    x = torch.randn(8, 1, 4, 4, 4)
    t = torch.nn.functional.one_hot(torch.arange(8) % 3, 3).float()
    xm, tm = mixup.apply(x, t, torch.Generator().manual_seed(0))
    torch.testing.assert_close(tm.sum(1), torch.ones(8))
    # find lam and the partner of particle 0 from the targets, then check the volume
    xm2, tm2 = mixup.apply(x, t, torch.Generator().manual_seed(0))
    torch.testing.assert_close(xm, xm2)  # seeded
    flat_x, flat_m = x.reshape(8, -1), xm.reshape(8, -1)
    solutions = []
    for j in range(8):
        a = torch.stack([flat_x[0] - flat_x[j], torch.zeros_like(flat_x[0])], 1)[:, :1]
        lam = torch.linalg.lstsq(a, (flat_m[0] - flat_x[j])[:, None]).solution.item()
        if torch.allclose(lam * flat_x[0] + (1 - lam) * flat_x[j], flat_m[0], atol=1e-5):
            solutions.append((j, lam))
    assert solutions
    j, lam = solutions[0]
    torch.testing.assert_close(tm[0], lam * t[0] + (1 - lam) * t[j], atol=1e-5, rtol=0)


def test_wedge_flip_keeps_the_missing_wedge(registry):
    flip = registry.create("augmentation", "wedge_flip", {"mirror": True})
    box = 16
    grid = optics.FrequencyGrid.for_box(box, 1.0)
    wedge = optics.wedge_mask(grid, -50, 70)
    rng = np.random.default_rng(0)
    white = rng.standard_normal((64, box, box, box))
    volumes = np.fft.irfftn(np.fft.rfftn(white, axes=(1, 2, 3)) * wedge, s=(box,) * 3,
                            axes=(1, 2, 3)).astype(np.float32)
    out, _ = flip.apply(torch.from_numpy(volumes)[:, None], torch.zeros(64, 2),
                        torch.Generator().manual_seed(1))
    out = out[:, 0].numpy()
    assert not np.allclose(out, volumes)
    power = np.abs(np.fft.rfftn(out, axes=(1, 2, 3))) ** 2
    assert power[:, ~wedge].sum() / power.sum() < 1e-10
    # flipping x alone would mirror the asymmetric wedge: that is why it is not offered
    bad = np.abs(np.fft.rfftn(volumes[:, :, :, ::-1], axes=(1, 2, 3))) ** 2
    assert bad[:, ~wedge].sum() / bad.sum() > 0.01


def data(counts=(30, 8, 5), box=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    volumes = (rng.normal(size=(len(labels), box, box, box)) + labels[:, None, None, None]).astype(np.float32)
    return volumes, labels


@pytest.mark.parametrize(("name", "expected"), [
    ("none", [30, 8, 5]), ("smote", [30, 30, 30]), ("oversample", [30, 30, 30]),
    ("undersample", [5, 5, 5]),
])
def test_sampler_output_counts_and_shape(registry, name, expected):
    volumes, labels = data()
    x, y = registry.create("sampler", name, {}).fit_resample(volumes, labels, seed=0)
    assert np.bincount(y).tolist() == expected
    assert x.shape == (sum(expected), 4, 4, 4) and x.dtype == np.float32


def test_adasyn_balances_roughly(registry):
    volumes, labels = data((40, 10, 10), box=3)
    x, y = registry.create("sampler", "adasyn", {}).fit_resample(volumes, labels, seed=0)
    assert all(abs(c - 40) <= 8 for c in np.bincount(y))


def test_smote_lowers_k_for_a_small_class_and_rejects_a_singleton(registry, caplog):
    volumes, labels = data((30, 8, 3))
    x, y = registry.create("sampler", "smote", {"k_neighbors": 5}).fit_resample(volumes, labels, 0)
    assert np.bincount(y).tolist() == [30, 30, 30]
    assert "k_neighbors lowered from 5 to 2" in caplog.text
    volumes, labels = data((30, 8, 1))
    with pytest.raises(CryobenchError, match="a class has 1 training particle"):
        registry.create("sampler", "smote", {}).fit_resample(volumes, labels, 0)


def test_synthetic_particles_lie_between_real_ones(registry):
    volumes, labels = data((30, 6, 6))
    x, y = registry.create("sampler", "smote", {}).fit_resample(volumes, labels, 0)
    new = x[len(labels):]
    assert (y[len(labels):] > 0).all()
    means = new.reshape(len(new), -1).mean(1)
    assert ((means > 0.3) & (means < 2.7)).all()  # interpolated within class 1 or 2
