"""The checks every table of a benchmark file goes through, each raising a one-line
:class:`ConfigError` that names the file and the key. A :class:`FileReader` holds only
what does not change while the file is read; checks that need more take it as
arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from cryobench.config.schema import ClassCounts, TomogramCounts
from cryobench.contract.params import Param, resolve_params
from cryobench.errors import (
    ConfigError, CryobenchError, ParamError, UnknownParamError, unknown_name_message,
)
from cryobench.registry import Registry
from cryobench.run.results import SIDE_FILES
from cryobench.specs import ComponentSpec


@dataclass(frozen=True)
class FileReader:
    """One benchmark file being read (with one profile applied, or none)."""

    path: Path | None
    registry: Registry
    class_counts: ClassCounts | None = None
    tomogram_counts: TomogramCounts | None = None
    #: every arm the file names, before a profile picks some
    file_arms: frozenset[Any] = frozenset()
    #: a profile's parameters for every arm's components, by arm field
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the benchmark's seeds (after a profile): the splits a run will make are tried
    seeds: tuple[int, ...] = (0,)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> FileReader:
        return replace(self, overrides=overrides)

    def with_seeds(self, seeds: tuple[int, ...]) -> FileReader:
        return replace(self, seeds=seeds or (0,))

    def fail(self, key: str, message: str) -> NoReturn:
        raise ConfigError(self.path, key, message)

    def fail_as(self, key: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; a user error it raises becomes this file's error at ``key``."""
        try:
            return action()
        except CryobenchError as exc:
            self.fail(key, str(exc))

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
        problem = printable_problem(name)
        if not problem and (name in (".", "..") or any(c in name for c in "/\\")):
            problem = "is a path; a file name is needed"
        if not problem and name.rpartition(".")[2] in SIDE_FILES:  # would share their file
            problem = (f"ends in {name.rpartition('.')[2]!r}, the name of a file kept beside "
                       "the results")
        if problem:
            self.fail(key, f"{what} {name!r} {problem} (it names the result files); use "
                           "letters, digits, spaces, '-', '_' or '.'")

    def component(self, key: str, kind: str, value: Any, default: str | None = None,
                  field_: str = "") -> ComponentSpec:
        """A component named by a string or an inline table, its parameters resolved
        (with the profile's overrides for that arm field, where it declares them)."""
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
        if name not in self.registry.accepted_names(kind):
            self.fail(key, unknown_name_message(kind.replace("_", " "), name,
                                                self.registry.accepted_names(kind)))
        info = self.registry.info(kind, name)  # an alias: the component's own name
        declared = {p.name for p in info.cls.params}
        given.update({k: v for k, v in self.overrides.get(field_, {}).items() if k in declared})
        return ComponentSpec(kind, info.name, self.params(key, given, info.cls.params),
                             info.code)


def printable_problem(name: str) -> str | None:
    """What makes a name unfit to show or to name a file by; None: nothing."""
    if not name.strip():
        return "is empty"
    if not name.isprintable():
        return "contains control or invisible characters"
    if len(name) > 200:
        return "is longer than 200 characters"
    return None
