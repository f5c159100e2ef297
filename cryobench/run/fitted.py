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

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryobench.data.cache import CACHE_ENV, content_key, remove_stale_partials, save_file
from cryobench.run.plan import TrialSpec


def fits_reach_trials(several_nodes: bool, environ: Mapping[str, str]) -> bool:
    """Whether a search's fits can be kept for its trials: on one machine, or on several
    whose cache folder is set (running.md asks for shared storage there); else a
    worker's fit could sit on a node that no trial reads, and that no search cleans."""
    return not several_nodes or CACHE_ENV in environ


def fit_key(trial: TrialSpec, values: dict[str, Any] | None = None) -> str:
    """The trial (as tuning or training runs it) fitted with ``values`` (tuning's choice
    when not given): its content, and its own ``[train]``, which a model's earlier stage
    trains with whatever is tuned (the multi-path CNN's stage 1)."""
    spec = trial.applied() if values is None else trial.with_values(values)
    return content_key({"fit": spec.config(), "untuned_train": trial.train.identity()})


@dataclass
class KeptFit:
    predictor: Any
    device: str
    fit_seconds: float
    machine: dict[str, str] | None = None  # where it was fitted (older files: unknown)


class FittedStore:
    """``<cache>/fitted/<key>.pkl``: one fitted predictor per configuration."""

    def __init__(self, cache_dir: Path | str) -> None:
        self.root = Path(cache_dir) / "fitted"

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pkl"

    def save(self, key: str, fit: KeptFit) -> None:
        """Written whole or not at all (the cache's private name, then a rename)."""
        try:
            data = pickle.dumps(fit, protocol=pickle.HIGHEST_PROTOCOL)
            save_file(self.path(key), lambda path: path.write_bytes(data))
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
        """The entries, and what killed writers of them left half written."""
        for key in keys:
            try:
                self.path(key).unlink(missing_ok=True)
                remove_stale_partials(self.path(key))
            except OSError:
                pass
