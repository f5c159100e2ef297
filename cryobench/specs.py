"""The value types a benchmark resolves to: plain, frozen, and light to import.

The engine, the components and the executors read these; only :mod:`cryobench.config`
knows how they are parsed from TOML and validated against the registry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from cryobench.registry import Registry


@dataclass(frozen=True)
class Capabilities:
    """What a model reads of a trial's shared settings, and what it honours.

    Only the settings a model reads enter its trial key (a nearest-centroid model does
    not get a new key when ``lr`` changes), and validation refuses an arm that sets one
    the model ignores (mixup on a model that never sees a batch). The defaults are the
    safe guess for a model that does not say: it reads everything.
    """

    uses_train: bool = True  # the [train] settings: epochs, optimiser, lr, batch size ...
    uses_loss: bool = True
    uses_augmentations: bool = True
    sample_weight: bool = False  # honours FitContext.sample_weight
    thread_dependent: bool = True  # its numbers change with the number of CPU threads


@dataclass(frozen=True)
class ComponentSpec:
    """A plugin name, its fully resolved parameters, and the code that implements it.

    ``code`` names the distribution and version the class came from (and its
    ``revision``), so that an upgraded plugin does not silently reuse old results.
    """

    kind: str
    name: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    code: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}

    def identity(self) -> dict[str, Any]:
        """What a trial key holds of this component."""
        return {**self.as_dict(), "code": self.code}

    def build(self, registry: Registry) -> Any:
        return registry.create(self.kind, self.name, self.params)


@dataclass(frozen=True)
class DatasetSpec:
    """A data source and the class subset taken from it."""

    source: ComponentSpec
    classes: tuple[str, ...] | None = None  # None: every class of the source

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source.as_dict(),
                "classes": list(self.classes) if self.classes else None}

    def identity(self) -> dict[str, Any]:
        return {**self.as_dict(), "source": self.source.identity()}


@dataclass(frozen=True)
class SplitConfig:
    method: str
    test_fraction: float
    val_fraction: float
    folds: int
    group: str = "none"  # or "tomogram": each tomogram's particles on one side

    def identity(self) -> dict[str, Any]:
        """What a trial key holds of the split; ``group`` came later and, at its default,
        is left out, so that results made before it keep their keys."""
        out = asdict(self)
        if out["group"] == "none":
            del out["group"]
        return out


@dataclass(frozen=True)
class TrainConfig:
    max_epochs: int
    batch_size: int
    optimizer: str
    lr: float
    weight_decay: float
    momentum: float
    schedule: str
    patience: int
    device: str
    eval_batch_size: int
    monitor: str = "val_macro_f1"  # or "val_loss" (cross-entropy on the validation part)
    restore: str = "best"  # or "last"
    #: resolved where the run starts (``cryobench.train.precision``): float32 or bfloat16
    precision: str = "float32"

    def identity(self) -> dict[str, Any]:
        """What a trial key (or a cache key) holds of the settings. The stopping rules
        and the precision came later: at their defaults (the engine's behaviour on a CPU
        before them) they are left out, so results made before them keep their keys."""
        out = asdict(self)
        for name, default in (("monitor", "val_macro_f1"), ("restore", "best"),
                              ("precision", "float32")):
            if out[name] == default:
                del out[name]
        return out


@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int


@dataclass(frozen=True)
class SearchDimension:
    """One tuned parameter: ``target`` is ``"<field>.<param>"`` (``train.lr``,
    ``loss.gamma``); ``kind`` a Tune sampler (uniform, loguniform, randint, choice)."""

    target: str
    kind: str
    values: tuple[Any, ...]  # the bounds (inclusive), or the choices

    @property
    def field(self) -> str:
        return self.target.partition(".")[0]

    @property
    def param(self) -> str:
        return self.target.partition(".")[2]

    def as_dict(self) -> dict[str, Any]:
        return {self.kind: list(self.values)}


#: Bump when what a tuned trial trains changes, so that results tuned the old way are not
#: reused (2: a tuned value no longer reaches a model's earlier stage, the multi-path
#: CNN's stage 1).
TUNING_SCHEMA = 2


@dataclass(frozen=True)
class TuneSpec:
    """An arm's search: its space, and the budget every arm of the benchmark shares."""

    space: tuple[SearchDimension, ...]
    configurations: int  # sampled per arm, class subset and seed
    max_epochs: int  # the most epochs one configuration trains
    scheduler: str  # "asha" stops poor configurations early; "fifo" never does
    grace_period: int  # epochs every configuration gets before ASHA may stop it
    reduction_factor: int  # ASHA keeps the best 1/reduction_factor at each rung
    seed: int  # of the search (which configurations are sampled)
    #: the arm's own values of the space's parameters, tried before any sampled ones
    #: (empty: every configuration is sampled)
    first: tuple[tuple[str, Any], ...] = ()

    def identity(self) -> dict[str, Any]:
        out = {"schema": TUNING_SCHEMA, "space": {d.target: d.as_dict() for d in self.space},
               "configurations": self.configurations, "max_epochs": self.max_epochs,
               "scheduler": self.scheduler, "grace_period": self.grace_period,
               "reduction_factor": self.reduction_factor, "seed": self.seed}
        # only when set: searches of every configuration sampled keep their keys
        return {**out, "first": dict(self.first)} if self.first else out


@dataclass(frozen=True)
class SweepPoint:
    """Where an arm sits on a benchmark's sweep: the arm as written (``base``), run on
    the data set with the swept ``axis`` (``snr``, ``imbalance``) at ``value``."""

    axis: str
    value: float
    base: str


@dataclass(frozen=True)
class Arm:
    """A named combination of components; one or more class subsets of the data set."""

    name: str
    model: ComponentSpec
    sampler: ComponentSpec
    loss: ComponentSpec
    augment: tuple[ComponentSpec, ...]
    ensemble: ComponentSpec
    datasets: tuple[DatasetSpec, ...]
    train: TrainConfig
    capabilities: Capabilities = Capabilities()  # of the model
    tune: TuneSpec | None = None  # tuned per seed on the validation part before training
    sweep: SweepPoint | None = None  # one point of the benchmark's sweep
    #: ``[train] augment``: the training recipe's augmentations, every arm's before its
    #: own ``augment`` (which is its strategy); for models that train on batches
    recipe: tuple[ComponentSpec, ...] = ()
    #: no imbalance strategy: the sampler, loss, augmentations and ensemble all declare
    #: ``plain`` (set from the registry when the file is read)
    plain: bool = False

    @property
    def batch_recipe(self) -> tuple[ComponentSpec, ...]:
        """The recipe's augmentations where the model trains on batches (none where it
        fits on its own)."""
        return self.recipe if self.capabilities.uses_augmentations else ()

    @property
    def family(self) -> str:
        """The arm as the file names it: the same for every point of a sweep."""
        return self.sweep.base if self.sweep else self.name

    @property
    def is_plain(self) -> bool:
        """No imbalance strategy (every component but the model declares itself plain):
        a baseline a strategy is compared with."""
        return self.plain


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    seeds: tuple[int, ...]
    primary_metric: str
    dataset: DatasetSpec
    split: SplitConfig
    train: TrainConfig
    resources: Resources
    arms: tuple[Arm, ...]
    reference: dict[str, dict[str, float]] = field(hash=False)
    reference_citation: str = ""
    #: the paper's per-path figures (Table III): class -> [(F1, G-mean) per path], in
    #: the order of the multi-path arm's ``paths``
    reference_paths: dict[str, tuple[tuple[float, float], ...]] = field(
        default_factory=dict, hash=False)
    path: Path | None = None
    profile: str | None = None
    #: ``[report] baseline``: the arm every other is compared with; None: the first
    #: plain arm
    baseline: str | None = None


Configurable = TypeVar("Configurable")  # an Arm or a TrialSpec: train and the components


def values_of(obj: Configurable, targets: list[str]) -> dict[str, Any]:
    """What ``obj`` sets these parameters to (``"train.lr"``, ``"loss.gamma"``): the
    configuration it is untuned; the inverse of :func:`with_values`."""
    out = {}
    for target in targets:
        field_, _, param = target.partition(".")
        if field_ == "train":
            out[target] = getattr(obj.train, param)  # type: ignore[attr-defined]
        elif field_ == "augment":
            out[target] = next(a.params[param] for a in obj.augment  # type: ignore[attr-defined]
                               if param in a.params)
        else:
            out[target] = getattr(obj, field_).params[param]
    return out


def with_values(obj: Configurable, values: dict[str, Any]) -> Configurable:
    """``obj`` with some parameters set (``"train.lr"``, ``"loss.gamma"``): a tuned
    configuration. An augmentation's parameter goes to the augmentation that has it
    (validation made sure only one does)."""
    by_field: dict[str, dict[str, Any]] = {}
    for target, value in values.items():
        field_, _, param = target.partition(".")
        by_field.setdefault(field_, {})[param] = value
    changes: dict[str, Any] = {}
    if "train" in by_field:
        changes["train"] = replace(obj.train, **by_field["train"])  # type: ignore[attr-defined]
    for field_ in ("model", "sampler", "loss", "ensemble"):
        if field_ in by_field:
            spec = getattr(obj, field_)
            changes[field_] = replace(spec, params={**spec.params, **by_field[field_]})
    if "augment" in by_field:
        changes["augment"] = tuple(
            replace(a, params={**a.params, **{k: v for k, v in by_field["augment"].items()
                                              if k in a.params}})
            for a in obj.augment)  # type: ignore[attr-defined]
    return replace(obj, **changes)  # type: ignore[type-var]
