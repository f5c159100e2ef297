"""What a run will cost, from the seconds per epoch that earlier trials of the same arm
took on this machine (its result files), before anything is started; on a machine that
has run none, from two epochs of each arm trained to measure it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any

from cryobench.run.cost_model import combination, composed_rate, member_count
from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord
from cryobench.run.results import TUNING_FILES, ResultStore
from cryobench.search_space import configurations_tried

#: a measured epoch of one member of the trial's model, validation included (records of
#: ``measure``); MEMBERS: how many members trained
MEMBER_EPOCH_SECONDS = "member_epoch_seconds"
MEMBERS = "members"
#: what older measured records kept: an epoch of every member at once
EPOCH_SECONDS = "epoch_seconds"
#: a part of a fit report that every arm and member of a split shares, trained once per
#: split (the multi-path CNN's stage 1): its figures say ``shared: "split"``
SHARED = "shared"

#: what may differ between a measured trial and the one estimated: the per-epoch cost
#: is the same whatever the seed, the fold or the tuning
NOT_COST = ("schema", "seed", "fold", "tune", "tuned")
#: the training settings that change what an epoch costs; the others (the epoch budget,
#: the learning rate and its schedule, the stopping rule) do not
COST_OF_TRAINING = ("batch_size", "eval_batch_size", "device", "precision")


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


@dataclass(frozen=True)
class Measured:
    """What one finished trial says of its cost: an epoch of all its members, how many
    there were (None: an older measurement that did not say), and what it trained of the
    stage shared by its split (0: taken from the cache)."""

    epoch_seconds: float
    members: int | None
    shared_seconds: float


def measured_cost(record: TrialRecord, uses_train: bool = True) -> Measured | None:
    """A record's cost figures; None where it says nothing of them."""
    timings, shared = record.timings, shared_seconds(record.fit)
    if MEMBER_EPOCH_SECONDS in timings:  # measured epoch by epoch (``measure``)
        members = int(timings.get(MEMBERS, 1))
        return Measured(timings[MEMBER_EPOCH_SECONDS] * members, members, shared)
    if EPOCH_SECONDS in timings:  # an older measurement: every member's epoch at once
        return Measured(timings[EPOCH_SECONDS], None, shared)
    seconds, epochs, fits = training(record.fit)
    if epochs:  # ``epochs`` counts every member's: one epoch of them all is fits times
        return Measured(seconds / epochs * fits, fits, shared)
    if record.fit.get("epochs_run") and "fit_seconds" in timings:  # a report without its
        return Measured((timings["fit_seconds"] - shared) / record.fit["epochs_run"], 1,
                        shared)                                  # own seconds
    if not uses_train and "fit_seconds" in timings:  # a model that fits on its own: its
        return Measured(timings["fit_seconds"], 1, 0.0)  # "epoch" is the whole fit
    return None


def training(fit: dict[str, Any]) -> tuple[float, int, int]:
    """(seconds, epochs, fits) of the trainings a fit report is made of (an ensemble's
    members, a combiner's model), the shared stage left out."""
    if fit.get(SHARED):
        return 0.0, 0, 0
    if fit.get("epochs_run") and "fit_seconds" in fit:
        return float(fit["fit_seconds"]), int(fit["epochs_run"]), 1
    parts = [training(part) for part in fit.get("parts", {}).values()]
    return (sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts))


def shared_seconds(fit: dict[str, Any]) -> float:
    """Seconds a fit spent training the stage its split shares (0: from the cache)."""
    if fit.get(SHARED):
        return float(fit.get("fit_seconds", 0.0))
    return sum(shared_seconds(part) for part in fit.get("parts", {}).values())


def _alike(trial: TrialSpec, records: list[TrialRecord]) -> list[Measured]:
    wanted = _cost_identity(trial.config())
    found = (measured_cost(r, trial.uses.uses_train) for r in records
             if _cost_identity(r.config) == wanted)
    return [m for m in found if m is not None]


def seconds_per_epoch(trial: TrialSpec, records: list[TrialRecord]) -> float | None:
    """The median seconds of an epoch of all the trial's members, in the measured trials
    like this one."""
    rates = [m.epoch_seconds for m in _alike(trial, records)]
    return median(rates) if rates else None


@dataclass(frozen=True)
class ArmCost:
    arm: str
    trials: int
    members: int | None  # trained per trial, as measured (None: not known yet)
    tuning_epochs: int  # at most, every member's: ASHA stops some configurations sooner
    training_epochs: int  # at most, every member's: early stopping may end a trial sooner
    seconds_per_epoch: float | None  # one member's epoch; None: not measured here yet
    #: the arm was not measured: its members are what its file says, and its epoch is
    #: composed from the measured arms (``cost_model.composed_rate``)
    composed: bool = False

    @property
    def seconds(self) -> float | None:
        if self.seconds_per_epoch is None:
            return None
        return self.seconds_per_epoch * (self.tuning_epochs + self.training_epochs)


def _per_member(measured: list[Measured]) -> tuple[int | None, float | None]:
    """An arm's members and one member's epoch, from its measurements: an epoch of them
    all over the members (records that did not say how many count as many as those that
    did, or one)."""
    known = [m.members for m in measured if m.members]
    members = max(known) if known else None
    if not measured:
        return members, None
    return members, median(m.epoch_seconds for m in measured) / (members or 1)


@dataclass(frozen=True)
class SharedCost:
    """The stage every arm and member of a split shares, trained once per split."""

    splits: int
    seconds_per_split: float | None

    @property
    def seconds(self) -> float | None:
        return None if self.seconds_per_split is None else self.splits * self.seconds_per_split


def arm_costs(trials: list[TrialSpec], records: list[TrialRecord],
              fits_kept: bool = True) -> list[ArmCost]:
    """Per arm, in file order: its epochs at most (every member's), and their cost where
    measured; a model that fits on its own counts one "epoch" a fit. ``fits_kept``:
    whether the searches' fits reach the trials (``run.fitted.fits_reach_trials``)."""
    by_arm: dict[str, list[TrialSpec]] = {}
    for t in trials:
        by_arm.setdefault(t.arm, []).append(t)

    def epochs(t: TrialSpec, budget: int) -> int:
        return budget if t.uses.uses_train else 1

    out = []
    for arm, rows in by_arm.items():
        members, rate = _per_member([m for t in rows for m in _alike(t, records)])
        tuning = sum(configurations_tried(t.tune.space, t.tune.configurations)
                     * epochs(t, t.tune.max_epochs) for t in rows if t.tune)
        # a tuned trial takes its search's fit of the chosen configuration when the search
        # trained it for the trial's whole budget (run.fitted)
        training_epochs = sum(
            0 if fits_kept and t.tune and t.tune.max_epochs == t.train.max_epochs
            else epochs(t, t.train.max_epochs) for t in rows)
        out.append(ArmCost(arm, len(rows), members, tuning * (members or 1),
                           training_epochs * (members or 1), rate))
    return _composed(out, {rows[0].arm: rows[0] for rows in by_arm.values()})


def _composed(costs: list[ArmCost], first: dict[str, TrialSpec]) -> list[ArmCost]:
    """The unmeasured arms costed from the measured ones of the same kind of model, in
    the cost model's units (an epoch of every member, over the members its file names:
    the GP combiner names members it trains only for models without paths)."""
    def unit(cost: ArmCost) -> float:
        return cost.seconds_per_epoch * (cost.members or 1) / member_count(first[cost.arm])

    measured = [c for c in costs if c.seconds_per_epoch]
    trained = {first[c.arm].ensemble: c.members for c in measured if c.members}
    out = []
    for cost in costs:
        trial = first[cost.arm]
        rates = {combination(first[c.arm]): unit(c) for c in measured
                 if first[c.arm].uses.uses_train == trial.uses.uses_train}
        if cost.seconds_per_epoch or not rates:
            out.append(cost)
            continue
        n = trained.get(trial.ensemble) or member_count(trial)
        epoch = composed_rate(combination(trial), rates) * member_count(trial)
        out.append(replace(cost, members=n, tuning_epochs=cost.tuning_epochs * n,
                           training_epochs=cost.training_epochs * n, composed=True,
                           seconds_per_epoch=epoch / n))
    return out


def shared_cost(trials: list[TrialSpec], records: list[TrialRecord]) -> SharedCost:
    """The shared stage's cost: once per split (seed, fold, data) of the trials whose
    model trained one in a record here, at the median of what it took there. A stage is
    told apart by the data, the model and the training settings an epoch's cost depends
    on (two arms that differ only in a later stage's parameters count it twice: at most)."""
    def stage(config: dict[str, Any]) -> str:
        import json

        train = config.get("train") or {}
        return json.dumps([config.get("dataset"), config.get("model"), config.get("recipe"),
                           {k: train.get(k) for k in COST_OF_TRAINING}],
                          sort_keys=True, default=str)

    seconds: dict[str, list[float]] = {}
    for r in records:
        if (spent := shared_seconds(r.fit)) > 0:
            seconds.setdefault(stage(r.config), []).append(spent)
    splits = {(t.seed, t.fold, stage(t.config())) for t in trials
              if stage(t.config()) in seconds}
    per_split = [median(seconds[s]) for _, _, s in splits]
    return SharedCost(len(splits), sum(per_split) / len(per_split) if per_split else None)


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
    and keep the records in ``store`` with a member's second epoch's seconds and the
    members trained: an arm's cost per epoch on this machine. What the first epoch pays
    once (a simulated data set, torch's first calls) is left out; what a split shares
    (the multi-path CNN's stage 1) is in the record's fit, counted once per split."""
    import time

    from cryobench.run.trial import prepare_data, run_isolated

    prepare_data(trials, env)
    records = []
    for trial in trials:
        two_epochs = replace(trial, tune=None, tuning=None,
                             train=replace(trial.train, max_epochs=2, patience=0))
        started(two_epochs)
        ends: dict[int, list[float]] = {}  # member -> when each of its epochs ended
        env.on_epoch = lambda record: ends.setdefault(record.member or 1, []).append(
            time.perf_counter())
        record = run_isolated(two_epochs, env, debug)
        env.on_epoch = None
        laps = [b - a for times in ends.values() for a, b in zip(times, times[1:])]
        if record.ok and laps:
            record.timings[MEMBER_EPOCH_SECONDS] = median(laps)
            record.timings[MEMBERS] = len(ends)
        store.append(record)
        records.append(record)
    return records


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
