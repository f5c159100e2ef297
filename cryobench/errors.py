"""Errors a user can cause: each renders as one line, and the CLI exits with status 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class CryobenchDeprecationWarning(DeprecationWarning):
    """A plugin uses what a later version removes (an old import path, ``Loss.head``)."""


class CryobenchError(Exception):
    """Base class for user-facing errors; ``str(error)`` is the whole message."""

    exit_code = 2


class ConfigError(CryobenchError):
    """A benchmark file (or an override of it) is invalid."""

    def __init__(self, file: str | Path | None, key: str, message: str) -> None:
        self.file, self.key, self.message = file, key, message
        where = f"{file}: " if file else ""
        key_part = f"{key}: " if key else ""
        super().__init__(f"{where}{key_part}{message}")


class DataError(CryobenchError):
    """Input data (MRC, label file, stack) is unreadable or inconsistent."""

    def __init__(self, file: str | Path, message: str, record: str | None = None) -> None:
        self.file, self.record, self.message = file, record, message
        rec = f" ({record})" if record else ""
        super().__init__(f"{file}{rec}: {message}")


class PluginError(CryobenchError):
    """A plugin is unknown, misspelt, or clashes with another one."""


class ParamError(ValueError):
    """A parameter value is invalid; the caller knows where it was written.

    ``param`` is the parameter's name (possibly dotted, ``widths[2]``), ``problem`` what
    is wrong with it. Raised by :mod:`cryobench.contract.params` and by a component's
    ``check_setup``; turned into a :class:`ConfigError` with the file and key path.
    """

    def __init__(self, param: str, problem: str) -> None:
        self.param, self.problem = param, problem
        super().__init__(f"{param}: {problem}" if param else problem)


class UnknownParamError(ParamError):
    """A parameter name the component does not declare."""

    def __init__(self, param: str, valid: Iterable[str]) -> None:
        self.valid = sorted(valid)
        super().__init__(param, "unknown parameter")


def unknown_name_message(what: str, name: str, valid: Iterable[str]) -> str:
    """"unknown loss 'focl'; did you mean 'focal'? (valid: ce, focal, ...)"."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(valid) if valid else "none registered"
    return f"unknown {what} {name!r}{hint} (valid: {listing})"


class TrialFailed(CryobenchError):
    """A trial ran but produced no result worth ranking (it did not train, its loss
    diverged, its predictions are not probabilities); recorded as failed, with this reason."""
