"""Benchmark files: TOML -> validated, frozen objects. Every error names file and key path."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from cryobench.components import ArmSetup
from cryobench.errors import (
    ConfigError, CryobenchError, ParamError, UnknownParamError, unknown_name_message,
)
from cryobench.files import read_text
from cryobench.metrics import METRICS
from cryobench.params import SEED_MAX, Param, resolve_params
from cryobench.registry import Registry
from cryobench.run.results import SIDE_FILES
from cryobench.search_space import (
    BUDGET_KEYS, TUNE_PARAMS, arm_space, declared_params, parse_space, tune_spec,
)
from cryobench.specs import (
    Arm, Benchmark, ComponentSpec, DatasetSpec, Resources, SearchDimension, SplitConfig,
    SweepPoint, TrainConfig, TuneSpec, with_values,
)
from cryobench.train.precision import PRECISIONS, resolve_precision

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BENCHMARK_PARAMS = (
    Param("name", str, None, "benchmark name (MLflow experiment)"),
    Param("description", str, "", "one line shown in listings"),
    Param("seeds", list, [0, 1, 2, 3, 4], "split and training seeds", items=int, low=0,
          high=SEED_MAX, min_len=1, unique=True),
    Param("primary_metric", str, "macro_f1", "metric that ranks arms", choices=METRICS),
)
SPLIT_PARAMS = (
    Param("method", str, "holdout", "one stratified split per seed, or k folds",
          choices=("holdout", "kfold")),
    Param("test_fraction", float, 0.2, "share of particles held out for testing",
          low=0.05, high=0.5),
    Param("val_fraction", float, 0.1, "share of the training part used for early stopping",
          low=0.0, high=0.5),
    Param("folds", int, 5, "folds for method = 'kfold'", low=2, high=20),
)
TRAIN_PARAMS = (
    Param("max_epochs", int, 30, "epoch budget", low=1),
    Param("batch_size", int, 32, "mini-batch size (batch norm needs two)", low=2),
    Param("optimizer", str, "adam", "optimiser", choices=("adam", "adamw", "sgd")),
    Param("lr", float, 1e-3, "learning rate", low=1e-12),
    Param("weight_decay", float, 1e-4, "L2 penalty", low=0.0),
    Param("momentum", float, 0.9, "SGD momentum", low=0.0, high=1.0),
    Param("schedule", str, "cosine", "learning-rate schedule",
          choices=("constant", "cosine", "step")),
    Param("patience", int, 0, "epochs without validation gain before stopping (0: never; "
          "the whole budget, the best validation epoch kept: docs/protocol.md)", low=0),
    Param("monitor", str, "val_macro_f1", "what early stopping and `restore = \"best\"` "
          "watch on the validation part", choices=("val_macro_f1", "val_loss")),
    Param("restore", str, "best", "weights kept at the end: the best epoch on validation, "
          "or the last one trained (where early stopping stopped, if it did)",
          choices=("best", "last")),
    Param("device", str, "auto", "where to train", choices=("auto", "cpu", "cuda")),
    Param("eval_batch_size", int, 128, "batch size for prediction", low=1),
    Param("precision", str, "auto", "what the forward passes compute in: auto is bfloat16 "
          "on CUDA and on CPUs with native bf16 (AVX512_BF16, AMX), float32 elsewhere",
          choices=PRECISIONS),
)
RESOURCE_PARAMS = (
    Param("cpus_per_trial", float, 2.0, "CPU cores per trial", low=0.1),
    Param("gpus_per_trial", float, 0.0, "GPUs per trial; fractions share a GPU", low=0.0),
    Param("max_concurrent", int, 0, "trials at once (0: as many as resources allow)", low=0),
)

TOP_LEVEL = ("benchmark", "dataset", "split", "train", "resources", "tune", "sweep", "arm",
             "reference", "profile")
PROFILE_KEYS = ("benchmark", "dataset", "split", "train", "resources", "tune", "sweep", "arms",
                "components")
SWEEP_HELP = ("one swept quantity: `imbalance = [1, 10, 50]` (largest : rarest class, the "
              "total kept) or a data-source parameter, `\"dataset.snr\" = [0.1, 0.01]`")
ARM_KEYS = ("name", "model", "sampler", "loss", "augment", "ensemble", "dataset", "train",
            "tune")
ARM_DEFAULTS = {"sampler": "none", "loss": "ce", "augment": "none", "ensemble": "none"}
ARM_KINDS = {"model": "model", "sampler": "sampler", "loss": "loss", "augment": "augmentation",
             "ensemble": "ensemble"}


# --- loading -------------------------------------------------------------------------------

#: Particles per class of a data source, when it can tell before loading (``None``: not).
ClassCounts = Callable[[ComponentSpec], "dict[str, int] | None"]


def load_benchmark(path: str | Path, registry: Registry, profile: str | None = None, *,
                   inspect_data: bool = True) -> Benchmark:
    """Read, apply a profile, and validate a benchmark file.

    With ``inspect_data``, data sources that can tell their classes cheaply (a label
    file, the simulator's parameters) are asked, so that class subsets and per-class
    needs are checked before any work.
    """
    path = Path(path)
    text = read_text(path, "a benchmark file")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(path, "", "not a benchmark file: its tables or arrays nest too "
                                    "deeply to read") from None
    counts = source_class_counts(registry, path.parent) if inspect_data else None
    return parse_benchmark(raw, registry, path=path, profile=profile, class_counts=counts)


def source_class_counts(registry: Registry, base_dir: Path) -> ClassCounts:
    """Ask each distinct data source once for its class counts."""
    from cryobench.components import DataContext
    from cryobench.data.cache import cache_root

    memo: dict[str, dict[str, int] | None] = {}

    def counts(spec: ComponentSpec) -> dict[str, int] | None:
        key = json.dumps(spec.as_dict(), sort_keys=True, default=str)
        if key not in memo:
            source = spec.build(registry)
            memo[key] = source.count_classes(DataContext(base_dir, cache_root()))
        return memo[key]

    return counts


def parse_benchmark(
    raw: dict[str, Any], registry: Registry, *, path: Path | None = None,
    profile: str | None = None, class_counts: ClassCounts | None = None,
) -> Benchmark:
    """Validate an already-parsed document (the TOML file's tables).

    Every profile is validated too, selected or not (a mistake in the quick profile is
    found before the user needs it); an error in a value a profile gave names the
    profile's key (``profile.quick.train.lr``).
    """
    v = _Validator(path, registry, class_counts)
    v.keys("", raw, TOP_LEVEL)
    v.file_arms = {a.get("name") for a in raw.get("arm", []) if isinstance(a, dict)} \
        if isinstance(raw.get("arm"), list) else set()
    profiles = v.table("profile", raw.get("profile", {}))
    for name, body in profiles.items():
        v.file_name(f"profile.{name}", name, "profile name")
        v.table(f"profile.{name}", body)
        v.keys(f"profile.{name}", body, PROFILE_KEYS)
    if profile is not None and profile not in profiles:
        v.fail("profile", unknown_name_message("profile", profile, profiles))
    for name in profiles if profile is None else []:
        _parse(v, raw, name)
    return _parse(v, raw, profile)


def _parse(v: _Validator, raw: dict[str, Any], profile: str | None) -> Benchmark:
    doc = {k: val for k, val in raw.items() if k != "profile"}
    arm_indices = list(range(len(doc["arm"]))) if isinstance(doc.get("arm"), list) else []
    given: set[tuple[str, str]] = set()
    v.overrides = {}
    if profile is not None:
        body = raw["profile"][profile]
        doc, arm_indices = v.apply_profile(doc, body, f"profile.{profile}")
        given = {(table, key) for table, values in body.items()
                 if table not in ("arms", "components") for key in values}
        v.overrides = v.component_overrides(f"profile.{profile}.components",
                                            body.get("components", {}))
    try:
        bench = _build(v, doc, arm_indices, profile)
    except ConfigError as exc:
        table, _, rest = exc.key.partition(".")
        field_, _, param = rest.partition(".")
        if (table, rest.split(".")[0].partition("[")[0]) in given or (table == "sweep" and any(
                t == "sweep" for t, _ in given)):
            raise ConfigError(exc.file, f"profile.{profile}.{exc.key}", exc.message) from None
        if table.startswith("arm[") and param in v.overrides.get(field_, {}):
            raise ConfigError(exc.file, f"profile.{profile}.components.{field_}.{param}",
                              exc.message) from None
        raise
    v.check_overrides_used(f"profile.{profile}.components", bench)
    return bench


def _without_recipe(train: Any) -> Any:
    """``[train]`` less its ``augment`` (the recipe's augmentations, components)."""
    return {k: v for k, v in train.items() if k != "augment"} if isinstance(train, dict) \
        else train


def train_config(params: dict[str, Any]) -> TrainConfig:
    """``[train]`` with its precision resolved on this machine (the trial key says it)."""
    return TrainConfig(**{**params, "precision": resolve_precision(params["precision"],
                                                                   params["device"])})


def _build(v: _Validator, doc: dict[str, Any], arm_indices: list[int],
           profile: str | None) -> Benchmark:
    bench = v.params("benchmark", doc.get("benchmark"), BENCHMARK_PARAMS)
    v.file_name("benchmark.name", bench["name"], "name")
    dataset = v.dataset("dataset", doc.get("dataset"))
    split = SplitConfig(**v.params("split", doc.get("split", {}), SPLIT_PARAMS))
    train_raw = doc.get("train", {})
    train = train_config(v.params("train", _without_recipe(train_raw), TRAIN_PARAMS))
    resources = Resources(**v.params("resources", doc.get("resources", {}), RESOURCE_PARAMS))
    v.search = v.tune_table(doc.get("tune"), train)
    if v.search is not None and split.val_fraction == 0:
        v.fail("split.val_fraction", "tuning chooses on the validation part: give it a "
                                     "share, e.g. 0.1 (the test split is never used)")
    arms = v.arms(doc.get("arm"), arm_indices, dataset, train_raw, split)
    v.check_space_used(arms)
    citation, reference = v.reference(doc.get("reference", {}), arms)
    if doc.get("sweep") is not None:
        arms = v.sweep(doc["sweep"], arms, split)
    reference_paths = v.reference_paths(doc.get("reference", {}).get("paths", {}))
    return Benchmark(
        name=bench["name"], description=bench["description"], seeds=tuple(bench["seeds"]),
        primary_metric=bench["primary_metric"], dataset=dataset, split=split, train=train,
        resources=resources, arms=arms, reference=reference, reference_citation=citation,
        reference_paths=reference_paths, path=v.path, profile=profile,
    )


class _Validator:
    """Carries the file name so that every check can raise a one-line ConfigError."""

    def __init__(self, path: Path | None, registry: Registry,
                 class_counts: ClassCounts | None) -> None:
        self.path, self.registry, self.class_counts = path, registry, class_counts
        #: a profile's parameters for every arm's components, by arm field
        self.overrides: dict[str, dict[str, Any]] = {}
        #: every arm the file names, before a profile picks some
        self.file_arms: set[Any] = set()
        self.tune_epochs = 0  # the epochs every arm's configurations train
        self.dimension_keys: dict[str, str] = {}  # where the current arm's dimensions come from
        #: the [tune] table: its budget and its space (None: no tuning)
        self.search: tuple[dict[str, Any], dict[str, SearchDimension]] | None = None

    def fail(self, key: str, message: str) -> NoReturn:
        raise ConfigError(self.path, key, message)

    def table(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {type(value).__name__}")
        return value

    def keys(self, key: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for k in table:
            if k not in allowed:
                where = f"{key}.{k}" if key else k
                what = f"key in [{key}]" if key else "table"
                self.fail(where, unknown_name_message(what, k, allowed))

    def params(self, key: str, table: Any, declared: tuple[Param, ...]) -> dict[str, Any]:
        if table is None:
            table = {}
        self.table(key, table)
        try:
            return resolve_params(declared, table)
        except UnknownParamError as exc:
            self.fail(f"{key}.{exc.param}",
                      unknown_name_message(f"key in [{key}]", exc.param, exc.valid))
        except ParamError as exc:
            self.fail(f"{key}.{exc.param}", exc.problem)

    def file_name(self, key: str, name: str, what: str) -> None:
        """Names that name result files (the benchmark's, a profile's): a file name,
        never a path, and nothing a terminal would not show."""
        problem = self.printable_problem(name)
        if not problem and (name in (".", "..") or any(c in name for c in "/\\")):
            problem = "is a path; a file name is needed"
        if not problem and name.rpartition(".")[2] in SIDE_FILES:  # would share their file
            problem = (f"ends in {name.rpartition('.')[2]!r}, the name of a file kept beside "
                       "the results")
        if problem:
            self.fail(key, f"{what} {name!r} {problem} (it names the result files); use "
                           "letters, digits, spaces, '-', '_' or '.'")

    @staticmethod
    def printable_problem(name: str) -> str | None:
        if not name.strip():
            return "is empty"
        if not name.isprintable():
            return "contains control or invisible characters"
        if len(name) > 200:
            return "is longer than 200 characters"
        return None

    def component_overrides(self, key: str, table: Any) -> dict[str, dict[str, Any]]:
        """``components = { ensemble = { members = 2 } }``: parameters a profile gives
        every arm's component of that field that declares them (smaller ensembles,
        shorter GP runs for a smoke run)."""
        self.table(key, table)
        self.keys(key, table, tuple(ARM_KINDS))
        return {field_: dict(self.table(f"{key}.{field_}", values))
                for field_, values in table.items()}

    def check_overrides_used(self, key: str, bench: Benchmark) -> None:
        """A profile parameter that no arm's component declares is a mistake."""
        for field_, values in self.overrides.items():
            declared = {p.name for arm in bench.arms
                        for spec in ((*arm.augment, *arm.recipe) if field_ == "augment"
                                     else (getattr(arm, field_),))
                        for p in self.registry.get(spec.kind, spec.name).params}
            for name in values:
                if name not in declared:
                    self.fail(f"{key}.{field_}.{name}", unknown_name_message(
                        f"parameter of the arms' {field_}", name, declared))

    def component(self, key: str, kind: str, value: Any, default: str | None = None,
                  field_: str = "") -> ComponentSpec:
        if isinstance(value, str):
            name, given = value, {}
        elif isinstance(value, dict):
            given = dict(value)
            name = given.pop("name", None)
            if not isinstance(name, str):
                self.fail(f"{key}.name", "an inline component table needs name = \"...\"")
        else:
            self.fail(key, f"expected a plugin name or a table with `name`, got {value!r}")
        if name == default:
            self.fail_as(key, lambda: self.registry.require(kind, name, "default"))
        if name not in self.registry.names(kind):
            self.fail(key, unknown_name_message(kind.replace("_", " "), name,
                                                self.registry.names(kind)))
        info = self.registry.info(kind, name)
        declared = {p.name for p in info.cls.params}
        given.update({k: v for k, v in self.overrides.get(field_, {}).items() if k in declared})
        return ComponentSpec(kind, name, self.params(key, given, info.cls.params), info.code)

    def fail_as(self, key: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; a user error it raises becomes this file's error at ``key``."""
        try:
            return action()
        except CryobenchError as exc:
            self.fail(key, str(exc))

    def dataset(self, key: str, table: Any) -> DatasetSpec:
        if table is None:
            self.fail(key, f"missing table [{key}]")
        table = dict(self.table(key, table))
        if "source" not in table:
            self.fail(f"{key}.source", "missing; name a data source plugin, e.g. 'synthetic'")
        source = table.pop("source")
        classes = table.pop("classes", None)
        spec = self.component(key, "data_source", {"name": source, **table})
        return DatasetSpec(spec, self.class_list(f"{key}.classes", classes))

    def class_list(self, key: str, value: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not (isinstance(value, list) and value and all(isinstance(c, str) for c in value)):
            self.fail(key, f"expected a non-empty list of class names, got {value!r}")
        if len(set(value)) != len(value) or len(value) < 2:
            self.fail(key, "needs at least two distinct class names")
        return tuple(value)

    def arm_datasets(self, key: str, override: Any, base: DatasetSpec) -> tuple[DatasetSpec, ...]:
        if override is None:
            return (base,)
        override = dict(self.table(key, override))
        classes = override.pop("classes", base.classes)
        source = override.pop("source", base.source.name)
        params = {**(base.source.params if source == base.source.name else {}), **override}
        merged = self.dataset(key, {"source": source, **params})
        nested = isinstance(classes, list) and classes and isinstance(classes[0], list)
        subsets = classes if nested else [classes]
        return tuple(
            DatasetSpec(merged.source, self.class_list(f"{key}.classes", s)) for s in subsets
        )

    def arms(self, arms: Any, indices: list[int], dataset: DatasetSpec,
             train_raw: dict[str, Any], split: SplitConfig) -> tuple[Arm, ...]:
        if not isinstance(arms, list) or not arms:
            self.fail("arm", "needs at least one [[arm]] table")
        out: list[Arm] = []
        seen: dict[str, int] = {}
        for i, arm in zip(indices, arms):
            key = f"arm[{i}]"
            self.table(key, arm)
            self.keys(key, arm, ARM_KEYS)
            name = arm.get("name")
            if not isinstance(name, str) or not name:
                self.fail(f"{key}.name", f"every arm needs a name (a string), got {name!r}")
            problem = self.printable_problem(name)
            if problem:
                self.fail(f"{key}.name", f"arm name {name!r} {problem}")
            if name in seen:
                self.fail(f"{key}.name", f"duplicate arm name {name!r} (also arm[{seen[name]}])")
            alike = same_but_spacing_or_case(name, seen)
            if alike is not None:
                self.fail(f"{key}.name", f"arm name {name!r} differs from arm[{seen[alike]}]'s "
                                         f"{alike!r} only in spaces or case; the leaderboard, "
                                         "the report and MLflow would show two arms that read "
                                         "alike: rename one")
            seen[name] = i
            out.append(self.arm(key, arm, dataset, train_raw, split))
        return tuple(out)

    def arm(self, key: str, arm: dict[str, Any], dataset: DatasetSpec,
            train_raw: dict[str, Any], split: SplitConfig) -> Arm:
        if "model" not in arm:
            self.fail(f"{key}.model", "missing; name a model plugin")
        specs = {
            field_: self.component(f"{key}.{field_}", kind,
                                   arm.get(field_, ARM_DEFAULTS.get(field_)),
                                   ARM_DEFAULTS.get(field_), field_)
            for field_, kind in ARM_KINDS.items() if field_ != "augment"
        }
        augments = self.augmentations(f"{key}.augment",
                                      arm.get("augment", ARM_DEFAULTS["augment"]))
        train_over = self.table(f"{key}.train", arm.get("train", {}))
        merged = {**train_raw, **train_over}
        where = f"{key}.train.augment" if "augment" in train_over else "train.augment"
        recipe = tuple(a for a in self.augmentations(where, merged.get("augment", []))
                       if a.name != ARM_DEFAULTS["augment"])
        train = train_config(self.params(f"{key}.train", _without_recipe(merged),
                                         TRAIN_PARAMS))
        datasets = self.arm_datasets(f"{key}.dataset", arm.get("dataset"), dataset)
        capabilities = self.registry.get("model", specs["model"].name).capabilities
        result = Arm(name=arm["name"], augment=augments, train=train, datasets=datasets,
                     capabilities=capabilities, recipe=recipe, **specs)
        self.check_uses(key, result)
        if "augment" in train_over and recipe and not capabilities.uses_augmentations:
            self.fail(f"{key}.train.augment", f"model {specs['model'].name!r} does not train "
                                              "on batches, so it cannot be augmented; remove "
                                              "the augmentation")
        result = replace(result, tune=self.arm_tune(f"{key}.tune", arm.get("tune"), result))
        self.check_datasets(key, f"{key}.dataset" if "dataset" in arm else "dataset", result,
                            split)
        return result

    def augmentations(self, key: str, value: Any) -> tuple[ComponentSpec, ...]:
        """One augmentation or a list of them (applied in order)."""
        listed = isinstance(value, list)
        return tuple(
            self.component(f"{key}[{j}]" if listed else key, "augmentation", a,
                           ARM_DEFAULTS["augment"], "augment")
            for j, a in enumerate(value if listed else [value]))

    def check_datasets(self, key: str, where: str, arm: Arm, split: SplitConfig) -> None:
        """Each class subset of the arm: its classes exist, the split can be made, and
        every component (and tuned configuration) accepts the setup."""
        for subset in arm.datasets:
            counts = self.subset_counts(where, subset)
            if counts is not None:
                self.check_split(where, counts, split)
            self.check_setup(key, arm, ArmSetup(arm.capabilities, split, arm.train, counts))
            self.check_tuned_setups(key, arm, split, counts)

    def sweep(self, table: Any, arms: tuple[Arm, ...], split: SplitConfig) -> tuple[Arm, ...]:
        """Every arm at every swept value (value by value, arms in file order), named
        ``"<arm> @ <axis> <value>"``; each point's data set checked like an arm's."""
        table = self.table("sweep", table)
        if len(table) != 1:
            self.fail("sweep", f"expected {SWEEP_HELP}; got {len(table)} keys")
        ((name, values),) = table.items()
        key = f"sweep.{name}"
        numbers = isinstance(values, list) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in values)
        if not numbers or len(values) < 2:
            self.fail(key, f"expected a list of at least two numbers, got {values!r}")
        if len(set(values)) != len(values):
            self.fail(key, f"a value is listed twice: {values!r}")
        if name == "imbalance":
            if min(values) < 1:
                self.fail(key, f"got {min(values)!r}: an imbalance is the largest class's "
                               "count over the rarest's, at least 1 (1: balanced)")
            axis = name
        elif name.startswith("dataset.") and name != "dataset.":
            axis = name.removeprefix("dataset.")
            if axis in ("source", "classes"):
                self.fail(key, f"{axis!r} is not a number to sweep; {SWEEP_HELP}")
        else:
            self.fail(key, f"cannot sweep {name!r}: {SWEEP_HELP}")
        if name == "imbalance":
            subsets = [a.name for a in arms if any(d.classes for d in a.datasets)]
            if subsets:
                self.fail(key, f"arm {subsets[0]!r} takes a class subset: an imbalance is "
                               "set over all of the data set's classes, so its ratio would "
                               "not be the subset's; sweep without class subsets")
        out: list[Arm] = []
        for value in values:
            shown = f"{value:g}" if float(f"{value:g}") == float(value) else repr(float(value))
            for arm in arms:
                datasets = tuple(self.swept_dataset(key, d, name, value) for d in arm.datasets)
                point = replace(arm, name=f"{arm.name} @ {axis} {shown}", datasets=datasets,
                                sweep=SweepPoint(axis, float(value), arm.name))
                if point.name in {a.name for a in (*out, *arms)}:
                    self.fail(key, f"the sweep names two arms {point.name!r}; rename one")
                self.check_datasets(key, key, point, split)
                out.append(point)
        return tuple(out)

    def swept_dataset(self, key: str, dataset: DatasetSpec, name: str, value: float
                      ) -> DatasetSpec:
        source = dataset.source
        if name == "imbalance":
            built = self.fail_as(key, lambda: source.build(self.registry))
            change = built.imbalanced(float(value))
            if change is None:
                self.fail(key, f"data source {source.name!r} cannot change its class "
                               "counts; sweep one of its parameters instead")
        else:
            param = name.removeprefix("dataset.")
            declared = {p.name for p in self.registry.get("data_source", source.name).params}
            if param not in declared:
                self.fail(key, unknown_name_message(
                    f"parameter of data source {source.name!r}", param, declared))
            change = {param: value}
        try:
            params = resolve_params(self.registry.get("data_source", source.name).params,
                                    {**source.params, **change})
        except ParamError as exc:
            self.fail(key, f"{value!r}: {exc.problem}")
        return replace(dataset, source=replace(source, params=params))

    def check_tuned_setups(self, key: str, arm: Arm, split: SplitConfig,
                           counts: dict[str, int] | None) -> None:
        """Each dimension's ends, one at a time, through the components' own checks: a
        range that reaches a value the component refuses is found now. (Combinations
        are checked by each configuration before it trains.)"""
        for dim in arm.tune.space if arm.tune else ():
            for value in dim.values:  # the bounds, or every choice
                variant = with_values(arm, {dim.target: value})
                try:
                    self.check_setup(key, variant, ArmSetup(arm.capabilities, split,
                                                            variant.train, counts))
                except ConfigError as exc:
                    self.fail(self.dimension_keys[dim.target],
                              f"{dim.target} = {value!r} is refused: {exc.message}")

    def tune_table(self, table: Any, train: TrainConfig
                   ) -> tuple[dict[str, Any], dict[str, SearchDimension]] | None:
        """The budget every arm shares and the benchmark-wide space."""
        if table is None:
            return None
        table = self.table("tune", table)
        budget = self.params("tune", {k: x for k, x in table.items() if k != "space"},
                             TUNE_PARAMS)
        self.tune_epochs = budget["max_epochs"] or train.max_epochs
        self.check_grace("tune.grace_period", budget, self.tune_epochs)
        if budget["configurations"] == 1 and budget["include_file_values"]:
            self.fail("tune.configurations", "one configuration is the file's own values "
                                             "(include_file_values), so nothing would be "
                                             "tuned: give 2 or more, or set "
                                             "include_file_values = false")
        return budget, parse_space("tune.space", table.get("space", {}), self.fail)

    def check_grace(self, key: str, budget: dict[str, Any], epochs: int) -> None:
        """ASHA's rungs lie before the last epoch: the grace period must leave room."""
        if budget["scheduler"] == "asha" and budget["grace_period"] >= epochs:
            self.fail(key, f"{budget['grace_period']} epochs of grace leave ASHA nothing to "
                           f"judge before the last of the {epochs} epochs a configuration "
                           "trains; lower it, or use scheduler = \"fifo\"")

    def arm_tune(self, key: str, value: Any, arm: Arm) -> TuneSpec | None:
        """The arm's search: the benchmark's space where the arm declares it, with the
        arm's own ``tune = { space = ... }`` added; ``tune = false`` leaves it untuned."""
        if value is False or (value is None and self.search is None):
            return None
        if value is not None:
            self.table(key, value)
            for name in value:
                if name in BUDGET_KEYS:
                    self.fail(f"{key}.{name}", "every arm gets the same budget: set "
                                               f"{name} in [tune]")
            self.keys(key, value, ("space",))
            if self.search is None:
                self.fail(key, "needs a [tune] table: the budget every arm shares "
                               "(configurations, max_epochs)")
        assert self.search is not None
        budget, shared = self.search
        declared = declared_params(arm, self.registry, TRAIN_PARAMS)
        own = parse_space(f"{key}.space", (value or {}).get("space", {}), self.fail)
        space = {d.target: d for d in arm_space("tune.space", shared, declared, self.fail,
                                                required=False)}
        space.update({d.target: d for d in arm_space(f"{key}.space", own, declared,
                                                     self.fail, required=True)})
        self.dimension_keys = {t: f"{key}.space.{t}" if t in own else f"tune.space.{t}"
                               for t in space}
        spec = tune_spec(tuple(space.values()), budget, arm)
        if spec is not None and budget["max_epochs"] is None \
                and spec.max_epochs != self.tune_epochs:
            self.fail(f"{key}", f"this arm trains {spec.max_epochs} epochs and the file "
                                f"{self.tune_epochs}: set [tune] max_epochs, so that every "
                                "arm's configurations get the same budget")
        return spec

    def check_space_used(self, arms: tuple[Arm, ...]) -> None:
        """A benchmark-wide dimension that no arm declares is a mistake (checked on the
        whole file: a profile that picks arms may leave a dimension's arms out)."""
        if self.search is None or len(arms) < len(self.file_arms):
            return
        tuned = {d.target for arm in arms if arm.tune for d in arm.tune.space}
        for target in self.search[1]:
            if target not in tuned:
                self.fail(f"tune.space.{target}", f"no arm declares {target!r}: check the "
                                                  "name, or move it to the arm that has it")

    def check_uses(self, key: str, arm: Arm) -> None:
        """Settings the arm gives that its model would silently ignore."""
        uses, model = arm.capabilities, arm.model.name
        if not uses.uses_loss and arm.loss.name != ARM_DEFAULTS["loss"]:
            self.fail(f"{key}.loss", f"model {model!r} does not train with a loss (it fits on "
                                     "its own); remove the loss or choose a model that does")
        if not uses.uses_augmentations and any(
                a.name != ARM_DEFAULTS["augment"] for a in arm.augment):
            self.fail(f"{key}.augment", f"model {model!r} does not train on batches, so it "
                                        "cannot be augmented; remove the augmentation")

    def subset_counts(self, key: str, subset: DatasetSpec) -> dict[str, int] | None:
        """The subset's class counts when the source can tell; its classes must exist."""
        if self.class_counts is None:
            return None
        counts = self.fail_as(key, lambda: self.class_counts(subset.source))
        if counts is None:
            return None
        for name in subset.classes or ():
            if name not in counts:
                self.fail(f"{key}.classes", unknown_name_message(
                    f"class of data source {subset.source.name!r}", name, counts))
        if subset.classes:
            counts = {name: counts[name] for name in subset.classes}
        if len(counts) < 2:
            self.fail(key, f"the data set has {len(counts)} class ({', '.join(counts)}); "
                           "classifying needs at least two")
        return counts

    def check_split(self, key: str, counts: dict[str, int], split: SplitConfig) -> None:
        """The split a trial will make, tried on the class counts: a class too small for
        it is found now, not after the data is simulated or read."""
        import numpy as np

        from cryobench.data.splits import holdout_split, kfold_split

        labels = np.repeat(np.arange(len(counts)), list(counts.values()))
        names = tuple(counts)
        try:
            if split.method == "kfold":
                kfold_split(labels, split.folds, 0, split.val_fraction, 0, names)
            else:
                holdout_split(labels, split.test_fraction, split.val_fraction, 0, names)
        except CryobenchError as exc:
            self.fail(key, str(exc))

    def check_setup(self, key: str, arm: Arm, setup: ArmSetup) -> None:
        """Each component's own refusal of a setup it cannot work in."""
        fields = [("model", arm.model), ("sampler", arm.sampler), ("loss", arm.loss),
                  *[("augment", a) for a in arm.augment], ("ensemble", arm.ensemble),
                  *[("train.augment", a) for a in arm.batch_recipe]]
        for field_, spec in fields:
            component = self.fail_as(f"{key}.{field_}", lambda: spec.build(self.registry))
            try:
                component.check_setup(setup)
            except ParamError as exc:
                where = f"{key}.{field_}" + (f".{exc.param}" if exc.param else "")
                self.fail(where, exc.problem)

    def reference(self, table: Any, arms: tuple[Arm, ...]) -> tuple[str, dict[str, dict[str, float]]]:
        self.table("reference", table)
        self.keys("reference", table, ("citation", "arms", "paths"))
        citation = table.get("citation", "")
        if not isinstance(citation, str):
            self.fail("reference.citation", "expected a string")
        figures = self.table("reference.arms", table.get("arms", {}))
        names = [a.name for a in arms]
        out: dict[str, dict[str, float]] = {}
        for arm_name, values in figures.items():
            key = f"reference.arms.{arm_name}"
            if arm_name not in names and arm_name in self.file_arms:
                continue  # an arm the profile leaves out
            if arm_name not in names:
                self.fail(key, unknown_name_message("arm", arm_name, names))
            self.table(key, values)
            self.keys(key, values, METRICS)
            for metric, value in values.items():
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 100:
                    self.fail(f"{key}.{metric}", f"expected a percentage in [0, 100], got {value!r}")
            out[arm_name] = {m: float(x) for m, x in values.items()}
        return citation, out

    def reference_paths(self, table: Any) -> dict[str, tuple[tuple[float, float], ...]]:
        """``class = [[F1, G-mean], ...]``, one pair per path, in percent."""
        self.table("reference.paths", table)
        out = {}
        for name, pairs in table.items():
            key = f"reference.paths.{name}"
            ok = isinstance(pairs, list) and pairs and all(
                isinstance(p, list) and len(p) == 2 and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 100
                    for x in p) for p in pairs)
            if not ok:
                self.fail(key, f"expected a list of [F1, G-mean] pairs in percent, got {pairs!r}")
            out[name] = tuple((float(f), float(g)) for f, g in pairs)
        return out

    def apply_profile(self, doc: dict[str, Any], profile: Any, key: str
                      ) -> tuple[dict[str, Any], list[int]]:
        """The document with the profile's tables merged in; the arms it keeps, with
        their positions in the file (so that errors name the arm the user wrote)."""
        self.table(key, profile)
        doc = copy.deepcopy(doc)
        arms = doc.get("arm", []) if isinstance(doc.get("arm"), list) else []
        indices = list(range(len(arms)))
        for table, values in profile.items():
            if table == "components":
                continue  # applied to each arm's components as they are built
            if table == "arms":
                names = [a.get("name") if isinstance(a, dict) else None for a in arms]
                if not (isinstance(values, list) and values
                        and all(isinstance(n, str) for n in values)):
                    self.fail(f"{key}.arms", f"expected a non-empty list of arm names, got "
                                             f"{values!r}")
                for n in values:
                    if n not in names:
                        self.fail(f"{key}.arms", unknown_name_message("arm", n, names))
                indices = [i for i in indices if names[i] in values]
                doc["arm"] = [arms[i] for i in indices]
            elif table == "sweep":  # one quantity: the profile's replaces the file's
                doc[table] = self.table(f"{key}.{table}", values)
            else:
                self.table(f"{key}.{table}", values)
                doc[table] = {**doc.get(table, {}), **values}
        return doc, indices


def same_but_spacing_or_case(name: str, names: Any) -> str | None:
    """The first of ``names`` that reads as ``name`` once spaces and case are ignored."""
    def folded(text: str) -> str:
        return "".join(text.split()).casefold()

    return next((other for other in names if folded(other) == folded(name)), None)
