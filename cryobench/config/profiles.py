"""``[profile.<name>]``: tables merged over the file's, the arms kept, and parameters for
every arm's components."""

from __future__ import annotations

import copy
from typing import Any

from cryobench.config.reader import FileReader
from cryobench.config.schema import ARM_KINDS
from cryobench.errors import ConfigError, unknown_name_message
from cryobench.specs import Benchmark


def apply_profile(reader: FileReader, doc: dict[str, Any], profile: Any, key: str
                  ) -> tuple[dict[str, Any], list[int]]:
    """The document with the profile's tables merged in; the arms it keeps, with their
    positions in the file (so that errors name the arm the user wrote)."""
    reader.table(key, profile)
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
                reader.fail(f"{key}.arms", f"expected a non-empty list of arm names, got "
                                           f"{values!r}")
            for n in values:
                if n not in names:
                    reader.fail(f"{key}.arms", unknown_name_message("arm", n, names))
            indices = [i for i in indices if names[i] in values]
            doc["arm"] = [arms[i] for i in indices]
        elif table == "sweep":  # one quantity: the profile's replaces the file's
            doc[table] = reader.table(f"{key}.{table}", values)
        else:
            reader.table(f"{key}.{table}", values)
            doc[table] = {**doc.get(table, {}), **values}
    return doc, indices


def component_overrides(reader: FileReader, key: str, table: Any
                        ) -> dict[str, dict[str, Any]]:
    """``components = { ensemble = { members = 2 } }``: parameters a profile gives every
    arm's component of that field that declares them (smaller ensembles, shorter GP runs
    for a smoke run)."""
    reader.table(key, table)
    reader.keys(key, table, tuple(ARM_KINDS))
    return {field_: dict(reader.table(f"{key}.{field_}", values))
            for field_, values in table.items()}


def check_overrides_used(reader: FileReader, key: str, bench: Benchmark) -> None:
    """A profile parameter that no arm's component declares is a mistake."""
    for field_, values in reader.overrides.items():
        declared = {p.name for arm in bench.arms
                    for spec in ((*arm.augment, *arm.recipe) if field_ == "augment"
                                 else (getattr(arm, field_),))
                    for p in reader.registry.get(spec.kind, spec.name).params}
        for name in values:
            if name not in declared:
                reader.fail(f"{key}.{field_}.{name}", unknown_name_message(
                    f"parameter of the arms' {field_}", name, declared))


def as_profile_error(error: ConfigError, profile: str, given: set[tuple[str, str]],
                     overrides: dict[str, dict[str, Any]]) -> ConfigError:
    """An error in a value the profile gave names the profile's key
    (``profile.quick.train.lr``); any other stays the file's."""
    table, _, rest = error.key.partition(".")
    field_, _, param = rest.partition(".")
    if (table, rest.split(".")[0].partition("[")[0]) in given or (
            table == "sweep" and any(t == "sweep" for t, _ in given)):
        return ConfigError(error.file, f"profile.{profile}.{error.key}", error.message)
    if table.startswith("arm[") and param in overrides.get(field_, {}):
        return ConfigError(error.file, f"profile.{profile}.components.{field_}.{param}",
                           error.message)
    return error
