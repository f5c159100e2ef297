"""The simulated-data cache: one folder per parameter hash, rebuilt when found damaged."""

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


def cached_folder(root: Path, name: str, is_complete: Callable[[Path], bool],
                  build: Callable[[Path], object]) -> tuple[Path, bool]:
    """The entry ``root/name``, built by ``build(path)`` unless complete; (path, built?)."""
    path = root / name
    if path.exists() and is_complete(path):
        return path, False
    discard(path)
    try:
        build(path)
    except FileExistsError:  # another process finished the same entry first
        pass
    if not is_complete(path):  # a concurrent builder's result, or ours, must be whole
        discard(path)
        build(path)
    return path, True


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
