"""Checks every component goes through, whatever its kind, and those of samplers,
losses and augmentations."""

from __future__ import annotations

from typing import Any

import numpy as np

from cryobench.contract.components import Capabilities, EpochScheduled, Model, Phased
from cryobench.contract.params import resolve_params
from cryobench.testing.doubles import build, global_random_states


# --- every component ----------------------------------------------------------------------


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
    states = global_random_states()  # after a first call: imports may draw (rich does)
    second = build(cls, params)
    assert global_random_states() == states, "__init__ used global random state"
    resolved = resolve_params(cls.params, params)
    for name, value in resolved.items():
        assert getattr(first, name) == value, f"parameter {name!r} is not stored as an attribute"
    assert first.config == second.config == resolved
    repr(first)


# --- samplers -------------------------------------------------------------------------------


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
    states = global_random_states()  # after a first call: imports may draw (rich does)
    second = build(cls, params).fit_resample(volumes, labels, 3)
    assert global_random_states() == states, "fit_resample used global random state"
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1]), \
        "the same seed gave different resampling"


# --- losses ---------------------------------------------------------------------------------


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


# --- augmentations --------------------------------------------------------------------------


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
    states = global_random_states()  # after a first call: imports may draw (rich does)
    second = build(cls, params).apply(volumes, targets, torch.Generator().manual_seed(2))
    assert global_random_states() == states, "apply used global random state"
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1]), \
        "the same generator gave different batches"
