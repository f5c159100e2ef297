"""Tuning's fitted configurations, kept for the trial that trains the chosen one.

A tuned trial trains the configuration its search chose, on the same split with the
same seed and settings; where the search trained that configuration for the trial's
whole epoch budget, that training is the trial's (on a CPU, the same weights to the
bit). Each configuration that finishes in a search keeps its fitted predictor here, under
a key of everything the fit depends on; the trial takes the chosen one instead of
training it again, and the search drops the others once it has chosen.

The store is a cache in the cache folder: a file that cannot be written or read back is
trained again, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryobench.run.plan import TrialSpec


def fit_key(budget: TrialSpec, spec: TrialSpec) -> str:
    """``spec`` (a configuration of ``budget``, the trial as tuning or training runs
    it) fitted: its content, and the trial's own ``[train]``, which a model's earlier
    stage trains with whatever is tuned (the multi-path CNN's stage 1)."""
    text = json.dumps({"fit": spec.config(), "untuned_train": budget.train.identity()},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class KeptFit:
    predictor: Any
    device: str
    fit_seconds: float


class FittedStore:
    """``<cache>/fitted/<key>.pkl``: one fitted predictor per configuration."""

    def __init__(self, cache_dir: Path | str) -> None:
        self.root = Path(cache_dir) / "fitted"

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pkl"

    def save(self, key: str, fit: KeptFit) -> None:
        """Written whole or not at all (a temporary file renamed)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{key}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    pickle.dump(fit, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.path(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except Exception:  # a predictor that cannot be kept is trained again by its trial
            self.discard([key])  # and no older file stands in for it

    def load(self, key: str) -> KeptFit | None:
        try:
            with open(self.path(key), "rb") as src:
                fit = pickle.load(src)
        except Exception:  # none kept, or unreadable: another version's classes, damage
            return None
        return fit if isinstance(fit, KeptFit) else None

    def discard(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.path(key).unlink(missing_ok=True)
            except OSError:
                pass

    def sweep(self, older_than_seconds: float = 86_400.0) -> None:
        """Temporary files a killed worker left (a day old: not one being written)."""
        import time

        try:
            leftovers = list(self.root.glob(".*.tmp"))
        except OSError:
            return
        for path in leftovers:
            try:
                if time.time() - path.stat().st_mtime > older_than_seconds:
                    path.unlink()
            except OSError:
                pass
