"""Planning: a benchmark expanded into trial specifications (arm x class subset x seed
[x fold]), each identified by a hash of what determines its result."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from cryobench.specs import (
    Arm, Benchmark, ComponentSpec, DatasetSpec, Resources, SplitConfig, TrainConfig,
)

#: Bump when the meaning of a trial's configuration changes, so stale results are not reused.
TRIAL_SCHEMA = 1


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs; a plain value that can cross a process boundary."""

    benchmark: str
    arm: str
    seed: int
    fold: int | None
    dataset: DatasetSpec
    split: SplitConfig
    train: TrainConfig
    resources: Resources
    model: ComponentSpec
    sampler: ComponentSpec
    loss: ComponentSpec
    augment: tuple[ComponentSpec, ...]
    ensemble: ComponentSpec

    def config(self) -> dict[str, Any]:
        """The content that determines the result: not names, not resources."""
        return {
            "schema": TRIAL_SCHEMA,
            "seed": self.seed,
            "fold": self.fold,
            "dataset": self.dataset.as_dict(),
            "split": asdict(self.split),
            "train": asdict(self.train),
            "model": self.model.as_dict(),
            "sampler": self.sampler.as_dict(),
            "loss": self.loss.as_dict(),
            "augment": [a.as_dict() for a in self.augment],
            "ensemble": self.ensemble.as_dict(),
        }

    @property
    def key(self) -> str:
        """Stable content hash: independent of key order, arm names and other arms."""
        text = json.dumps(self.config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def expand_trials(bench: Benchmark) -> list[TrialSpec]:
    """Every trial of the benchmark, in a stable order (arm, class subset, seed, fold)."""
    folds: list[int | None] = (
        list(range(bench.split.folds)) if bench.split.method == "kfold" else [None]
    )
    return [
        _trial(bench, arm, dataset, seed, fold)
        for arm in bench.arms
        for dataset in arm.datasets
        for seed in bench.seeds
        for fold in folds
    ]


def _trial(bench: Benchmark, arm: Arm, dataset: DatasetSpec, seed: int,
           fold: int | None) -> TrialSpec:
    return TrialSpec(
        benchmark=bench.name, arm=arm.name, seed=seed, fold=fold, dataset=dataset,
        split=bench.split, train=arm.train, resources=bench.resources, model=arm.model,
        sampler=arm.sampler, loss=arm.loss, augment=arm.augment, ensemble=arm.ensemble,
    )
