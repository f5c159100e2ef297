"""Declared component parameters, so benchmark files are validated before anything runs.

A :class:`Param` is the one source of truth for what a parameter accepts: its type, the
choices, the bounds, whether infinity and NaN are allowed, and for lists and tables the
type, bounds and choices of each item and a minimum length. Components never re-check
these by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cryobench.errors import ParamError, UnknownParamError

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a table"}
_PLURALS = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}

#: Seeds feed numpy and torch generators, which take unsigned 32-bit integers.
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Param:
    """One parameter of a component: its type, default and allowed values.

    For ``type=list`` (and ``dict``), ``items`` is the type of each element (each value),
    and ``choices``, ``low``, ``high`` and ``finite`` apply to every element.
    ``finite=False`` lets a float be infinite or NaN (nothing needs that yet).
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    items: type | None = None  # element type when ``type`` is list or dict
    nullable: bool = False  # ``None`` (absent in TOML) allowed
    finite: bool = True
    min_len: int = 0  # lists and tables: fewest elements
    max_len: int | None = None  # lists and tables: most elements
    unique: bool = False  # lists: no element twice

    def allowed(self) -> str:
        """What a valid value looks like, for error messages and ``cryobench plugins``."""
        if self.type in (list, dict):
            what = "a list" if self.type is list else "a table"
            if self.min_len == self.max_len:
                count = f"{self.min_len} "
            elif self.max_len is not None:
                count = f"{self.min_len} to {self.max_len} "
            else:
                count = f"at least {self.min_len} " if self.min_len > 1 else ""
            if self.min_len == 1 and self.max_len is None:
                what = f"a non-empty {what[2:]}"
            if self.items is None and self.choices is None:
                return f"{what} of {count}items" if count else what
            return f"{what} of {count}{self._item_text(plural=True)}"
        return self._item_text(plural=False)

    def _item_text(self, plural: bool) -> str:
        kind = self.items if self.type in (list, dict) else self.type
        if self.choices is not None:
            return ("values from " if plural else "one of ") + ", ".join(map(repr, self.choices))
        text = _PLURALS.get(kind, "values") if plural else _TYPE_NAMES.get(kind, "a value")
        if self.low is not None and self.high is not None:
            text += f" in [{self.low}, {self.high}]"
        elif self.low is not None:
            text += f" >= {self.low}"
        elif self.high is not None:
            text += f" <= {self.high}"
        return text

    def validate(self, value: Any) -> Any:
        """Return the value coerced to the declared type; ParamError says what is wrong."""
        if value is None:
            if self.nullable:
                return None
            raise ParamError(self.name, f"is required, expected {self.allowed()}")
        value = self._coerce(value, self.type, self.name)
        if self.type is list:
            value = [self._element(v, f"{self.name}[{i}]") for i, v in enumerate(value)]
            self._check_length(value)
            if self.unique:
                for i, v in enumerate(value):
                    if v in value[:i]:
                        raise ParamError(f"{self.name}[{i}]", f"{v!r} is given twice")
        elif self.type is dict:
            if self.items is not None or self.choices is not None:
                value = {k: self._element(v, f"{self.name}.{k}") for k, v in value.items()}
            self._check_length(value)
        else:
            self._check_value(value, self.name)
        return value

    def _element(self, value: Any, where: str) -> Any:
        if self.items is not None:
            value = self._coerce(value, self.items, where, element=True)
        self._check_value(value, where, element=True)
        return value

    def _check_length(self, value: list | dict) -> None:
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            raise ParamError(self.name, f"got {len(value)} item{'s' * (len(value) != 1)}, "
                                        f"expected {self.allowed()}")

    def _check_value(self, value: Any, where: str, element: bool = False) -> None:
        expected = self._item_text(plural=False) if element else self.allowed()
        if isinstance(value, float) and self.finite and not math.isfinite(value):
            raise ParamError(where, f"got {value!r}, expected a finite number")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high
            ):
                raise ParamError(where, f"got {value!r}, expected {expected}")
        if self.choices is not None and value not in self.choices:
            raise ParamError(where, f"got {value!r}, expected {expected}")

    def _coerce(self, value: Any, kind: type, where: str, element: bool = False) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            shown = f"{value!r}" if isinstance(value, bool) else \
                f"{value!r} ({type(value).__name__})"
            expected = self._item_text(plural=False) if element else self.allowed()
            raise ParamError(where, f"got {shown}, expected {expected}")
        return value


def resolve_params(declared: tuple[Param, ...], given: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and validate; raises ParamError (UnknownParamError) naming the parameter."""
    by_name = {p.name: p for p in declared}
    for key in given:
        if key not in by_name:
            raise UnknownParamError(key, by_name)
    return {p.name: p.validate(given.get(p.name, p.default)) for p in declared}
