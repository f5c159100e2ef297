"""Cache entries (simulated data sets, stage-1 weights) that concurrent builders share.

Every builder writes under a name of its own (the process id in it) and renames the
result into place at the end: a reader never sees half an entry, two builders of the
same entry never collide, and the loser of the race uses the winner's entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "CRYOBENCH_CACHE_DIR"


def cache_root() -> Path:
    """``$CRYOBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/cryobench``, else ``~/.cache/cryobench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cryobench"


def content_key(params: dict[str, object]) -> str:
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def private_name(path: Path) -> Path:
    """Where this process builds ``path`` before renaming it into place."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def cached_folder(root: Path, name: str, is_complete: Callable[[Path], bool],
                  build: Callable[[Path], object]) -> tuple[Path, bool]:
    """The entry ``root/name``, built by ``build(folder)`` unless complete; (path, built?).

    ``build`` writes a new folder that does not exist yet. A damaged entry (present but
    not complete) is replaced.
    """
    path = root / name
    if is_complete(path):
        return path, False
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    partial = private_name(path)
    try:
        build(partial)
        if path.exists() and not is_complete(path):
            discard(path)
        try:
            os.rename(partial, path)
        except OSError:  # another builder's entry is in place: use it
            pass
    finally:
        discard(partial)
    return path, True


def save_file(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through a private name and an atomic rename; the last builder's copy
    stays (builders of one entry write the same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = private_name(path)
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def remove_stale_partials(path: Path) -> None:
    """Delete private copies of ``path`` left by processes that were killed (and this
    process's own from an earlier failure)."""
    for leftover in path.parent.glob(f".{path.name}.partial-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))) or int(pid) == os.getpid():
            discard(leftover)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
