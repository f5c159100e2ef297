"""How long a run has left, weighing each trial by what its arm costs.

Arms differ a hundredfold in cost on one machine (undersampling half a minute, SMOTE with
an ensemble of five half an hour), so "the mean trial so far times the trials left"
misleads for hours. A pending trial counts at what its combination of components cost per
member-epoch in the finished trials (this run's, and the result file's), or, where none
has run, as :mod:`cryobench.run.cost_model` composes it from those that have. Trials side
by side (Ray) share what is left, as many at once as ran on average, but the run lasts
at least its longest trial still to go.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from statistics import mean, median

from cryobench.run.cost_model import (
    Combination, combination, composed_rate, reuses_fit, work,
)
from cryobench.run.estimate import shared_seconds
from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord


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
        return composed_rate(wanted, alike) * work(trial)
