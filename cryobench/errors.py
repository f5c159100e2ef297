"""Errors a user can cause: each renders as one line, and the CLI exits with status 2."""

from __future__ import annotations

from pathlib import Path


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
