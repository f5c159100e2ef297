from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cryobench.registry import Registry

COUNTS = np.array([100, 20, 5])


@pytest.fixture(scope="module")
def registry():
    return Registry()


def build(registry, name, counts=COUNTS, **params):
    return registry.create("loss", name, params).build(counts)


def batch(seed=0, n=6, c=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g) * 3
    targets = torch.softmax(torch.randn(n, c, generator=g) * 2, -1)  # soft, like mixup
    return logits, targets


def test_ce_matches_torch_for_soft_targets(registry):
    logits, targets = batch()
    expected = F.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(build(registry, "ce")(logits, targets), expected)


def test_weighted_ce_inverse_frequency(registry):
    logits, targets = batch()
    w = 1 / COUNTS
    w = w * 3 / w.sum()
    expected = -(targets * torch.tensor(w, dtype=torch.float32) * F.log_softmax(logits, -1)).sum(-1)
    torch.testing.assert_close(build(registry, "weighted_ce")(logits, targets), expected)


def test_focal_formula_and_limits(registry):
    logits, targets = batch()
    p = torch.softmax(logits, -1)
    alpha = (1 / COUNTS) / (1 / COUNTS).sum()
    expected = -(torch.tensor(alpha, dtype=torch.float32) * targets * (1 - p) ** 2 * p.log()).sum(-1)
    torch.testing.assert_close(build(registry, "focal")(logits, targets), expected)
    gamma0 = build(registry, "focal", gamma=0.0, alpha="none")(logits, targets)
    torch.testing.assert_close(gamma0, F.cross_entropy(logits, targets, reduction="none"))


def test_focal_binary_matches_sigmoid_focal_loss(registry):
    # torchvision.ops.sigmoid_focal_loss, computed here: a 2-logit softmax [0, z] is sigmoid(z)
    z = torch.tensor([2.0, -1.0, 0.3, -3.0])
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])
    a, gamma = 0.25, 2.0
    p = torch.sigmoid(z)
    ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    reference = (a * y + (1 - a) * (1 - y)) * ce * (1 - p_t) ** gamma
    loss = build(registry, "focal", counts=np.array([1, 1]), gamma=gamma,
                 alpha_values=[1 - a, a])
    logits = torch.stack([torch.zeros_like(z), z], 1)
    targets = torch.stack([1 - y, y], 1)
    torch.testing.assert_close(loss(logits, targets), reference)


def test_losses_are_linear_in_targets_so_mixup_composes(registry):
    logits, _ = batch()
    t1 = F.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    t2 = F.one_hot(torch.tensor([2, 2, 0, 1, 0, 1]), 3).float()
    lam = 0.3
    for name in ("ce", "weighted_ce", "focal", "class_balanced", "ldam", "logit_adjusted"):
        loss = build(registry, name)
        if name == "ldam":  # margins act on the target class: linear only for hard targets
            continue
        mixed = loss(logits, lam * t1 + (1 - lam) * t2)
        torch.testing.assert_close(mixed, lam * loss(logits, t1) + (1 - lam) * loss(logits, t2))


def test_class_balanced_effective_number(registry):
    logits, targets = batch()
    beta = 0.99
    w = (1 - beta) / (1 - beta ** COUNTS)
    w = w * 3 / w.sum()
    expected = -(targets * torch.tensor(w, dtype=torch.float32) * F.log_softmax(logits, -1)).sum(-1)
    torch.testing.assert_close(build(registry, "class_balanced", beta=beta)(logits, targets), expected)


def test_logit_adjusted_is_balanced_softmax(registry):
    logits, targets = batch()
    prior = COUNTS / COUNTS.sum()
    shifted = logits + torch.tensor(np.log(prior), dtype=torch.float32)
    expected = F.cross_entropy(shifted, targets, reduction="none")
    torch.testing.assert_close(build(registry, "logit_adjusted")(logits, targets), expected)


def test_ldam_margins_and_deferred_reweighting(registry):
    loss = build(registry, "ldam", max_margin=0.5, scale=10.0, drw_start=0.5, beta=0.99)
    margins = COUNTS ** -0.25
    margins = margins * 0.5 / margins.max()
    torch.testing.assert_close(loss.margins, torch.tensor(margins, dtype=torch.float32))
    cosines = torch.tensor([[0.9, -0.2, 0.1], [0.3, 0.5, -0.8], [-0.4, 0.2, 0.6]])
    logits = 10.0 * cosines  # what the cosine head gives: scale x cosine
    targets = torch.eye(3)
    loss.start_epoch(0, 10)
    early = loss(logits, targets)
    expected = F.cross_entropy(10 * (cosines - targets * loss.margins), targets,
                               reduction="none")
    torch.testing.assert_close(early, expected)
    assert loss.final_phase_start(10) == 5
    loss.start_epoch(5, 10)
    late = loss(logits, targets)
    torch.testing.assert_close(late, early * loss.drw_weights)
    assert late[2] > early[2]  # the rarest class weighs more once re-weighting starts


def test_stable_for_extreme_logits(registry):
    logits = torch.tensor([[1000.0, -1000.0, 0.0]])
    targets = torch.tensor([[0.0, 1.0, 0.0]])
    for name in ("ce", "focal", "ldam", "logit_adjusted", "class_balanced", "weighted_ce"):
        assert torch.isfinite(build(registry, name)(logits, targets)).all(), name


def test_wrong_number_of_given_weights(registry):
    from cryobench.errors import CryobenchError

    with pytest.raises(CryobenchError, match="2 class weights given for 3 classes"):
        build(registry, "weighted_ce", weights=[1.0, 2.0])
