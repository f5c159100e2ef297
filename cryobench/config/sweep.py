"""``[sweep]``: every arm at every value of one quantity (an imbalance, a data-source
parameter)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cryobench.config.preflight import check_datasets
from cryobench.config.reader import FileReader
from cryobench.config.schema import SWEEP_HELP
from cryobench.contract.params import resolve_params
from cryobench.errors import ParamError, unknown_name_message
from cryobench.specs import Arm, DatasetSpec, SplitConfig, SweepPoint


def sweep(reader: FileReader, table: Any, arms: tuple[Arm, ...], split: SplitConfig,
          dimension_keys: Mapping[str, Mapping[str, str]]) -> tuple[Arm, ...]:
    """Every arm at every swept value (value by value, arms in file order), named
    ``"<arm> @ <axis> <value>"``; each point's data set checked like its arm's, with its
    arm's own tuned dimensions (``dimension_keys``, by arm name)."""
    table = reader.table("sweep", table)
    if len(table) != 1:
        reader.fail("sweep", f"expected {SWEEP_HELP}; got {len(table)} keys")
    ((name, values),) = table.items()
    key = f"sweep.{name}"
    axis = _axis(reader, key, name, values)
    if name == "imbalance":
        subsets = [a.name for a in arms if any(d.classes for d in a.datasets)]
        if subsets:
            reader.fail(key, f"arm {subsets[0]!r} takes a class subset: an imbalance is "
                             "set over all of the data set's classes, so its ratio would "
                             "not be the subset's; sweep without class subsets")
    out: list[Arm] = []
    for value in values:
        shown = f"{value:g}" if float(f"{value:g}") == float(value) else repr(float(value))
        for arm in arms:
            datasets = tuple(swept_dataset(reader, key, d, name, value) for d in arm.datasets)
            point = replace(arm, name=f"{arm.name} @ {axis} {shown}", datasets=datasets,
                            sweep=SweepPoint(axis, float(value), arm.name))
            if point.name in {a.name for a in (*out, *arms)}:
                reader.fail(key, f"the sweep names two arms {point.name!r}; rename one")
            check_datasets(reader, key, key, point, split, dimension_keys.get(arm.name, {}))
            out.append(point)
    return tuple(out)


def _axis(reader: FileReader, key: str, name: str, values: Any) -> str:
    """What the sweep varies, its values checked: ``imbalance`` or a source parameter."""
    numbers = isinstance(values, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in values)
    if not numbers or len(values) < 2:
        reader.fail(key, f"expected a list of at least two numbers, got {values!r}")
    if len(set(values)) != len(values):
        reader.fail(key, f"a value is listed twice: {values!r}")
    if name == "imbalance":
        if min(values) < 1:
            reader.fail(key, f"got {min(values)!r}: an imbalance is the largest class's "
                             "count over the rarest's, at least 1 (1: balanced)")
        return name
    if name.startswith("dataset.") and name != "dataset.":
        axis = name.removeprefix("dataset.")
        if axis in ("source", "classes"):
            reader.fail(key, f"{axis!r} is not a number to sweep; {SWEEP_HELP}")
        return axis
    reader.fail(key, f"cannot sweep {name!r}: {SWEEP_HELP}")


def swept_dataset(reader: FileReader, key: str, dataset: DatasetSpec, name: str,
                  value: float) -> DatasetSpec:
    source = dataset.source
    registry = reader.registry
    if name == "imbalance":
        built = reader.fail_as(key, lambda: source.build(registry))
        change = built.imbalanced(float(value))
        if change is None:
            reader.fail(key, f"data source {source.name!r} cannot change its class "
                             "counts; sweep one of its parameters instead")
    else:
        param = name.removeprefix("dataset.")
        declared = {p.name for p in registry.get("data_source", source.name).params}
        if param not in declared:
            reader.fail(key, unknown_name_message(
                f"parameter of data source {source.name!r}", param, declared))
        change = {param: value}
    try:
        params = resolve_params(registry.get("data_source", source.name).params,
                                {**source.params, **change})
    except ParamError as exc:
        reader.fail(key, f"{value!r}: {exc.problem}")
    return replace(dataset, source=replace(source, params=params))
