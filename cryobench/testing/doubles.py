"""Test doubles and tiny data the checks run on: a one-epoch budget, separable volumes,
a plain loss, a nearest-centroid model."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from cryobench.contract.components import Augmentation, Capabilities, FitContext, Loss, Model
from cryobench.contract.params import resolve_params
from cryobench.data.subtomograms import Subtomograms
from cryobench.specs import TrainConfig

#: A short training budget for model and ensemble checks.
TINY_TRAINING = TrainConfig(max_epochs=1, batch_size=8, optimizer="adam", lr=1e-3,
                            weight_decay=0.0, momentum=0.9, schedule="constant", patience=0,
                            device="cpu", eval_batch_size=16)


def build(cls: type, params: dict[str, Any]) -> Any:
    """The component as the registry builds it: declared parameters resolved, then
    ``cls(**resolved)``."""
    return cls(**resolve_params(cls.params, params))


def global_random_states() -> tuple[Any, ...]:
    import torch

    return (random.getstate(), repr(np.random.get_state()),
            torch.random.get_rng_state().tolist())


def tiny_data(n: int = 24, box: int = 16, classes: int = 2, seed: int = 0) -> Subtomograms:
    """Labelled volumes that a model can tell apart in one epoch: classes differ in mean
    density and in a bright blob's position."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    volumes = rng.normal(size=(n, box, box, box)).astype(np.float32)
    centre = box // 2
    for i, label in enumerate(labels):
        offset = (label - (classes - 1) / 2) * box // (2 * classes)
        x = int(centre + offset)
        volumes[i, centre - 2:centre + 2, centre - 2:centre + 2, x - 2:x + 2] += 3.0
    return Subtomograms(volumes, labels, tuple(f"class{c}" for c in range(classes)), 1.0)


def tiny_context(num_classes: int = 2, seed: int = 0) -> FitContext:
    """A fit context with a plain cross-entropy and one short epoch on the CPU."""
    return FitContext(num_classes=num_classes, train=TINY_TRAINING, loss=CrossEntropy(),
                      augmentations=[], seed=seed, device="cpu", threads=1)


class CrossEntropy(Loss):
    name = "testing_ce"
    summary = "cross-entropy for conformance checks"

    def build(self, class_counts: np.ndarray):
        import torch

        class SoftCE(torch.nn.Module):
            def forward(self, logits, targets):
                return -(targets * torch.log_softmax(logits.float(), -1)).sum(-1)

        return SoftCE()


class WeightedCrossEntropy(Loss):
    name = "testing_weighted_ce"
    summary = "cross-entropy that weighs the first class 20 times, for checks"

    def build(self, class_counts: np.ndarray):
        import torch

        weights = torch.tensor([20.0] + [1.0] * (len(class_counts) - 1))

        class Weighted(torch.nn.Module):
            def forward(self, logits, targets):
                return -(weights * targets * torch.log_softmax(logits.float(), -1)).sum(-1)

        return Weighted()


class Noise(Augmentation):
    name = "testing_noise"
    summary = "strong Gaussian noise, for checks"

    def apply(self, volumes, targets, generator):
        import torch

        noise = torch.randn(volumes.shape, generator=generator, dtype=volumes.dtype)
        return volumes + 3 * noise.to(volumes.device), targets


def check_probabilities(p: Any, n: int, classes: int, who: str) -> np.ndarray:
    p = np.asarray(p)
    assert p.shape == (n, classes), f"{who}: predict_proba gave shape {p.shape}, " \
                                    f"expected ({n}, {classes})"
    assert np.isfinite(p).all() and (p >= 0).all(), f"{who}: probabilities must be finite, >= 0"
    assert np.allclose(p.sum(1), 1.0, atol=1e-4), f"{who}: rows must sum to one"
    return p


class Centroid(Model):
    """The smallest real model: nearest class mean."""

    name = "testing_centroid"
    summary = "nearest class mean, for conformance checks"
    capabilities = Capabilities(uses_train=False, uses_loss=False, uses_augmentations=False,
                                sample_weight=True, thread_dependent=False)

    def fit(self, train, val, context):
        x = train.volumes.reshape(len(train), -1)
        w = np.ones(len(train)) if context.sample_weight is None else context.sample_weight
        means = np.stack([np.average(x[train.labels == c], axis=0, weights=w[train.labels == c])
                          for c in range(context.num_classes)])
        return CentroidPredictor(means)


@dataclass
class CentroidPredictor:
    means: np.ndarray

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        d = ((volumes.reshape(len(volumes), -1)[:, None] - self.means[None]) ** 2).mean(-1)
        z = -(d - d.min(1, keepdims=True))
        return np.exp(z) / np.exp(z).sum(1, keepdims=True)


class EpochReportingCentroid(Centroid):
    """The centroid model, reporting one epoch per fit as a network trained by the
    engine would: what an ensemble must pass on to the core."""

    name = "testing_epoch_centroid"

    def fit(self, train, val, context):
        if context.on_epoch is not None:
            from cryobench.contract.records import EpochRecord

            context.on_epoch(EpochRecord(1, {"train_loss": 0.5}))
        return super().fit(train, val, context)
