"""``[dataset]`` and each ``[[arm]]``: components, training settings, class subsets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cryobench.config.preflight import check_datasets
from cryobench.config.reader import FileReader, printable_problem
from cryobench.config.schema import ARM_DEFAULTS, ARM_KEYS, ARM_KINDS, TRAIN_PARAMS
from cryobench.config.tune import Search, arm_tune
from cryobench.specs import Arm, ComponentSpec, DatasetSpec, SplitConfig, TrainConfig
from cryobench.train.precision import resolve_precision


def train_config(params: dict[str, Any]) -> TrainConfig:
    """``[train]`` with its precision resolved on this machine (the trial key says it)."""
    return TrainConfig(**{**params, "precision": resolve_precision(params["precision"],
                                                                   params["device"])})


def without_recipe(train: Any) -> Any:
    """``[train]`` less its ``augment`` (the recipe's augmentations, components)."""
    return {k: v for k, v in train.items() if k != "augment"} if isinstance(train, dict) \
        else train


def dataset(reader: FileReader, key: str, table: Any) -> DatasetSpec:
    if table is None:
        reader.fail(key, f"missing table [{key}]")
    table = dict(reader.table(key, table))
    if "source" not in table:
        reader.fail(f"{key}.source", "missing; name a data source plugin, e.g. 'synthetic'")
    source = table.pop("source")
    classes = table.pop("classes", None)
    spec = reader.component(key, "data_source", {"name": source, **table})
    return DatasetSpec(spec, class_list(reader, f"{key}.classes", classes))


def class_list(reader: FileReader, key: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and value and all(isinstance(c, str) for c in value)):
        reader.fail(key, f"expected a non-empty list of class names, got {value!r}")
    if len(set(value)) != len(value) or len(value) < 2:
        reader.fail(key, "needs at least two distinct class names")
    return tuple(value)


def arm_datasets(reader: FileReader, key: str, override: Any, base: DatasetSpec
                 ) -> tuple[DatasetSpec, ...]:
    if override is None:
        return (base,)
    override = dict(reader.table(key, override))
    classes = override.pop("classes", base.classes)
    source = override.pop("source", base.source.name)
    params = {**(base.source.params if source == base.source.name else {}), **override}
    merged = dataset(reader, key, {"source": source, **params})
    nested = isinstance(classes, list) and classes and isinstance(classes[0], list)
    subsets = classes if nested else [classes]
    return tuple(DatasetSpec(merged.source, class_list(reader, f"{key}.classes", s))
                 for s in subsets)


def arms(reader: FileReader, raw: Any, indices: list[int], base: DatasetSpec,
         train_raw: dict[str, Any], split: SplitConfig, search: Search | None
         ) -> tuple[tuple[Arm, ...], dict[str, Mapping[str, str]]]:
    """The arms, and for each (by name) where the file gives its tuned dimensions."""
    if not isinstance(raw, list) or not raw:
        reader.fail("arm", "needs at least one [[arm]] table")
    out: list[Arm] = []
    keys: dict[str, Mapping[str, str]] = {}
    seen: dict[str, int] = {}
    for i, table in zip(indices, raw):
        key = f"arm[{i}]"
        reader.table(key, table)
        reader.keys(key, table, ARM_KEYS)
        name = table.get("name")
        if not isinstance(name, str) or not name:
            reader.fail(f"{key}.name", f"every arm needs a name (a string), got {name!r}")
        problem = printable_problem(name)
        if problem:
            reader.fail(f"{key}.name", f"arm name {name!r} {problem}")
        if name in seen:
            reader.fail(f"{key}.name", f"duplicate arm name {name!r} (also arm[{seen[name]}])")
        alike = same_but_spacing_or_case(name, seen)
        if alike is not None:
            reader.fail(f"{key}.name", f"arm name {name!r} differs from arm[{seen[alike]}]'s "
                                       f"{alike!r} only in spaces or case; the leaderboard, "
                                       "the report and MLflow would show two arms that read "
                                       "alike: rename one")
        seen[name] = i
        result, keys[name] = arm(reader, key, table, base, train_raw, split, search)
        out.append(result)
    return tuple(out), keys


def same_but_spacing_or_case(name: str, names: Any) -> str | None:
    """The first of ``names`` that reads as ``name`` once spaces and case are ignored."""
    def folded(text: str) -> str:
        return "".join(text.split()).casefold()

    return next((other for other in names if folded(other) == folded(name)), None)


def arm(reader: FileReader, key: str, table: dict[str, Any], base: DatasetSpec,
        train_raw: dict[str, Any], split: SplitConfig, search: Search | None
        ) -> tuple[Arm, Mapping[str, str]]:
    if "model" not in table:
        reader.fail(f"{key}.model", "missing; name a model plugin")
    specs = {
        field_: reader.component(f"{key}.{field_}", kind,
                                 table.get(field_, ARM_DEFAULTS.get(field_)),
                                 ARM_DEFAULTS.get(field_), field_)
        for field_, kind in ARM_KINDS.items() if field_ != "augment"
    }
    augments = augmentations(reader, f"{key}.augment",
                             table.get("augment", ARM_DEFAULTS["augment"]))
    train_over = reader.table(f"{key}.train", table.get("train", {}))
    merged = {**train_raw, **train_over}
    where = f"{key}.train.augment" if "augment" in train_over else "train.augment"
    recipe = tuple(a for a in augmentations(reader, where, merged.get("augment", []))
                   if a.name != ARM_DEFAULTS["augment"])
    train = train_config(reader.params(f"{key}.train", without_recipe(merged), TRAIN_PARAMS))
    datasets = arm_datasets(reader, f"{key}.dataset", table.get("dataset"), base)
    registry = reader.registry
    capabilities = registry.get("model", specs["model"].name).capabilities
    # a baseline: every strategy component declares itself plain (no strategy)
    plain = all(registry.get(ARM_KINDS[f], s.name).plain
                for f, s in [*specs.items(), *(("augment", a) for a in augments)]
                if f != "model")
    result = Arm(name=table["name"], augment=augments, train=train, datasets=datasets,
                 capabilities=capabilities, recipe=recipe, plain=plain, **specs)
    check_uses(reader, key, result)
    if "augment" in train_over and recipe and not capabilities.uses_augmentations:
        reader.fail(f"{key}.train.augment", f"model {specs['model'].name!r} does not train "
                                            "on batches, so it cannot be augmented; remove "
                                            "the augmentation")
    found = arm_tune(reader, f"{key}.tune", table.get("tune"), result, search)
    result = replace(result, tune=found.spec)
    check_datasets(reader, key, f"{key}.dataset" if "dataset" in table else "dataset",
                   result, split, found.dimension_keys)
    return result, found.dimension_keys


def augmentations(reader: FileReader, key: str, value: Any) -> tuple[ComponentSpec, ...]:
    """One augmentation or a list of them (applied in order)."""
    listed = isinstance(value, list)
    return tuple(
        reader.component(f"{key}[{j}]" if listed else key, "augmentation", a,
                         ARM_DEFAULTS["augment"], "augment")
        for j, a in enumerate(value if listed else [value]))


def check_uses(reader: FileReader, key: str, arm: Arm) -> None:
    """Settings the arm gives that its model would silently ignore."""
    uses, model = arm.capabilities, arm.model.name
    if not uses.uses_loss and arm.loss.name != ARM_DEFAULTS["loss"]:
        reader.fail(f"{key}.loss", f"model {model!r} does not train with a loss (it fits on "
                                   "its own); remove the loss or choose a model that does")
    if not uses.uses_augmentations and any(
            a.name != ARM_DEFAULTS["augment"] for a in arm.augment):
        reader.fail(f"{key}.augment", f"model {model!r} does not train on batches, so it "
                                      "cannot be augmented; remove the augmentation")
