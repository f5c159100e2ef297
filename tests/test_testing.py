"""The conformance checks: every first-party component passes them, the documented
example plugin passes them, and a component that breaks the contract fails them."""

from __future__ import annotations

import numpy as np
import pytest

from cryobench.api import (
    SELF_FITTED, Augmentation, Capabilities, DataError, DataSource, Ensemble, Loss, Model,
    Sampler,
)
from cryobench.registry import Registry
from cryobench.testing import check_component, tiny_data, yield_checks

#: Parameters that keep a first-party model's check to a second or two.
SMALL = {
    ("model", "multipath"): {"stage1_epochs": 1, "widths": [4, 4, 4], "hidden": 8},
    ("model", "cnn"): {"widths": [4, 4, 4]},
    ("model", "resnet3d"): {"width": 2},
    ("data_source", "synthetic"): {"box": 12, "voxel_size": 4.0,
                                   "class_counts": {"TRiC": 3, "ribosome": 2}},
    ("model", "gsvm_ru"): {"components": 6, "C": [1.0], "gamma": [1.0], "max_granules": 3},
    ("model", "gp_classifier"): {"components": 6, "population": 30, "generations": 4},
    ("model", "svm"): {"components": 6},
    ("model", "balanced_random_forest"): {"components": 6, "n_estimators": 10},
    ("ensemble", "gp"): {"population": 20, "generations": 2, "members": 2},
}


def first_party():
    registry = Registry(entry_points=True)
    return [info for info in registry.components() if info.distribution == "cryobench"]


@pytest.mark.parametrize("info", first_party(), ids=lambda i: f"{i.kind}-{i.name}")
def test_every_first_party_component_passes(info, tmp_path):
    params = SMALL.get((info.kind, info.name), {})
    if (info.kind, info.name) == ("data_source", "mrc"):
        from cryobench.data.export import write_dataset

        write_dataset(tmp_path / "set", tiny_data(n=6, box=8))
        params = {"path": "set"}
    if (info.kind, info.name) in (("data_source", "tomograms"), ("data_source", "copick")):
        params = tomogram_source_params(info.name, tmp_path)
    check_component(info.cls, params, base_dir=tmp_path, cache_dir=tmp_path / "cache")


def tomogram_source_params(name: str, tmp_path) -> dict:
    from cryobench.data.simulator.simulate import SimulationSpec
    from cryobench.data.simulator.tomograms import TomogramSet, write_tomogram_set

    spec = SimulationSpec(class_counts={"TRiC": 3, "ribosome": 3}, box=8, voxel_size=4.0)
    write_tomogram_set(tmp_path / "set", TomogramSet(spec, 2, (16, 24, 24)),
                       copick=name == "copick")
    if name == "copick":
        return {"project": "set/copick/copick.json", "voxel_spacing": 40.0, "box": 8}
    return {"coordinates": "set/particles.star", "tomograms": "set/tomograms", "box": 8}


def test_the_documented_example_plugin_passes(example_plugin_site, monkeypatch):
    monkeypatch.syspath_prepend(str(example_plugin_site))
    registry = Registry()
    checks = yield_checks(registry.get("loss", "poly1"))
    assert [str(c) for c in checks] == ["Poly1Loss: check_declaration",
                                        "Poly1Loss: check_init_only_stores",
                                        "Poly1Loss: check_loss_soft_targets"]
    for check in checks:
        check()


class Unseeded(Sampler):
    name = "unseeded"
    summary = "draws from the global random state"

    def fit_resample(self, volumes, labels, seed):
        keep = np.random.rand(len(labels)) < 2  # global state: consumed, not seeded
        return volumes[keep], labels[keep]


class ShapeBreaker(Loss):
    name = "mean_loss"
    summary = "returns the batch mean instead of one loss per sample"

    def build(self, class_counts):
        import torch

        class Mean(torch.nn.Module):
            def forward(self, logits, targets):
                return -(targets * torch.log_softmax(logits, -1)).sum(-1).mean()

        return Mean()


class InPlace(Augmentation):
    name = "in_place"
    summary = "changes its input"

    def apply(self, volumes, targets, generator):
        volumes.mul_(2.0)
        return volumes, targets


@pytest.mark.parametrize(("cls", "message"), [
    (Unseeded, "fit_resample used global random state"),
    (ShapeBreaker, "loss shape (), expected one value per sample"),
    (InPlace, "apply changed its inputs in place"),
])
def test_a_broken_component_fails_the_check_that_names_its_fault(cls, message):
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_component(cls)


class ReadsLrAnyway(Model):
    """Declares it fits on its own, but its answer depends on [train] lr: with a false
    declaration, a changed lr would reuse stale results under the same trial key."""

    name = "reads_lr"
    summary = "claims SELF_FITTED, reads lr"
    capabilities = SELF_FITTED

    def fit(self, train, val, context):
        lr = context.train.lr

        class Predictor:
            def predict_proba(self, volumes):
                p = np.full((len(volumes), context.num_classes), 1.0)
                p[:, 0] += 100 * lr
                return p / p.sum(1, keepdims=True)

        return Predictor()


class IgnoresWeights(Model):
    """Declares that it honours sample weights (boosting needs them) but never reads them."""

    name = "ignores_weights"
    summary = "claims sample_weight, ignores it"
    capabilities = Capabilities(uses_train=False, uses_loss=False, uses_augmentations=False,
                                sample_weight=True, thread_dependent=False)

    def fit(self, train, val, context):
        class Predictor:
            def predict_proba(self, volumes):
                return np.full((len(volumes), context.num_classes), 1 / context.num_classes)

        return Predictor()


class ComputesWithTheProcesssThreads(Model):
    """Never reads FitContext.threads, so its declaration looks true there; but it
    computes with the process's thread pool, whose size changes its numbers."""

    name = "process_threads"
    summary = "claims thread independence, reads torch's thread count"
    capabilities = Capabilities(uses_train=False, uses_loss=False, uses_augmentations=False,
                                thread_dependent=False)

    def fit(self, train, val, context):
        import torch

        lean = torch.get_num_threads() == 1

        class Predictor:
            def predict_proba(self, volumes):
                p = np.full((len(volumes), context.num_classes), 1.0)
                p[:, 0] += lean
                return p / p.sum(1, keepdims=True)

        return Predictor()


@pytest.mark.parametrize(("cls", "message"), [
    (ReadsLrAnyway, "declares uses_train=False, but [train] changed its probabilities"),
    (ComputesWithTheProcesssThreads, "declares thread_dependent=False, but 1 and 2 threads"),
    (IgnoresWeights, "declares sample_weight=True, but FitContext.sample_weight changed "
                     "nothing"),
])
def test_a_false_declaration_is_caught(cls, message):
    with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_component(cls)


def test_declared_capabilities_choose_the_checks():
    names = {str(c).split(": ")[1] for c in yield_checks(IgnoresWeights)}
    assert {"check_model_ignores_train", "check_model_ignores_loss",
            "check_model_ignores_augmentations", "check_model_ignores_threads",
            "check_model_honours_sample_weight"} <= names
    torch_model = Registry().get("model", "cnn")  # reads everything, honours weights
    names = {str(c).split(": ")[1] for c in yield_checks(torch_model)}
    assert "check_model_honours_sample_weight" in names
    assert not any("ignores" in n for n in names)


class NeedsAFile(DataSource):
    name = "needs_a_file"
    summary = "reads particles.csv"

    def load(self, context):
        path = context.base_dir / "particles.csv"
        if not path.exists():
            raise DataError(path, "no such file; write one particle per line")
        raise AssertionError("not reached")


class CrashesWithoutFiles(NeedsAFile):
    name = "crashes"

    def load(self, context):
        return open(context.base_dir / "particles.csv").read()


def test_a_data_source_is_checked_even_without_folders():
    check_component(NeedsAFile)  # refuses in one line: what a user would see
    with pytest.raises(AssertionError, match="raise cryobench.api.DataError"):
        check_component(CrashesWithoutFiles)


class TagsWithDicts(Ensemble):
    """Tags members the way earlier versions did: dicts, which the contract no longer
    passes (they still work, with a warning; the conformance check says what to do)."""

    name = "tags_with_dicts"
    summary = "tags members with dicts"

    def fit(self, model, train, val, context):
        report = context.on_epoch

        def tagged(record):
            report({**record, "member": 1, "members": 1})

        return model.fit(train, val, context.replace(on_epoch=tagged))


def test_an_ensemble_that_passes_dicts_on_is_told_to_pass_epoch_records():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AssertionError, match="give cryobench.api.EpochRecord"):
            check_component(TagsWithDicts)
