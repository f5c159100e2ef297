"""Declared component parameters, so benchmark files are validated before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a table"}


@dataclass(frozen=True)
class Param:
    """One parameter of a component: its type, default and allowed values."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    items: type | None = None  # element type when ``type`` is list
    nullable: bool = False  # ``None`` (absent in TOML) allowed

    def allowed(self) -> str:
        """What a valid value looks like, for error messages and ``cryobench plugins``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        text = _TYPE_NAMES[self.type]
        if self.type is list and self.items is not None:
            text = f"a list of {_TYPE_NAMES[self.items].split(' ', 1)[1]}s"
        if self.low is not None and self.high is not None:
            text += f" in [{self.low}, {self.high}]"
        elif self.low is not None:
            text += f" >= {self.low}"
        elif self.high is not None:
            text += f" <= {self.high}"
        return text

    def validate(self, value: Any) -> Any:
        """Return the value coerced to the declared type; ValueError says what is wrong."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError(f"is required, expected {self.allowed()}")
        value = _coerce(value, self.type, self.allowed())
        if self.type is list and self.items is not None:
            value = [_coerce(v, self.items, self.allowed()) for v in value]
            for v in value:
                self._check_range(v)
        else:
            self._check_range(value)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"got {value!r}, expected {self.allowed()}")
        return value

    def _check_range(self, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high
            ):
                raise ValueError(f"got {value!r}, expected {self.allowed()}")


def _coerce(value: Any, kind: type, allowed: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise ValueError(f"got {value!r}, expected {allowed}")
    if not isinstance(value, kind):
        raise ValueError(f"got {value!r} ({type(value).__name__}), expected {allowed}")
    return value


def resolve_params(declared: tuple[Param, ...], given: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and validate; raises KeyError/ValueError naming the parameter."""
    by_name = {p.name: p for p in declared}
    for key in given:
        if key not in by_name:
            raise KeyError(key)
    resolved: dict[str, Any] = {}
    for p in declared:
        try:
            resolved[p.name] = p.validate(given.get(p.name, p.default))
        except ValueError as exc:
            raise ValueError(f"{p.name}: {exc}") from None
    return resolved
