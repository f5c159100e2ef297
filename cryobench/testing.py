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

from cryobench.contract.components import (
    Augmentation, Capabilities, DataContext, DataSource, Ensemble, EpochScheduled,
    FitContext, Loss, Model, Phased, Sampler,
)
from cryobench.data.subtomograms import Subtomograms
from cryobench.contract.params import resolve_params
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
        Model: (check_model_predicts, check_model_seeded, *_declaration_checks(cls)),
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
    from cryobench.contract.components import KIND_BASES

    assert any(issubclass(cls, base) for base in KIND_BASES.values()), \
        f"{cls.__name__} is not a subclass of a cryobench.contract.components base class"
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
            "`capabilities` must be a cryobench.contract.components.Capabilities"


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
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 16),
                                  torch.nn.ReLU(), torch.nn.Linear(16, 3))
    loss_component.adapt_network(network, 3)
    adapted = network(torch.randn(4, 8))
    assert adapted.shape == (4, 3), "adapt_network() must keep the network's logits " \
                                    f"[B, C]; it gave {tuple(adapted.shape)}"
    module = loss_component.build(np.array([30, 10, 5]))
    assert isinstance(module, torch.nn.Module), "build() must return a torch.nn.Module"
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=generator, requires_grad=True)
    hard = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    mixed = 0.7 * hard + 0.3 * hard.roll(1, 0)
    for name, targets in (("hard", hard), ("soft", mixed)):
        if isinstance(module, EpochScheduled):
            module.start_epoch(0, 10)
        value = module(logits, targets)
        assert value.shape == (6,), f"{name} targets: loss shape {tuple(value.shape)}, " \
                                    "expected one value per sample [B]"
        assert torch.isfinite(value).all(), f"{name} targets: non-finite loss"
        (grad,) = torch.autograd.grad(value.sum(), logits)
        assert torch.isfinite(grad).all(), f"{name} targets: non-finite gradient"
    extreme = torch.tensor([[1000.0, -1000.0, 0.0]])
    assert torch.isfinite(module(extreme, hard[:1])).all(), "non-finite for extreme logits"
    if isinstance(module, Phased):
        start = module.final_phase_start(10)
        assert isinstance(start, int) and 0 <= start < 10, \
            f"final_phase_start(10) gave {start!r}: an epoch from 0 to 9"


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


# --- what a model declares ---------------------------------------------------------------
# Declared capabilities decide what enters the trial key: a model that says it ignores
# [train] but reads it would have its stale results reused. Each declaration that leaves
# something out of the key is proved by changing that thing and seeing nothing change;
# sample_weight = True is proved by weights changing the result.


def _declaration_checks(cls: type) -> tuple[Callable[..., None], ...]:
    caps = getattr(cls, "capabilities", None)
    if not isinstance(caps, Capabilities):
        return ()
    return tuple(check for flag, check in (
        (not caps.uses_train, check_model_ignores_train),
        (not caps.uses_loss, check_model_ignores_loss),
        (not caps.uses_augmentations, check_model_ignores_augmentations),
        (not caps.thread_dependent, check_model_ignores_threads),
        (caps.sample_weight, check_model_honours_sample_weight),
    ) if flag)


def _declared_fit(cls: type, params: dict[str, Any], **changes: Any) -> np.ndarray:
    data = tiny_data(classes=3, n=30)
    train, val, test = data.take(np.arange(18)), data.take(np.arange(18, 24)), \
        data.take(np.arange(24, 30))
    context = tiny_context(3, seed=2).replace(**changes)
    return _check_probabilities(build(cls, params).fit(train, val, context).predict_proba(
        test.volumes), len(test), 3, cls.__name__)


def check_model_ignores_train(cls: type, params: dict[str, Any]) -> None:
    """Declared ``uses_train=False``: another learning rate, epoch count and batch size
    give the same probabilities."""
    from dataclasses import replace

    other = replace(TINY_TRAINING, lr=0.1, max_epochs=2, batch_size=4, optimizer="sgd")
    assert np.allclose(_declared_fit(cls, params), _declared_fit(cls, params, train=other),
                       atol=1e-6), "declares uses_train=False, but [train] changed its " \
                                   "probabilities: declare uses_train=True"


def check_model_ignores_loss(cls: type, params: dict[str, Any]) -> None:
    """Declared ``uses_loss=False``: another loss gives the same probabilities."""
    assert np.allclose(_declared_fit(cls, params),
                       _declared_fit(cls, params, loss=_WeightedCrossEntropy()), atol=1e-6), \
        "declares uses_loss=False, but the loss changed its probabilities: declare " \
        "uses_loss=True"


def check_model_ignores_augmentations(cls: type, params: dict[str, Any]) -> None:
    """Declared ``uses_augmentations=False``: an augmentation changes nothing."""
    assert np.allclose(_declared_fit(cls, params),
                       _declared_fit(cls, params, augmentations=[_Noise()]), atol=1e-6), \
        "declares uses_augmentations=False, but an augmentation changed its probabilities:" \
        " declare uses_augmentations=True"


def check_model_ignores_threads(cls: type, params: dict[str, Any]) -> None:
    """Declared ``thread_dependent=False``: one thread and two give the same numbers."""
    assert np.array_equal(_declared_fit(cls, params, threads=1),
                          _declared_fit(cls, params, threads=2)), \
        "declares thread_dependent=False, but 1 and 2 threads gave other probabilities: " \
        "declare thread_dependent=True"


def check_model_honours_sample_weight(cls: type, params: dict[str, Any]) -> None:
    """Declared ``sample_weight=True`` (boosting relies on it): weights that all but
    remove two thirds of the particles (of every class) change the probabilities."""
    weights = np.where(np.arange(18) % 3 == 0, 1.0, 1e-3)
    plain = _declared_fit(cls, params)
    weighted = _declared_fit(cls, params, sample_weight=weights)
    assert not np.allclose(plain, weighted, atol=1e-4), \
        "declares sample_weight=True, but FitContext.sample_weight changed nothing: " \
        "honour it or declare sample_weight=False"


class _WeightedCrossEntropy(Loss):
    name = "testing_weighted_ce"
    summary = "cross-entropy that weighs the first class 20 times, for checks"

    def build(self, class_counts: np.ndarray):
        import torch

        weights = torch.tensor([20.0] + [1.0] * (len(class_counts) - 1))

        class Weighted(torch.nn.Module):
            def forward(self, logits, targets):
                return -(weights * targets * torch.log_softmax(logits.float(), -1)).sum(-1)

        return Weighted()


class _Noise(Augmentation):
    name = "testing_noise"
    summary = "strong Gaussian noise, for checks"

    def apply(self, volumes, targets, generator):
        import torch

        noise = torch.randn(volumes.shape, generator=generator, dtype=volumes.dtype)
        return volumes + 3 * noise.to(volumes.device), targets


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

    Without ``base_dir`` and ``cache_dir``, it runs in an empty temporary folder: a
    source that can load from nothing (a simulator) is checked whole; one that needs
    files must refuse with one line, a ``CryobenchError`` (what the CLI shows as a user
    error), not any other exception."""
    import tempfile
    from pathlib import Path

    from cryobench.errors import CryobenchError

    if base_dir is None or cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="cryobench-check-") as empty:
            try:
                _check_loaded(build(cls, params), DataContext(Path(empty), Path(empty)))
            except CryobenchError as exc:
                message = str(exc)
                assert message and "\n" not in message.strip(), \
                    f"with no files, load() must refuse in one line; it said {message!r}"
            except AssertionError:
                raise
            except Exception as exc:
                raise AssertionError(
                    f"with no files, load() raised {type(exc).__name__}: {exc}; raise "
                    "cryobench.api.DataError saying what is missing and where") from exc
        return
    _check_loaded(build(cls, params), DataContext(Path(base_dir), Path(cache_dir)))


def _check_loaded(source: DataSource, context: DataContext) -> None:
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
