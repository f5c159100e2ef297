"""Planning: a benchmark expanded into trial specifications (arm x class subset x seed
[x fold]), each identified by a hash of what determines its result."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryobench.specs import (
    Arm, Benchmark, Capabilities, ComponentSpec, DatasetSpec, Resources, SplitConfig,
    TrainConfig, TuneSpec, with_values,
)

#: Bump when the meaning of a trial's configuration changes, so stale results are not reused.
TRIAL_SCHEMA = 2


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
    uses: Capabilities = Capabilities()  # of the model: which shared settings it reads
    threads: int = 1  # CPU threads the trial trains with
    tune: TuneSpec | None = None  # tuned on this seed's validation part before training
    #: what tuning found (its ``chosen`` configuration, ``"train.lr"`` -> value, and
    #: every configuration it tried); not part of the key, which the search determines
    tuning: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    #: the training recipe's augmentations, applied before the arm's own (``Arm.recipe``)
    recipe: tuple[ComponentSpec, ...] = ()

    def config(self) -> dict[str, Any]:
        """The content that determines the result, and nothing else.

        Not names, not resources; the shared settings (training loop, loss,
        augmentations) only when the model uses them; the code of every component; and
        the CPU threads when the model's numbers depend on them (parallel reductions
        sum in another order with another thread count, so the same seed gives other
        figures: they are different trials, not repeats).
        """
        config: dict[str, Any] = {
            "schema": TRIAL_SCHEMA,
            "seed": self.seed,
            "fold": self.fold,
            "dataset": self.dataset.identity(),
            "split": self.split.identity(),
            "model": self.model.identity(),
            "sampler": self.sampler.identity(),
            "ensemble": self.ensemble.identity(),
        }
        if self.uses.uses_train:
            config["train"] = self.train.identity()
        if self.uses.uses_loss:
            config["loss"] = self.loss.identity()
        if self.uses.uses_augmentations:
            config["augment"] = [a.identity() for a in self.augment]
        if self.batch_recipe:  # only when set: files without one keep their keys
            config["recipe"] = [a.identity() for a in self.batch_recipe]
        if self.uses.thread_dependent:
            config["threads"] = self.threads
        if self.tune is not None:
            config["tune"] = self.tune.identity()
        return config

    @property
    def batch_recipe(self) -> tuple[ComponentSpec, ...]:
        """The recipe's augmentations where the model trains on batches."""
        return self.recipe if self.uses.uses_augmentations else ()

    @property
    def tuned(self) -> dict[str, Any] | None:
        """The configuration tuning chose, once it has."""
        return dict(self.tuning["chosen"]) if self.tuning else None

    def record_config(self) -> dict[str, Any]:
        """What a record says the trial was: its configuration and what tuning chose."""
        config = self.config()
        if self.tuned is not None:
            config["tuned"] = dict(self.tuned)
        return config

    def with_values(self, values: dict[str, Any]) -> TrialSpec:
        """This trial with some parameters set: a configuration to try while tuning."""
        return with_values(self, values)

    def applied(self) -> TrialSpec:
        """The components and settings to train with: tuning's choice applied."""
        return self.with_values(self.tuned) if self.tuned else self

    @property
    def key(self) -> str:
        """Stable content hash: independent of key order, arm names and other arms."""
        text = json.dumps(self.config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def trial_threads(bench: Benchmark, threads: int | None = None) -> int:
    """CPU threads per trial: as asked, else the trial's whole CPU share (at least one)."""
    return max(1, int(threads or bench.resources.cpus_per_trial))


def expand_trials(bench: Benchmark, threads: int | None = None) -> list[TrialSpec]:
    """Every trial of the benchmark, in a stable order (arm, class subset, seed, fold)."""
    folds: list[int | None] = (
        list(range(bench.split.folds)) if bench.split.method == "kfold" else [None]
    )
    return [
        _trial(bench, arm, dataset, seed, fold, trial_threads(bench, threads))
        for arm in bench.arms
        for dataset in arm.datasets
        for seed in bench.seeds
        for fold in folds
    ]


def _trial(bench: Benchmark, arm: Arm, dataset: DatasetSpec, seed: int,
           fold: int | None, threads: int) -> TrialSpec:
    return TrialSpec(
        benchmark=bench.name, arm=arm.name, seed=seed, fold=fold, dataset=dataset,
        split=bench.split, train=arm.train, resources=bench.resources, model=arm.model,
        sampler=arm.sampler, loss=arm.loss, augment=arm.augment, ensemble=arm.ensemble,
        uses=arm.capabilities, threads=threads, tune=arm.tune, recipe=arm.recipe,
    )
