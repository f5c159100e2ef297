"""Conformance checks a plugin author runs on a component class.

In the manner of imbalanced-learn's estimator checks: the checks that apply follow from
the class's kind and what it declares, each runs on tiny data in a second or two, and a
failure says which promise of the contract (docs/writing-plugins.md) is broken::

    from cryobench.testing import check_component

    def test_my_loss():
        check_component(Poly1Loss)

or, one test per check::

    @pytest.mark.parametrize("check", yield_checks(Poly1Loss), ids=str)
    def test_my_loss(check):
        check()

``params`` gives the parameters to build the component with (the declared defaults
otherwise), e.g. to keep a model's check small.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cryobench.components import (
    Augmentation, Capabilities, CosineHead, DataContext, DataSource, Ensemble, FitContext,
    Loss, Model, Sampler,
)
from cryobench.data.subtomograms import Subtomograms
from cryobench.params import resolve_params
from cryobench.specs import TrainConfig

#: A short training budget for model and ensemble checks.
TINY_TRAINING = TrainConfig(max_epochs=1, batch_size=8, optimizer="adam", lr=1e-3,
                            weight_decay=0.0, momentum=0.9, schedule="constant", patience=0,
                            device="cpu", eval_batch_size=16)


@dataclass(frozen=True)
class Check:
    """One named check of one component class; call it to run it."""

    name: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()

    def __str__(self) -> str:
        return self.name


def check_component(cls: type, params: dict[str, Any] | None = None, **context: Any) -> None:
    """Run every check that applies to ``cls``; an ``AssertionError`` names the one that
    failed. ``context`` goes to data-source checks (``base_dir``, ``cache_dir``)."""
    for check in yield_checks(cls, params, **context):
        check()


def yield_checks(cls: type, params: dict[str, Any] | None = None, **context: Any
                 ) -> list[Check]:
    """The checks for ``cls``: the shared ones, then those of its kind."""
    params = dict(params or {})
    checks = [Check(f"{cls.__name__}: {f.__name__}", _bind(f, cls, params))
              for f in (check_declaration, check_init_only_stores)]
    kind_checks: dict[type, tuple[Callable[..., None], ...]] = {
        Sampler: (check_sampler_output, check_sampler_seeded),
        Loss: (check_loss_soft_targets,),
        Augmentation: (check_augmentation_output, check_augmentation_seeded),
        Model: (check_model_predicts, check_model_seeded),
        Ensemble: (check_ensemble_predicts,),
        DataSource: (check_data_source,),
    }
    for base, functions in kind_checks.items():
        if isinstance(cls, type) and issubclass(cls, base):
            extra = context if base is DataSource else {}
            checks += [Check(f"{cls.__name__}: {f.__name__}", _bind(f, cls, params, **extra))
                       for f in functions]
    return checks


def _bind(function: Callable[..., None], *args: Any, **kwargs: Any) -> Callable[[], None]:
    return lambda: function(*args, **kwargs)


def build(cls: type, params: dict[str, Any]) -> Any:
    """The component as the registry builds it: declared parameters resolved, then
    ``cls(**resolved)``."""
    return cls(**resolve_params(cls.params, params))


# --- shared ------------------------------------------------------------------------------


def check_declaration(cls: type, params: dict[str, Any]) -> None:
    """A public name, a summary, and parameters that are declared well."""
    from cryobench.components import KIND_BASES

    assert any(issubclass(cls, base) for base in KIND_BASES.values()), \
        f"{cls.__name__} is not a subclass of a cryobench.components base class"
    assert cls.name and cls.summary, "needs a non-empty `name` and `summary`"
    assert cls.name == cls.name.strip() and cls.name.isprintable(), \
        f"name {cls.name!r} must be printable, without surrounding spaces"
    names = [p.name for p in cls.params]
    assert len(names) == len(set(names)), f"parameter names repeat: {names}"
    for p in cls.params:
        assert p.name.isidentifier(), f"parameter {p.name!r} is not an identifier"
        assert p.help, f"parameter {p.name!r} has no help text"
        if p.default is not None or p.nullable:
            p.validate(p.default)  # a default must be a valid value
    resolve_params(cls.params, params)
    if issubclass(cls, Model):
        assert isinstance(cls.capabilities, Capabilities), \
            "`capabilities` must be a cryobench.components.Capabilities"


def check_init_only_stores(cls: type, params: dict[str, Any]) -> None:
    """``__init__`` stores the parameters as attributes and does nothing else: no global
    random state is drawn from, and two builds are alike."""
    first = build(cls, params)
    states = _global_random_states()  # after a first call: imports may draw (rich does)
    second = build(cls, params)
    assert _global_random_states() == states, "__init__ used global random state"
    resolved = resolve_params(cls.params, params)
    for name, value in resolved.items():
        assert getattr(first, name) == value, f"parameter {name!r} is not stored as an attribute"
    assert first.config == second.config == resolved
    repr(first)


def _global_random_states() -> tuple[Any, ...]:
    import torch

    return (random.getstate(), repr(np.random.get_state()),
            torch.random.get_rng_state().tolist())


# --- tiny data -----------------------------------------------------------------------------


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
    return FitContext(num_classes=num_classes, train=TINY_TRAINING, loss=_CrossEntropy(),
                      augmentations=[], seed=seed, device="cpu", threads=1)


class _CrossEntropy(Loss):
    name = "testing_ce"
    summary = "cross-entropy for conformance checks"

    def build(self, class_counts: np.ndarray):
        import torch

        class SoftCE(torch.nn.Module):
            def forward(self, logits, targets):
                return -(targets * torch.log_softmax(logits.float(), -1)).sum(-1)

        return SoftCE()


# --- samplers ----------------------------------------------------------------------------


def _imbalanced(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], [20, 8, 6])
    volumes = rng.normal(size=(len(labels), 6, 6, 6)) + 0.3 * labels[:, None, None, None]
    return volumes.astype(np.float32), labels.astype(np.int64)


def check_sampler_output(cls: type, params: dict[str, Any]) -> None:
    """``fit_resample`` returns float32 volumes ``[m, D, D, D]`` and integer labels ``[m]``
    of the classes it was given, every class kept, and leaves its inputs untouched."""
    volumes, labels = _imbalanced()
    before = volumes.copy(), labels.copy()
    out_volumes, out_labels = build(cls, params).fit_resample(volumes, labels, 0)
    out_volumes, out_labels = np.asarray(out_volumes), np.asarray(out_labels)
    assert out_volumes.dtype == np.float32, f"volumes are {out_volumes.dtype}, not float32"
    assert out_volumes.ndim == 4 and out_volumes.shape[1:] == volumes.shape[1:], \
        f"volumes have shape {out_volumes.shape}, expected [m, 6, 6, 6]"
    assert np.issubdtype(out_labels.dtype, np.integer), f"labels are {out_labels.dtype}"
    assert out_labels.shape == (len(out_volumes),), "one label per volume"
    assert set(np.unique(out_labels)) == {0, 1, 2}, "every class must be kept"
    assert np.isfinite(out_volumes).all(), "resampled volumes must be finite"
    assert np.array_equal(volumes, before[0]) and np.array_equal(labels, before[1]), \
        "fit_resample changed its inputs"


def check_sampler_seeded(cls: type, params: dict[str, Any]) -> None:
    """The same seed gives the same output; global random state is not used."""
    volumes, labels = _imbalanced()
    first = build(cls, params).fit_resample(volumes, labels, 3)
    states = _global_random_states()  # after a first call: imports may draw (rich does)
    second = build(cls, params).fit_resample(volumes, labels, 3)
    assert _global_random_states() == states, "fit_resample used global random state"
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1]), \
        "the same seed gave different resampling"


# --- losses ------------------------------------------------------------------------------


def check_loss_soft_targets(cls: type, params: dict[str, Any]) -> None:
    """``build(counts)`` gives a module ``(logits [B, C], soft targets [B, C]) -> [B]``,
    finite with finite gradients for hard, mixed and extreme inputs."""
    import torch

    loss_component = build(cls, params)
    head = loss_component.head()
    assert head is None or isinstance(head, CosineHead), "head() must be None or CosineHead"
    module = loss_component.build(np.array([30, 10, 5]))
    assert isinstance(module, torch.nn.Module), "build() must return a torch.nn.Module"
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=generator, requires_grad=True)
    hard = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    mixed = 0.7 * hard + 0.3 * hard.roll(1, 0)
    for name, targets in (("hard", hard), ("soft", mixed)):
        if hasattr(module, "start_epoch"):
            module.start_epoch(0, 10)
        value = module(logits, targets)
        assert value.shape == (6,), f"{name} targets: loss shape {tuple(value.shape)}, " \
                                    "expected one value per sample [B]"
        assert torch.isfinite(value).all(), f"{name} targets: non-finite loss"
        (grad,) = torch.autograd.grad(value.sum(), logits)
        assert torch.isfinite(grad).all(), f"{name} targets: non-finite gradient"
    extreme = torch.tensor([[1000.0, -1000.0, 0.0]])
    assert torch.isfinite(module(extreme, hard[:1])).all(), "non-finite for extreme logits"


# --- augmentations -------------------------------------------------------------------------


def _batch():
    import torch

    generator = torch.Generator().manual_seed(0)
    volumes = torch.randn(6, 1, 8, 8, 8, generator=generator)
    targets = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    return volumes, targets


def check_augmentation_output(cls: type, params: dict[str, Any]) -> None:
    """``apply`` keeps shapes and dtypes, keeps targets a distribution, and leaves its
    inputs untouched."""
    import torch

    volumes, targets = _batch()
    before = volumes.clone(), targets.clone()
    out_v, out_t = build(cls, params).apply(volumes, targets, torch.Generator().manual_seed(1))
    assert out_v.shape == volumes.shape and out_v.dtype == volumes.dtype, \
        f"volumes {tuple(out_v.shape)} {out_v.dtype}, expected {tuple(volumes.shape)} float32"
    assert out_t.shape == targets.shape, "targets changed shape"
    assert (out_t >= 0).all() and torch.allclose(out_t.sum(1), torch.ones(len(out_t))), \
        "targets must stay non-negative and sum to one (soft targets)"
    assert torch.equal(volumes, before[0]) and torch.equal(targets, before[1]), \
        "apply changed its inputs in place"


def check_augmentation_seeded(cls: type, params: dict[str, Any]) -> None:
    """The same generator state gives the same batch; global random state is not used."""
    import torch

    volumes, targets = _batch()
    first = build(cls, params).apply(volumes, targets, torch.Generator().manual_seed(2))
    states = _global_random_states()  # after a first call: imports may draw (rich does)
    second = build(cls, params).apply(volumes, targets, torch.Generator().manual_seed(2))
    assert _global_random_states() == states, "apply used global random state"
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1]), \
        "the same generator gave different batches"


# --- models and ensembles ----------------------------------------------------------------------


def _check_probabilities(p: Any, n: int, classes: int, who: str) -> np.ndarray:
    p = np.asarray(p)
    assert p.shape == (n, classes), f"{who}: predict_proba gave shape {p.shape}, " \
                                    f"expected ({n}, {classes})"
    assert np.isfinite(p).all() and (p >= 0).all(), f"{who}: probabilities must be finite, >= 0"
    assert np.allclose(p.sum(1), 1.0, atol=1e-4), f"{who}: rows must sum to one"
    return p


def _fit_and_predict(cls: type, params: dict[str, Any], seed: int) -> np.ndarray:
    data = tiny_data(classes=3, n=30)
    train, val, test = data.take(np.arange(18)), data.take(np.arange(18, 24)), \
        data.take(np.arange(24, 30))
    predictor = build(cls, params).fit(train, val, tiny_context(3, seed))
    return _check_probabilities(predictor.predict_proba(test.volumes), len(test), 3,
                                cls.__name__)


def check_model_predicts(cls: type, params: dict[str, Any]) -> None:
    """``fit`` returns a predictor whose ``predict_proba`` gives one probability row per
    particle."""
    _fit_and_predict(cls, params, seed=0)


def check_model_seeded(cls: type, params: dict[str, Any]) -> None:
    """The same seed gives the same probabilities (on the CPU), and global random state
    is left alone."""
    first = _fit_and_predict(cls, params, seed=1)
    states = _global_random_states()  # after a first fit: imports may draw (rich does)
    second = _fit_and_predict(cls, params, seed=1)
    assert _global_random_states() == states, "fit used global random state"
    assert np.allclose(first, second, atol=1e-6), "the same seed gave other probabilities"


class _Centroid(Model):
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
        return _CentroidPredictor(means)


@dataclass
class _CentroidPredictor:
    means: np.ndarray

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        d = ((volumes.reshape(len(volumes), -1)[:, None] - self.means[None]) ** 2).mean(-1)
        z = -(d - d.min(1, keepdims=True))
        return np.exp(z) / np.exp(z).sum(1, keepdims=True)


def check_ensemble_predicts(cls: type, params: dict[str, Any]) -> None:
    """``fit(model, ...)`` trains through the model's own ``fit`` and returns a predictor
    of valid probabilities; the same seed gives the same ones; the context it was given
    is not changed."""
    data = tiny_data(classes=3, n=30)
    train, val, test = data.take(np.arange(18)), data.take(np.arange(18, 24)), \
        data.take(np.arange(24, 30))
    outputs = []
    for _ in range(2):
        context = tiny_context(3, seed=4)
        before = copy.copy(context.__dict__)
        predictor = build(cls, params).fit(_Centroid(), train, val, context)
        assert context.__dict__ == before, "fit changed the context it was given"
        outputs.append(_check_probabilities(predictor.predict_proba(test.volumes), len(test),
                                            3, cls.__name__))
    assert np.allclose(outputs[0], outputs[1]), "the same seed gave other probabilities"


# --- data sources ------------------------------------------------------------------------


def check_data_source(cls: type, params: dict[str, Any], base_dir: Any = None,
                      cache_dir: Any = None) -> None:
    """``load`` gives a valid set; ``count_classes``, when it answers, agrees with it.
    Runs only where a ``base_dir`` and ``cache_dir`` are given (sources need a place)."""
    if base_dir is None or cache_dir is None:
        return
    from pathlib import Path

    source = build(cls, params)
    context = DataContext(Path(base_dir), Path(cache_dir))
    counted = source.count_classes(context)
    data = source.load(context)
    assert isinstance(data, Subtomograms), "load() must return a Subtomograms"
    assert len(data) > 0 and data.volumes.dtype == np.float32
    if counted is not None:
        loaded = dict(zip(data.class_names, map(int, data.counts())))
        assert counted == loaded, f"count_classes said {counted}, load gave {loaded}"
    by_tomogram = source.count_tomograms(context)
    if by_tomogram is not None:
        assert data.tomograms is not None, "count_tomograms answers, load names no tomograms"
        loaded_by = {}
        for tomo, label in zip(data.tomograms, data.labels):
            row = loaded_by.setdefault(str(tomo), {})
            row[data.class_names[label]] = row.get(data.class_names[label], 0) + 1
        assert by_tomogram == loaded_by, (f"count_tomograms said {by_tomogram}, load gave "
                                          f"{loaded_by}")
