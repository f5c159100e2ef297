"""An MLflow store checked before any training, with one line for each way it fails.

MLflow itself meets a damaged or read-only SQLite file with minutes of retries and a
traceback, and a ``file:`` store (deprecated since MLflow 3) with a long traceback. What
can be known before training is known here; every message names the store, what is
wrong with it, and what to do, including going on without it: the result file keeps
every trial, and ``cryobench sync`` logs them once the store is usable.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryobench.errors import CryobenchError

LATER = ("or run with --no-tracking and log the results later with `cryobench sync FILE "
         "--tracking-uri URI`")


class StoreError(CryobenchError):
    """The MLflow store named cannot be used."""

    def __init__(self, uri: str, problem: str, fix: str) -> None:
        super().__init__(f"MLflow store {uri}: {problem}; {fix}, {LATER}")


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI (None for other stores and in-memory SQLite)."""
    if not uri.startswith("sqlite:///"):
        return None
    text = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(text) if text and text != ":memory:" else None


def check_store(uri: str) -> None:
    """Refuse, before any work, a store that MLflow could not write to."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):  # C:\\ paths too
        raise StoreError(uri, "a file store (a folder of runs), which MLflow 3 no longer "
                              "supports", "give a SQLite file instead (--tracking-uri "
                              "sqlite:///PATH/mlflow.db; `mlflow migrate-filestore` moves old "
                              "runs there) or a server")
    path = sqlite_path(uri)
    if path is not None:
        check_sqlite(uri, path)


def check_sqlite(uri: str, path: Path) -> None:
    """The file's folder can be written (SQLite writes a journal beside it, MLflow its
    artifacts), the file itself can be written, and it is a whole SQLite database."""
    folder = path.parent
    if not folder.is_dir():
        raise StoreError(uri, f"its folder {folder} does not exist",
                         "create it or give another --tracking-uri")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cryobench-probe-"):
            pass
    except OSError as exc:
        raise StoreError(uri, f"its folder {folder} cannot be written to ({_reason(exc)})",
                         "give a --tracking-uri in a folder you can write to") from None
    if not path.exists():
        return  # MLflow creates it
    if not path.is_file():
        raise StoreError(uri, f"{path} is not a file", "give the path of a SQLite file")
    try:
        with open(path, "r+b"):
            pass
    except OSError as exc:
        raise StoreError(uri, f"{path} cannot be written to ({_reason(exc)})",
                         "make it writable or give another --tracking-uri") from None
    problem = _damage(path)
    if problem:
        raise StoreError(uri, f"{path} is damaged ({problem}; a full disk or a copy cut "
                              "short?)", "move it away (MLflow starts a new one) or give "
                                         "another --tracking-uri")


def _damage(path: Path) -> str | None:
    """What SQLite says is wrong with the database, or None when its check passes."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=30)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = connection.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):  # another run writing: it is a database
            return None
        return str(exc)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        connection.close()
    return None if rows == [("ok",)] else str(rows[0][0])


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or type(exc).__name__


@contextmanager
def opening(uri: str) -> Iterator[None]:
    """Held while MLflow opens a SQLite store: opening a new one creates its tables and
    migrates them, and two processes doing so at once (two runs on one fresh store)
    break each other's migration. An exclusive lock on the file's folder makes the
    second wait for the first; other stores need none."""
    import fcntl

    path = sqlite_path(uri)
    if path is None or not path.parent.is_dir():
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
