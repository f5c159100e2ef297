"""The public contract a plugin implements: one small base class per kind of component.

A component class carries its public ``name``, a one-line ``summary`` and its declared
``params``; the registry validates a benchmark file's parameters against them, then
builds the component with ``cls(**resolved_params)``. ``__init__`` only stores
parameters (as in scikit-learn); the work happens in the kind's method.

What a class declares beyond that, all optional, with defaults that keep a plugin written
for an earlier version working:

- ``revision``: bump it when the same parameters start giving different results, so
  that results made by the previous code are not reused (it enters the trial key).
- ``check_setup(setup)``: refuse, before any work, a combination that cannot work
  (raise :class:`cryobench.errors.ParamError` naming the parameter).
- a model's ``capabilities``: what it reads of the trial's shared settings (only those
  enter the trial key) and what it honours (sample weights).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, runtime_checkable

import numpy as np

from cryobench.contract.params import Param
from cryobench.contract.records import EpochReport
from cryobench.specs import Capabilities

if TYPE_CHECKING:  # heavy or circular imports only for type checkers
    import torch

    from cryobench.data.subtomograms import Subtomograms
    from cryobench.specs import SplitConfig, TrainConfig


#: A model that trains by cryobench's torch engine.
TORCH_ENGINE = Capabilities(sample_weight=True)
#: A model that fits on its own (scikit-learn, DEAP): no epochs, loss or batches.
SELF_FITTED = Capabilities(uses_train=False, uses_loss=False, uses_augmentations=False,
                           thread_dependent=False)


@dataclass(frozen=True)
class ArmSetup:
    """What a component can check itself against before any work starts."""

    model: Capabilities
    split: SplitConfig
    train: TrainConfig
    class_counts: dict[str, int] | None  # of the arm's class subset, when the source can tell


class Component(ABC):
    """Shared base: declared parameters become attributes of the instance."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    revision: ClassVar[int] = 0
    #: no imbalance strategy (plain cross-entropy, no sampler, no ensemble...): an arm
    #: made of plain components is a baseline the report can compare strategies with
    plain: ClassVar[bool] = False
    #: other names a benchmark file may give it (a clearer name, or an earlier one);
    #: ``name`` stays the one its trial keys and records use
    aliases: ClassVar[tuple[str, ...]] = ()

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

    def check_setup(self, setup: ArmSetup) -> None:
        """Refuse a setup this component cannot work in; raise ``ParamError``.

        Called by validation, before any data is loaded or model trained.
        """


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

    def count_classes(self, context: DataContext) -> dict[str, int] | None:
        """Particles per class, cheaply and before loading (a label file, a spec), so that
        class subsets and per-class needs are checked before any work; ``None``: cannot
        tell without loading."""
        return None

    def count_tomograms(self, context: DataContext) -> dict[str, dict[str, int]] | None:
        """Particles per tomogram and class (tomogram -> class -> count), cheaply, so
        that a split keeping tomograms apart is checked before any work; ``None``: the
        particles come from no tomogram this source knows."""
        return None

    def imbalanced(self, ratio: float) -> dict[str, Any] | None:
        """Parameters that give this data set as many particles in all, its largest class
        ``ratio`` times its rarest (a benchmark's ``[sweep] imbalance``); ``None``: this
        source cannot change its class counts."""
        return None


# --- models -----------------------------------------------------------------------------


class Predictor(Protocol):
    """What a fitted model (or ensemble) gives back: class probabilities per particle.

    It may also declare what :class:`HasFitReport`, :class:`ReportsParts` and
    :class:`GivesPartOutputs` describe; the core asks for nothing else.
    """

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class HasFitReport(Protocol):
    """A predictor that says how its fit went (the trial's record keeps it)."""

    fit_report: FitReport


@runtime_checkable
class ReportsParts(Protocol):
    """A predictor made of parts that scores them on the test split (Table III's paths,
    an ensemble's members): plain data the trial's record keeps under ``report``."""

    def report(self, test: Subtomograms) -> dict[str, Any]: ...


@runtime_checkable
class GivesPartOutputs(Protocol):
    """A predictor whose parts' outputs a combiner can learn to combine (the GP
    ensemble): ``[n particles, m outputs]``."""

    def part_outputs(self, volumes: np.ndarray) -> np.ndarray: ...


@dataclass
class FitReport:
    """How a fit went, returned with its predictor as ``predictor.fit_report``.

    ``figures``: epochs run, best epoch, seconds, samples/s, optimiser steps...;
    ``history``: one record per epoch (training loss, validation macro F1);
    ``parts``: the reports of the fits it is made of (stage-1 paths, ensemble members),
    by name, so that nothing one part reports overwrites another's.
    """

    figures: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    parts: dict[str, FitReport] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.figures, "history": list(self.history),
                "parts": {name: part.as_dict() for name, part in self.parts.items()}}


def fit_report_of(predictor: Any) -> FitReport:
    """A predictor's fit report, or an empty one for a predictor that has none."""
    if isinstance(predictor, HasFitReport) and isinstance(predictor.fit_report, FitReport):
        return predictor.fit_report
    return FitReport()


def parts_report_of(predictor: Any, test: Subtomograms) -> dict[str, Any]:
    """What a predictor says of its parts on the test split ({} when it has none)."""
    return predictor.report(test) if isinstance(predictor, ReportsParts) else {}


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
    #: called after each epoch of each network the fit trains (:class:`EpochRecord`)
    on_epoch: EpochReport | None = None
    #: the training split before the sampler: what a model identifies structure on when
    #: it must not see resampled particles (the multi-path CNN's stage 1)
    unsampled_train: Subtomograms | None = None
    #: ``[train]`` as the benchmark file gives it, before tuning's values: what a model's
    #: own earlier stage trains with (the multi-path CNN's stage 1), so that every
    #: configuration tried, and every arm, shares that stage; None: ``train``
    untuned_train: TrainConfig | None = None
    #: the training recipe's augmentations (``[train] augment``), also at the head of
    #: ``augmentations``: what a model's own earlier stage trains with (the multi-path
    #: CNN's stage 1), which every arm of a split shares, where the arm's own
    #: augmentations (mixup) are its strategy
    recipe: list[Augmentation] = field(default_factory=list)
    #: the trial's seed, which an ensemble's members keep when each gets its own ``seed``:
    #: what a stage shared by every arm and member of a split (the multi-path CNN's
    #: stage 1, trained once on ``unsampled_train``) is seeded with; None: ``seed``
    shared_seed: int | None = None

    def replace(self, **changes: Any) -> FitContext:
        """A copy with some fields changed (a member of an ensemble, a stage of a model)."""
        from dataclasses import replace

        return replace(self, **changes)


class Model(Component):
    """Learns from a training split; early stopping may use the validation split."""

    kind = "model"
    capabilities: ClassVar[Capabilities] = Capabilities()

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

        A loss whose criterion changes with the epoch returns a module that is also
        :class:`EpochScheduled` (and :class:`Phased`, when its last phase is what the
        method is: LDAM's deferred re-weighting).
        """

    def adapt_network(self, module: torch.nn.Module, num_classes: int) -> None:
        """Change the network the loss will train, in place, before training (LDAM
        replaces the last linear layer by a cosine one). Default: nothing, or the head
        that the deprecated :meth:`head` asks for."""
        head = self.head()
        if head is not None:
            from cryobench.train.heads import use_cosine_head

            _warn_at_plugin(type(self).head, f"loss {self.name!r}: head() is deprecated; "
                            "override adapt_network(module, num_classes) and call "
                            "cryobench.api.use_cosine_head there")
            use_cosine_head(module, head.scale, num_classes)

    def head(self) -> CosineHead | None:
        """Deprecated: a cosine last layer; override :meth:`adapt_network` instead."""
        return None


@runtime_checkable
class EpochScheduled(Protocol):
    """A loss module told where training is before each epoch (a schedule)."""

    def start_epoch(self, epoch: int, max_epochs: int) -> None: ...


@runtime_checkable
class Phased(Protocol):
    """A loss module whose last phase, from ``final_phase_start(max_epochs)`` (0-based
    epoch), is what the method optimises: early stopping, tuning's scheduler and the
    kept weights ignore the epochs before it (records say ``phase = "deferred"``)."""

    def final_phase_start(self, max_epochs: int) -> int: ...


@dataclass(frozen=True)
class CosineHead:
    """Deprecated with :meth:`Loss.head`: a cosine-normalised last layer, logits
    ``scale * cos(features, class weights)``."""

    scale: float


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


def _warn_at_plugin(method: Any, message: str) -> None:
    """A deprecation warning that names the plugin's own method (its file and line), not
    the core's line that called it: that is what its author has to change. Shown once
    per place, as ``warnings.warn`` would."""
    import sys
    import warnings

    from cryobench.errors import CryobenchDeprecationWarning

    code = getattr(method, "__code__", None)
    if code is None:  # not a Python function: the caller's line, then
        warnings.warn(message, CryobenchDeprecationWarning, stacklevel=3)
        return
    module = sys.modules.get(method.__module__)
    registry = vars(module).setdefault("__warningregistry__", {}) if module else None
    warnings.warn_explicit(message, CryobenchDeprecationWarning, code.co_filename,
                           code.co_firstlineno, method.__module__, registry)
