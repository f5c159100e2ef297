"""The public contract a plugin implements: one small base class per kind of component.

A component class carries its public ``name``, a one-line ``summary`` and its declared
``params``; the registry validates a benchmark file's parameters against them, then
builds the component with ``cls(**resolved_params)``. ``__init__`` only stores
parameters (as in scikit-learn); the work happens in the kind's method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

import numpy as np

from cryobench.params import Param

if TYPE_CHECKING:  # heavy or circular imports only for type checkers
    import torch

    from cryobench.specs import TrainConfig
    from cryobench.data.subtomograms import Subtomograms


class Component(ABC):
    """Shared base: declared parameters become attributes of the instance."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, **params: Any) -> None:
        declared = {p.name: p.default for p in self.params}
        unknown = set(params) - set(declared)
        if unknown:
            raise TypeError(f"{self.name}: unknown parameters {sorted(unknown)}")
        self.config = {**declared, **params}
        for key, value in self.config.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"


# --- data sources -----------------------------------------------------------------------


@dataclass
class DataContext:
    """Where a data source resolves relative paths and keeps its cache."""

    base_dir: Path
    cache_dir: Path
    progress: Callable[[str, int, int], None] | None = None  # (phase, done, total)


class DataSource(Component):
    """Yields a labelled set of subtomograms."""

    kind = "data_source"

    @abstractmethod
    def load(self, context: DataContext) -> Subtomograms:
        """Return every particle of the data set (class subsets are taken by the core)."""


# --- models -----------------------------------------------------------------------------


class Predictor(Protocol):
    """What a fitted model (or ensemble) gives back: class probabilities per particle."""

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray: ...


@dataclass
class FitContext:
    """Everything a model needs to train, besides the data: passed down, never global."""

    num_classes: int
    train: TrainConfig
    loss: Loss
    augmentations: list[Augmentation]
    seed: int
    device: str = "cpu"
    threads: int | None = None
    cache_dir: Path | None = None
    sample_weight: np.ndarray | None = None  # per training particle (boosting)
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # per-model reports (Table III)

    def replace(self, **changes: Any) -> FitContext:
        """A copy with some fields changed (a member of an ensemble, a stage of a model)."""
        from dataclasses import replace

        return replace(self, **changes)


class Model(Component):
    """Learns from a training split; early stopping may use the validation split."""

    kind = "model"

    @abstractmethod
    def fit(self, train: Subtomograms, val: Subtomograms, context: FitContext) -> Predictor:
        ...


# --- samplers, losses, augmentations, ensembles -------------------------------------------


class Sampler(Component):
    """Rebalances the training split before fitting; never sees validation or test data."""

    kind = "sampler"

    @abstractmethod
    def fit_resample(
        self, volumes: np.ndarray, labels: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        ...


class Loss(Component):
    """A loss factory: ``build`` gets the training class counts (for re-weighting)."""

    kind = "loss"

    @abstractmethod
    def build(self, class_counts: np.ndarray) -> torch.nn.Module:
        """Return a module ``(logits [B, C], soft targets [B, C]) -> per-sample loss [B]``.

        The module may define ``start_epoch(epoch, max_epochs)`` for schedules such as
        LDAM's deferred re-weighting; the engine calls it before each epoch.
        """


class Augmentation(Component):
    """A batch transform applied during training only."""

    kind = "augmentation"

    @abstractmethod
    def apply(
        self, volumes: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Transform ``volumes [B, 1, D, D, D]`` and soft ``targets [B, C]``."""


class Ensemble(Component):
    """Wraps any model: trains members and combines their predictions."""

    kind = "ensemble"

    @abstractmethod
    def fit(
        self, model: Model, train: Subtomograms, val: Subtomograms, context: FitContext
    ) -> Predictor:
        ...


KIND_BASES: dict[str, type[Component]] = {
    cls.kind: cls for cls in (DataSource, Model, Sampler, Loss, Augmentation, Ensemble)
}
