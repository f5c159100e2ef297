"""How long a run has left, weighing each trial by what its arm costs.

Arms differ a hundredfold in cost on one machine (undersampling half a minute, SMOTE with
an ensemble of five half an hour), so "the mean trial so far times the trials left"
misleads for hours. Costs are kept per member-epoch (a trial's seconds over its members
times its epochs) for each combination of components. A pending trial whose combination
has finished (in this run, or in the result file already) counts at that; one that has
not, at the nearest finished combination, times what each component that differs did
elsewhere (SMOTE + boosting: SMOTE's rate, times what boosting cost the plain network
over its own). Trials that run side by side (Ray) divide what is left among them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from statistics import median

from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord

#: what decides a trial's cost per member-epoch: its components by kind, the recipe, the
#: classes it is trained on
Combination = tuple[object, ...]


def members(trial: TrialSpec) -> int:
    """The networks (or models) a trial trains: an ensemble's ``members``, else one."""
    return max(1, int(trial.ensemble.params.get("members", 1) or 1))


def work(trial: TrialSpec) -> float:
    """A trial's cost in member-epochs (one fit for a model that fits on its own)."""
    return float(members(trial) * (trial.train.max_epochs if trial.uses.uses_train else 1))


def combination(trial: TrialSpec) -> Combination:
    return (trial.model.name, trial.sampler.name, trial.loss.name,
            tuple(a.name for a in trial.augment), trial.ensemble.name,
            tuple(a.name for a in trial.recipe), tuple(trial.dataset.classes or ()))


class TimeLeft:
    """The estimate a run's view shows; fed the trials as they start and finish."""

    def __init__(self, pending: Iterable[TrialSpec],
                 earlier: Iterable[tuple[TrialSpec, TrialRecord]] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.waiting = {t.key: t for t in pending}
        self.running: dict[str, tuple[TrialSpec, float]] = {}
        self.rates: dict[Combination, list[float]] = defaultdict(list)
        for trial, record in earlier:
            if record.ok:
                self._learn(trial, record.seconds)
        self.first_start: float | None = None
        self.run_seconds = 0.0  # what this run's finished trials took, added up

    def started(self, trial: TrialSpec) -> None:
        now = self.clock()
        self.first_start = now if self.first_start is None else self.first_start
        self.waiting.pop(trial.key, None)
        self.running[trial.key] = (trial, now)

    def finished(self, trial: TrialSpec, record: TrialRecord) -> None:
        self.waiting.pop(trial.key, None)
        _, since = self.running.pop(trial.key, (trial, self.clock()))
        took = self.clock() - since
        self.run_seconds += took
        if record.ok:
            self._learn(trial, record.seconds or took)

    def seconds(self) -> float | None:
        """Wall seconds left; None until a trial of this run has finished."""
        if self.first_start is None or not self.run_seconds or not self.rates:
            return None
        now = self.clock()
        rates = {c: median(r) for c, r in self.rates.items()}
        left = sum(_rate(combination(t), rates) * work(t) for t in self.waiting.values())
        left += sum(max(0.0, _rate(combination(t), rates) * work(t) - (now - since))
                    for t, since in self.running.values())
        # trials side by side: the run's finished trial-seconds per second of wall time
        at_once = max(1.0, self.run_seconds / max(now - self.first_start, 1e-9))
        return left / min(at_once, max(1, len(self.running)))

    def _learn(self, trial: TrialSpec, seconds: float) -> None:
        if seconds > 0:
            self.rates[combination(trial)].append(seconds / work(trial))


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
