"""``[train] precision``: resolved where the run starts, in the trial key when bf16, and
never bf16 where bf16 computes other gradients than float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cryobench.config import parse_benchmark
from cryobench.registry import Registry
from cryobench.run.plan import expand_trials
from cryobench.train import precision as precision_module
from cryobench.train.precision import resolve_precision


def _bench(**train):
    doc = {"benchmark": {"name": "t", "seeds": [0]},
           "dataset": {"source": "synthetic", "box": 16, "scale": 0.05},
           "train": {"max_epochs": 1, **train}, "arm": [{"name": "a", "model": "cnn"}]}
    return parse_benchmark(doc, Registry())


@pytest.mark.parametrize(("flags", "expected"), [
    ({"avx2", "avx512f", "avx512_bf16"}, "bfloat16"),
    ({"avx2", "amx_tile", "amx_bf16"}, "bfloat16"),
    ({"avx2", "fma"}, "float32"),
    (set(), "float32"),
])
def test_auto_is_bf16_only_on_cpus_that_compute_it_natively(monkeypatch, flags, expected):
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: flags)
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("float32", "cpu") == "float32"
    assert resolve_precision("bfloat16", "cpu") == "bfloat16"


def test_the_resolved_precision_enters_the_trial_key_and_float32_keeps_old_keys(monkeypatch):
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: {"avx512_bf16"})
    bf16 = expand_trials(_bench(precision="auto", device="cpu"))[0]
    assert bf16.train.precision == "bfloat16"
    assert bf16.config()["train"]["precision"] == "bfloat16"
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: {"avx2"})
    plain = expand_trials(_bench(precision="auto", device="cpu"))[0]
    explicit = expand_trials(_bench(precision="float32", device="cpu"))[0]
    assert plain.train.precision == "float32" and "precision" not in plain.config()["train"]
    assert plain.key == explicit.key != bf16.key


class _Overflows(torch.nn.Module):
    """A layer whose bf16 pass overflows: its gradients are not finite."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 2)

    def forward(self, x):
        out = self.linear(x.flatten(1)[:, :8])
        return out * float("inf") if torch.is_autocast_enabled("cpu") else out


class _Batches:
    def __init__(self, box: int = 2) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(8, 1, box, box, box, generator=generator)
        self.targets = torch.nn.functional.one_hot(torch.arange(8) % 2, 2).float()
        self.batch_size, self.device = 8, torch.device("cpu")


def _conv_net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.Flatten(),
                               torch.nn.LazyLinear(2))


def test_bf16_falls_back_where_a_convolution_sees_an_input_smaller_than_its_kernel():
    """oneDNN's bf16 weight gradient is wrong there (a 3^3 conv on 2^3); on 4^3 it is not."""
    from cryobench.train.engine import checked_precision

    module = _conv_net()
    module(torch.zeros(1, 1, 2, 2, 2))  # the lazy layer takes its size
    before = {k: v.clone() for k, v in module.state_dict().items()}
    precision, why = checked_precision(module, _Batches(2), "bfloat16")
    assert precision == "float32" and "0 (a 3x3x3 convolution on a 2x2x2 input)" in why
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert all(p.grad is None for p in module.parameters()) and module.training
    wide = _conv_net()
    wide(torch.zeros(1, 1, 4, 4, 4))
    assert checked_precision(wide, _Batches(4), "bfloat16") == ("bfloat16", None)


def test_bf16_falls_back_where_its_gradients_are_not_finite_and_float32_is_not_probed():
    from cryobench.train.engine import checked_precision

    precision, why = checked_precision(_Overflows(), _Batches(), "bfloat16")
    assert precision == "float32" and "linear" in why and "not finite" in why
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 2))
    assert checked_precision(module, _Batches(), "bfloat16") == ("bfloat16", None)
    assert checked_precision(_Overflows(), _Batches(), "float32") == ("float32", None)


def _small_multipath():
    from cryobench_models.networks import MultiPath, SerialPath

    return MultiPath([SerialPath(k) for k in ("conv3", "conv5")], 2)


def test_the_default_multipath_trains_in_bf16_at_24_and_falls_back_at_16():
    from cryobench.train.engine import checked_precision

    for box, expected in ((16, "float32"), (24, "bfloat16")):
        batches = _Batches(box)
        assert checked_precision(_small_multipath(), batches,
                                 "bfloat16")[0] == expected


def test_a_bf16_fit_says_what_it_computed_in_and_predicts_the_same_way():
    from cryobench.contract.components import FitContext
    from cryobench.data.subtomograms import Subtomograms
    from cryobench.train.engine import train_module
    from cryobench_models.networks import PathClassifier, SerialPath

    rng = np.random.default_rng(0)
    labels = np.arange(32) % 2
    volumes = (rng.normal(size=(32, 24, 24, 24)) + labels[:, None, None, None]).astype(
        np.float32)
    data = Subtomograms(volumes, labels, ("a", "b"), 1.0)
    train = _bench(precision="bfloat16", batch_size=8).arms[0].train
    context = FitContext(num_classes=2, train=train, loss=Registry().create("loss", "ce"),
                         augmentations=[], seed=0)
    result = train_module(lambda: PathClassifier(SerialPath("conv3", (4, 4, 4)), 2),
                          data, data.take(np.arange(8)), context)
    assert result.report().figures["precision"] == result.precision
    predictor = result.predictor(16)
    assert predictor.precision == result.precision
    assert predictor.predict_proba(volumes[:4]).shape == (4, 2)
