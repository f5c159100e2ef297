"""A third-party plugin written only from docs/writing-plugins.md, one component of each
kind. It must keep working (or fail at load with a clear line) after every change to the
contract: tests/plugins/test_docs_contract.py runs it through the conformance checks and
a whole benchmark."""

from __future__ import annotations

import numpy as np

from cryobench.api import (
    Augmentation, DataSource, Ensemble, Loss, Model, Param, Sampler, Subtomograms, hookimpl,
)


class Blobs(DataSource):
    name = "blobs"
    summary = "two classes of noisy blobs"
    params = (Param("n", int, 40, "particles", low=8), Param("box", int, 12, "box edge", low=8))

    def load(self, context):
        rng = np.random.default_rng(0)
        labels = np.arange(self.n) % 2
        volumes = rng.normal(size=(self.n, self.box, self.box, self.box)).astype(np.float32)
        volumes[labels == 1, :, :, : self.box // 2] += 1.0
        return Subtomograms(volumes, labels, ("left", "right"), voxel_size=1.0)


class MeanModel(Model):
    name = "mean_model"
    summary = "logistic regression on half-volume means"

    def fit(self, train, val, context):
        from sklearn.linear_model import LogisticRegression

        def features(volumes):
            half = volumes.shape[-1] // 2
            return np.stack([volumes[..., :half].mean((1, 2, 3)),
                             volumes[..., half:].mean((1, 2, 3))], 1)

        classifier = LogisticRegression().fit(features(train.volumes), train.labels)

        class Fitted:
            def predict_proba(self, volumes):
                return classifier.predict_proba(features(volumes))

        return Fitted()


class KeepAll(Sampler):
    name = "keep_all"
    summary = "returns the split as it is"

    def fit_resample(self, volumes, labels, seed):
        return volumes, labels


class Squared(Loss):
    name = "squared"
    summary = "squared error between softmax and soft targets"
    params = (Param("weight", float, 1.0, "scale of the loss", low=0.0),)

    def build(self, class_counts):
        import torch

        weight = self.weight

        class Module(torch.nn.Module):
            def forward(self, logits, targets):
                return weight * ((torch.softmax(logits.float(), -1) - targets) ** 2).sum(-1)

        return Module()


class Negate(Augmentation):
    name = "negate"
    summary = "flips the contrast of every other batch"

    def apply(self, volumes, targets, generator):
        import torch

        if float(torch.rand(1, generator=generator)) < 0.5:
            return -volumes, targets
        return volumes, targets


class Twice(Ensemble):
    name = "twice"
    summary = "two members on the two halves of the training split, averaged"

    def fit(self, model, train, val, context):
        halves = [train.take(np.arange(len(train))[k::2]) for k in range(2)]
        members = [model.fit(half, val, context.replace(seed=context.seed + k))
                   for k, half in enumerate(halves)]

        class Vote:
            def predict_proba(self, volumes):
                return np.mean([m.predict_proba(volumes) for m in members], axis=0)

        return Vote()


@hookimpl
def cryobench_register_data_sources():
    return [Blobs]


@hookimpl
def cryobench_register_models():
    return [MeanModel]


@hookimpl
def cryobench_register_samplers():
    return [KeepAll]


@hookimpl
def cryobench_register_losses():
    return [Squared]


@hookimpl
def cryobench_register_augmentations():
    return [Negate]


@hookimpl
def cryobench_register_ensembles():
    return [Twice]
