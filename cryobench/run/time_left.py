"""How long a run has left, weighing each trial by what its arm costs.

Arms differ a hundredfold in cost on one machine (undersampling half a minute, SMOTE with
an ensemble of five half an hour), so "the mean trial so far times the trials left"
misleads for hours. Costs are kept per member-epoch (a trial's seconds over its members
times its epochs; a model that fits on its own, per fit) for each combination of
components. A pending trial whose combination has finished (in this run, or in the
result file) counts at that; one that has not, at the nearest finished combination of
the same kind of model, times what each differing component did where it was the only
difference (SMOTE + boosting: SMOTE's rate, times what boosting cost the plain network
over its own). Trials side by side (Ray) share what is left, as many at once as ran on
average, but the run lasts at least its longest trial still to go.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from statistics import mean, median
from typing import NamedTuple

from cryobench.run.estimate import shared_seconds
from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord


class Combination(NamedTuple):
    """What decides a trial's cost per member-epoch (component parameters aside, but for
    the model's: its size is its cost)."""

    trains: bool  # a network trained for epochs, or a model that fits on its own
    model: str
    sampler: str
    loss: str
    augment: tuple[str, ...]
    ensemble: str
    recipe: tuple[str, ...]
    data: str  # the data set and class subset
    settings: str  # batch sizes, device, precision
    reused_fit: bool  # a tuned trial that takes its search's fit: no training of its own


def members(trial: TrialSpec) -> int:
    """The networks (or models) a trial trains: an ensemble's ``members``, else one."""
    count = trial.ensemble.params.get("members", 1)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 \
        else 1


def work(trial: TrialSpec) -> float:
    """A trial's cost in member-epochs (one fit for a model that fits on its own)."""
    return float(members(trial) * (trial.train.max_epochs if trial.uses.uses_train else 1))


def combination(trial: TrialSpec, reused_fit: bool = False) -> Combination:
    """The trial's cost identity; ``reused_fit``: it takes its search's fit."""
    def text(value: object) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    train = trial.train
    return Combination(
        trial.uses.uses_train, f"{trial.model.name} {text(trial.model.params)}",
        trial.sampler.name, trial.loss.name, tuple(a.name for a in trial.augment),
        trial.ensemble.name, tuple(a.name for a in trial.recipe), text(trial.dataset),
        text([train.batch_size, train.eval_batch_size, train.device, train.precision]),
        reused_fit)


def reuses_fit(trial: TrialSpec) -> bool:
    """Whether the trial will take its search's fit (``run.fitted``): tuned, and the
    search trained its configurations for the trial's whole budget."""
    return trial.tune is not None and trial.tune.max_epochs == trial.train.max_epochs


class TimeLeft:
    """The estimate a run's view shows; fed the trials as they start and finish."""

    def __init__(self, pending: Iterable[TrialSpec],
                 earlier: Iterable[tuple[TrialSpec, TrialRecord]] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._waiting = {t.key: t for t in pending}
        self._running: dict[str, tuple[TrialSpec, float]] = {}
        self._rates: dict[Combination, list[float]] = defaultdict(list)
        for trial, record in earlier:
            if record.ok:  # a reused fit's seconds are its search's, spent before
                reused = record.timings.get("fit_seconds", 0.0) \
                    if record.tuning.get("reused_fit") else 0.0
                self._learn(trial, record, record.seconds - reused)
        self._first_start: float | None = None
        self._busy = 0.0  # trial-seconds run so far: the time integral of trials running
        self._since = 0.0  # when _busy was last brought up to date
        self._took: list[float] = []  # this run's trials, as the view timed them

    def started(self, trial: TrialSpec) -> None:
        now = self._tick()
        self._first_start = now if self._first_start is None else self._first_start
        self._waiting.pop(trial.key, None)
        self._running[trial.key] = (trial, now)

    def finished(self, trial: TrialSpec, record: TrialRecord) -> None:
        now = self._tick()
        self._waiting.pop(trial.key, None)
        _, since = self._running.pop(trial.key, (trial, now))
        if record.ok and now > since:
            self._took.append(now - since)
            self._learn(trial, record, now - since)

    def seconds(self) -> float | None:
        """Wall seconds left; None until a trial of this run has finished."""
        if self._first_start is None or not self._took:
            return None
        now = self._tick()
        left = [self._guess(t) for t in self._waiting.values()]
        left += [max(0.0, self._guess(t) - (now - since)) for t, since in self._running.values()]
        if not left:
            return 0.0
        at_once = self._busy / max(now - self._first_start, 1e-9)
        slots = min(max(1.0, at_once), len(left))
        return max(sum(left) / slots, max(left))

    def _tick(self) -> float:
        now = self._clock()
        if self._first_start is not None:
            self._busy += len(self._running) * (now - self._since)
        self._since = now
        return now

    def _learn(self, trial: TrialSpec, record: TrialRecord, seconds: float) -> None:
        # the stage a split shares was trained by the first arm to need it: not its cost
        seconds -= shared_seconds(record.fit)
        if seconds > 0:
            reused = bool(record.tuning.get("reused_fit"))
            self._rates[combination(trial, reused)].append(seconds / work(trial))

    def _guess(self, trial: TrialSpec) -> float:
        wanted = combination(trial, reuses_fit(trial))
        alike = {c: median(r) for c, r in self._rates.items() if c.trains == wanted.trains}
        if not alike:  # nothing of its kind has run: this run's mean trial
            return mean(self._took)
        return _rate(wanted, alike) * work(trial)


def _differ(a: Combination, b: Combination) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


def _rate(wanted: Combination, rates: dict[Combination, float]) -> float:
    """Seconds per member-epoch: as measured, else from the nearest measured
    combinations and what each difference cost where it was the only one."""
    if wanted in rates:
        return rates[wanted]
    nearest = min(len(_differ(c, wanted)) for c in rates)
    guesses = []
    for base, rate in rates.items():
        differ = _differ(base, wanted)
        if len(differ) == nearest:
            for i in differ:
                rate *= _factor(i, base[i], wanted[i], rates)
            guesses.append(rate)
    return median(guesses)


def _factor(i: int, old: object, new: object, rates: dict[Combination, float]) -> float:
    """What changing one part from ``old`` to ``new`` did to the rate, everything else
    the same (1 where no measured pair says)."""
    ratios = [rates[b] / rates[a] for a in rates for b in rates
              if a[i] == old and b[i] == new and _differ(a, b) == [i]]
    return median(ratios) if ratios else 1.0
