"""Old import paths of the plugin contract, kept working with a deprecation warning
(as pytest keeps ``_pytest`` names reachable while it moves them)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

from cryobench.errors import CryobenchDeprecationWarning


def moved_to_api(old: str, new: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old``: each name comes from ``new``, with a warning
    that says where to import it from now."""

    def __getattr__(name: str) -> Any:
        api = importlib.import_module("cryobench.api")
        module = importlib.import_module(new)
        if name == "__all__":  # ``from old import *``: the names it offered
            return [n for n in api.__all__ if hasattr(module, n)]
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(module, name)  # AttributeError: not there
        if name not in api.__all__ and getattr(value, "__module__", None) != new:
            # what the old module had imported itself (typing, annotations): not its own
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        where = "cryobench.api" if getattr(api, name, None) is value else new
        warnings.warn(f"{old}.{name} is deprecated: import {name} from {where}",
                      CryobenchDeprecationWarning, stacklevel=2)
        return value

    return __getattr__
