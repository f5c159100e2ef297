"""Benchmark files: TOML -> validated, frozen objects. Every error names file and key path."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from cryobench.errors import (
    ConfigError, CryobenchError, ParamError, UnknownParamError, unknown_name_message,
)
from cryobench.metrics import METRICS
from cryobench.params import SEED_MAX, Param, resolve_params
from cryobench.registry import Registry
from cryobench.specs import (
    Arm, Benchmark, ComponentSpec, DatasetSpec, Resources, SplitConfig, TrainConfig,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BENCHMARK_PARAMS = (
    Param("name", str, None, "benchmark name (MLflow experiment)"),
    Param("description", str, "", "one line shown in listings"),
    Param("seeds", list, [0, 1, 2, 3, 4], "split and training seeds", items=int, low=0),
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
    Param("batch_size", int, 32, "mini-batch size", low=1),
    Param("optimizer", str, "adam", "optimiser", choices=("adam", "adamw", "sgd")),
    Param("lr", float, 1e-3, "learning rate", low=0.0),
    Param("weight_decay", float, 1e-4, "L2 penalty", low=0.0),
    Param("momentum", float, 0.9, "SGD momentum", low=0.0, high=1.0),
    Param("schedule", str, "cosine", "learning-rate schedule",
          choices=("constant", "cosine", "step")),
    Param("patience", int, 8, "epochs without validation gain before stopping (0: never)",
          low=0),
    Param("device", str, "auto", "where to train", choices=("auto", "cpu", "cuda")),
    Param("eval_batch_size", int, 128, "batch size for prediction", low=1),
)
RESOURCE_PARAMS = (
    Param("cpus_per_trial", float, 2.0, "CPU cores per trial", low=0.1),
    Param("gpus_per_trial", float, 0.0, "GPUs per trial; fractions share a GPU", low=0.0),
    Param("max_concurrent", int, 0, "trials at once (0: as many as resources allow)", low=0),
)

TOP_LEVEL = ("benchmark", "dataset", "split", "train", "resources", "arm", "reference", "profile")
ARM_KEYS = ("name", "model", "sampler", "loss", "augment", "ensemble", "dataset", "train")
ARM_DEFAULTS = {"sampler": "none", "loss": "ce", "augment": "none", "ensemble": "none"}
ARM_KINDS = {"model": "model", "sampler": "sampler", "loss": "loss", "augment": "augmentation",
             "ensemble": "ensemble"}


# --- loading -------------------------------------------------------------------------------


def load_benchmark(path: str | Path, registry: Registry, profile: str | None = None) -> Benchmark:
    """Read, apply a profile, and validate a benchmark file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CryobenchError(f"{path}: no such benchmark file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    return parse_benchmark(raw, registry, path=path, profile=profile)


def parse_benchmark(
    raw: dict[str, Any], registry: Registry, *, path: Path | None = None,
    profile: str | None = None,
) -> Benchmark:
    """Validate an already-parsed document (the TOML file's tables)."""
    v = _Validator(path, registry)
    v.keys("", raw, TOP_LEVEL)
    profiles = raw.get("profile", {})
    v.table("profile", profiles)
    doc = {k: val for k, val in raw.items() if k != "profile"}
    if profile is not None:
        if profile not in profiles:
            v.fail("profile", unknown_name_message("profile", profile, profiles))
        doc = v.apply_profile(doc, profiles[profile], f"profile.{profile}")
    for name, body in profiles.items():  # profiles must be valid even when not selected
        v.table(f"profile.{name}", body)
        v.keys(f"profile.{name}", body, (*TOP_LEVEL[:5], "arms"))

    bench = v.params("benchmark", doc.get("benchmark"), BENCHMARK_PARAMS)
    dataset = v.dataset("dataset", doc.get("dataset"))
    split = SplitConfig(**v.params("split", doc.get("split", {}), SPLIT_PARAMS))
    train_raw = doc.get("train", {})
    train = TrainConfig(**v.params("train", train_raw, TRAIN_PARAMS))
    resources = Resources(**v.params("resources", doc.get("resources", {}), RESOURCE_PARAMS))
    arms = v.arms(doc.get("arm"), dataset, train_raw)
    citation, reference = v.reference(doc.get("reference", {}), arms)
    if not bench["seeds"]:
        v.fail("benchmark.seeds", "needs at least one seed")
    return Benchmark(
        name=bench["name"], description=bench["description"], seeds=tuple(bench["seeds"]),
        primary_metric=bench["primary_metric"], dataset=dataset, split=split, train=train,
        resources=resources, arms=arms, reference=reference, reference_citation=citation,
        path=path, profile=profile,
    )


class _Validator:
    """Carries the file name so that every check can raise a one-line ConfigError."""

    def __init__(self, path: Path | None, registry: Registry) -> None:
        self.path, self.registry = path, registry

    def fail(self, key: str, message: str) -> None:
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
        raise AssertionError("unreachable")

    def component(self, key: str, kind: str, value: Any) -> ComponentSpec:
        if isinstance(value, str):
            name, given = value, {}
        elif isinstance(value, dict):
            given = dict(value)
            name = given.pop("name", None)
            if not isinstance(name, str):
                self.fail(f"{key}.name", "an inline component table needs name = \"...\"")
        else:
            self.fail(key, f"expected a plugin name or a table with `name`, got {value!r}")
        if name not in self.registry.names(kind):
            self.fail(key, unknown_name_message(kind.replace("_", " "), name,
                                                self.registry.names(kind)))
        cls = self.registry.get(kind, name)
        return ComponentSpec(kind, name, self.params(key, given, cls.params))

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
        subsets = classes if classes and isinstance(classes[0], list) else [classes]
        return tuple(
            DatasetSpec(merged.source, self.class_list(f"{key}.classes", s)) for s in subsets
        )

    def arms(self, arms: Any, dataset: DatasetSpec, train_raw: dict[str, Any]) -> tuple[Arm, ...]:
        if not isinstance(arms, list) or not arms:
            self.fail("arm", "needs at least one [[arm]] table")
        out: list[Arm] = []
        seen: dict[str, int] = {}
        for i, arm in enumerate(arms):
            key = f"arm[{i}]"
            self.table(key, arm)
            self.keys(key, arm, ARM_KEYS)
            name = arm.get("name")
            if not isinstance(name, str) or not name:
                self.fail(f"{key}.name", "every arm needs a name")
            if name in seen:
                self.fail(f"{key}.name", f"duplicate arm name {name!r} (also arm[{seen[name]}])")
            seen[name] = i
            if "model" not in arm:
                self.fail(f"{key}.model", "missing; name a model plugin")
            specs = {
                field_: self.component(f"{key}.{field_}", kind, arm.get(field_, ARM_DEFAULTS.get(field_)))
                for field_, kind in ARM_KINDS.items() if field_ != "augment"
            }
            augment = arm.get("augment", "none")
            augment_list = augment if isinstance(augment, list) else [augment]
            augments = tuple(
                self.component(f"{key}.augment[{j}]" if isinstance(augment, list) else f"{key}.augment",
                               "augmentation", a)
                for j, a in enumerate(augment_list)
            )
            train_over = self.table(f"{key}.train", arm.get("train", {}))
            train = TrainConfig(**self.params(f"{key}.train", {**train_raw, **train_over},
                                              TRAIN_PARAMS))
            out.append(Arm(name=name, augment=augments, train=train,
                           datasets=self.arm_datasets(f"{key}.dataset", arm.get("dataset"), dataset),
                           **specs))
        return tuple(out)

    def reference(self, table: Any, arms: tuple[Arm, ...]) -> tuple[str, dict[str, dict[str, float]]]:
        self.table("reference", table)
        self.keys("reference", table, ("citation", "arms"))
        citation = table.get("citation", "")
        if not isinstance(citation, str):
            self.fail("reference.citation", "expected a string")
        figures = self.table("reference.arms", table.get("arms", {}))
        names = [a.name for a in arms]
        out: dict[str, dict[str, float]] = {}
        for arm_name, values in figures.items():
            key = f"reference.arms.{arm_name}"
            if arm_name not in names:
                self.fail(key, unknown_name_message("arm", arm_name, names))
            self.table(key, values)
            self.keys(key, values, METRICS)
            for metric, value in values.items():
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 100:
                    self.fail(f"{key}.{metric}", f"expected a percentage in [0, 100], got {value!r}")
            out[arm_name] = {m: float(x) for m, x in values.items()}
        return citation, out

    def apply_profile(self, doc: dict[str, Any], profile: Any, key: str) -> dict[str, Any]:
        self.table(key, profile)
        doc = copy.deepcopy(doc)
        for table, values in profile.items():
            if table == "arms":
                names = [a.get("name") for a in doc.get("arm", [])]
                for n in values:
                    if n not in names:
                        self.fail(f"{key}.arms", unknown_name_message("arm", n, names))
                doc["arm"] = [a for a in doc.get("arm", []) if a.get("name") in values]
            else:
                self.table(f"{key}.{table}", values)
                doc[table] = {**doc.get(table, {}), **values}
        return doc
