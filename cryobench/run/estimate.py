"""What a run will cost, from the seconds per epoch that earlier trials of the same arm
took on this machine (its result files), before anything is started; on a machine that
has run none, from two epochs of each arm trained to measure it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any

from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord
from cryobench.run.results import TUNING_FILES, ResultStore
from cryobench.search_space import configurations_tried

#: a measured epoch of the trial's network, validation included, times its members
EPOCH_SECONDS = "epoch_seconds"

#: what may differ between a measured trial and the one estimated: the per-epoch cost
#: is the same whatever the seed, the fold or the tuning
NOT_COST = ("schema", "seed", "fold", "tune", "tuned")
#: the training settings that change what an epoch costs; the others (the epoch budget,
#: the learning rate and its schedule, the stopping rule) do not
COST_OF_TRAINING = ("batch_size", "eval_batch_size", "device")


def measured_records(folder: Path) -> list[TrialRecord]:
    """Every finished trial in the result files of ``folder`` (tuning files aside)."""
    records: list[TrialRecord] = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        if path.name.removesuffix(".jsonl").rpartition(".")[2] not in TUNING_FILES:
            records += [r for r in ResultStore(path).read().records.values() if r.ok]
    return records


def _cost_identity(config: dict[str, Any]) -> str:
    import json

    kept = {k: v for k, v in config.items() if k not in NOT_COST}
    if isinstance(kept.get("train"), dict):
        kept["train"] = {k: kept["train"].get(k) for k in COST_OF_TRAINING}
    return json.dumps(kept, sort_keys=True, default=str)


def seconds_per_epoch(trial: TrialSpec, records: list[TrialRecord]) -> float | None:
    """The median fit seconds per epoch of the measured trials like this one."""
    wanted = _cost_identity(trial.config())
    rates = []
    for r in records:
        if _cost_identity(r.config) != wanted:
            continue
        if EPOCH_SECONDS in r.timings:  # measured epoch by epoch (``measure``)
            rates.append(r.timings[EPOCH_SECONDS])
            continue
        # a model that fits on its own has no epochs: its "epoch" is the whole fit
        epochs = r.fit.get("epochs_run") or (None if trial.uses.uses_train else 1)
        if epochs and "fit_seconds" in r.timings:
            rates.append(r.timings["fit_seconds"] / epochs)
    return median(rates) if rates else None


@dataclass(frozen=True)
class ArmCost:
    arm: str
    trials: int
    tuning_epochs: int  # at most: ASHA stops some configurations before their budget
    training_epochs: int  # at most: early stopping may end a trial before its budget
    seconds_per_epoch: float | None  # None: not measured on this machine yet

    @property
    def seconds(self) -> float | None:
        if self.seconds_per_epoch is None:
            return None
        return self.seconds_per_epoch * (self.tuning_epochs + self.training_epochs)


def arm_costs(trials: list[TrialSpec], records: list[TrialRecord],
              fits_kept: bool = True) -> list[ArmCost]:
    """Per arm, in file order: its epochs at most, and their cost where measured; a model
    that fits on its own counts one "epoch" a fit. ``fits_kept``: whether the searches'
    fits reach the trials (``run.fitted.fits_reach_trials``)."""
    by_arm: dict[str, list[TrialSpec]] = {}
    for t in trials:
        by_arm.setdefault(t.arm, []).append(t)

    def epochs(t: TrialSpec, budget: int) -> int:
        return budget if t.uses.uses_train else 1

    out = []
    for arm, rows in by_arm.items():
        tuning = sum(configurations_tried(t.tune.space, t.tune.configurations)
                     * epochs(t, t.tune.max_epochs) for t in rows if t.tune)
        # a tuned trial takes its search's fit of the chosen configuration when the
        # search trained it for the trial's whole budget (run.fitted)
        training = sum(0 if fits_kept and t.tune and t.tune.max_epochs == t.train.max_epochs
                       else epochs(t, t.train.max_epochs) for t in rows)
        rates = [r for r in (seconds_per_epoch(t, records) for t in rows) if r is not None]
        out.append(ArmCost(arm, len(rows), tuning, training, median(rates) if rates else None))
    return out


def unmeasured_arms(trials: list[TrialSpec], records: list[TrialRecord]
                    ) -> list[TrialSpec]:
    """The first trial of each arm that no record measures."""
    measured = {c.arm for c in arm_costs(trials, records) if c.seconds_per_epoch}
    firsts: dict[str, TrialSpec] = {}
    for t in trials:
        if t.arm not in measured:
            firsts.setdefault(t.arm, t)
    return list(firsts.values())


def measure(trials: list[TrialSpec], env: Any, store: ResultStore,
            started: Callable[[TrialSpec], None] = lambda t: None, debug: bool = False
            ) -> list[TrialRecord]:
    """Train each trial for two epochs, untuned (its seed's data, its arm's settings),
    and keep the records in ``store`` with the second epoch's seconds (times the
    ensemble's members): an arm's cost per epoch on this machine. What the first epoch
    pays once (a model's earlier stage, a simulated data set, torch's first calls) is
    left out: the multi-path CNN's stage 1 is trained once per seed for every arm."""
    import time

    from cryobench.run.execute import prepare_data, run_isolated

    prepare_data(trials, env)
    records = []
    for trial in trials:
        two_epochs = replace(trial, tune=None, tuning=None,
                             train=replace(trial.train, max_epochs=2, patience=0))
        started(two_epochs)
        ends: dict[int, list[float]] = {}  # member -> when each of its epochs ended
        env.on_epoch = lambda record: ends.setdefault(record.get("member", 1), []).append(
            time.perf_counter())
        record = run_isolated(two_epochs, env, debug)
        env.on_epoch = None
        laps = [b - a for times in ends.values() for a, b in zip(times, times[1:])]
        if record.ok and laps:
            record.timings[EPOCH_SECONDS] = median(laps) * len(ends)
        store.append(record)
        records.append(record)
    return records


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
