"""One search, whichever executor runs it: the configurations a tuned trial tries, what
each reports as it trains, the ASHA rungs that stop the trailing ones, and what is kept
of each as it ends (:mod:`cryobench.run.tuning` says what tuning is and keeps).

An executor runs a search's configurations with :func:`train_configuration` and hands
what they report to the search's :class:`SearchLog`: the local executor one after
another in this process (its scheduler is :class:`Rungs`), Ray's through Ray Tune (its
``ASHAScheduler``, which decides as :class:`Rungs` does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cryobench.contract.records import DEFERRED, EpochRecord
from cryobench.errors import CryobenchError
from cryobench.run.fitted import FittedStore
from cryobench.run.plan import TrialSpec
from cryobench.run.trial import TrialEnvironment, validation_score
from cryobench.run.tuning import (
    ERROR_KEY, SCORE_KEY, SELECTION_KEY, STEP_KEY, TuningOutcome, check_candidate, plain,
    values_key,
)
from cryobench.specs import TuneSpec

#: what a configuration reports: ``STEP_KEY`` and ``SCORE_KEY`` after each judged epoch,
#: ``SCORE_KEY`` alone after an epoch the scheduler does not judge, and last
#: ``SELECTION_KEY`` (the fitted predictor's score) or ``ERROR_KEY``
Report = Callable[[dict[str, Any]], None]
#: a configuration's earlier reports (by sample number): its values and what it reported
Replay = dict[int, tuple[str, list[dict[str, Any]]]]


class StopConfiguration(BaseException):
    """Raised from a report the scheduler stops the configuration at (a local search):
    the training under it ends there. A BaseException, as Ctrl-C is, so that a plugin's
    ``except Exception`` does not swallow it (Ray's scheduler stops a worker whatever the
    plugin catches)."""


class Rungs:
    """ASHA's rungs for one search, deciding as Ray Tune's ``ASHAScheduler`` does with one
    bracket and ``stop_last_trials=False`` (tested against it): at each rung, a
    configuration below the best ``1/reduction_factor`` of those recorded there stops."""

    def __init__(self, grace_period: int, max_t: int, reduction_factor: int) -> None:
        count = int(np.log(max_t / grace_period) / np.log(reduction_factor) + 1)
        self.reduction_factor = reduction_factor
        self.rungs: list[tuple[int, dict[int, float]]] = [
            (grace_period * reduction_factor ** k, {}) for k in reversed(range(count))]

    @classmethod
    def of(cls, spec: TuneSpec) -> Rungs | None:
        """The search's rungs (none for FIFO); strictly before the budget's last epoch:
        a configuration trained whole is judged by its selection score alone."""
        if spec.scheduler != "asha":
            return None
        return cls(spec.grace_period, spec.max_epochs - 1, spec.reduction_factor)

    def goes_on(self, sample: int, step: int, score: float) -> bool:
        """Whether configuration ``sample`` trains on after scoring ``score`` at ``step``."""
        for milestone, recorded in self.rungs:  # the highest rung first
            if step >= milestone and sample in recorded:
                return True  # decided at this rung already
            if step < milestone or sample in recorded:
                continue
            cutoff = np.nanpercentile(list(recorded.values()),
                                      (1 - 1 / self.reduction_factor) * 100) \
                if recorded else None
            recorded[sample] = score
            return cutoff is None or not score < cutoff
        return True


class SearchLog:
    """What every configuration of a search reported, collected in the driver as it
    arrives, in the order sampled. Each one that ends (trained whole, stopped by the
    scheduler, or failed as it would fail again: diverged, refused) goes to ``keep``
    with its sample number and reports; not one whose worker failed (memory, a node
    lost): a later search tries it again."""

    def __init__(self, progress: Callable[[int], None] | None = None,
                 keep: Callable[[int, dict[str, Any], list[dict[str, Any]]], None]
                 | None = None) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.reports: dict[int, list[dict[str, Any]]] = {}
        self.done, self.progress, self.keep = 0, progress, keep

    def row(self, sample: int, values: dict[str, Any]) -> dict[str, Any]:
        if sample not in self.rows:
            self.rows[sample] = {"values": {k: plain(v) for k, v in values.items()},
                                 "status": "stopped", "curve": [], "score": None,
                                 "started": len(self.rows) + 1}
        return self.rows[sample]

    def started(self, sample: int, values: dict[str, Any]) -> None:
        self.row(sample, values)

    def reported(self, sample: int, values: dict[str, Any], report: dict[str, Any]) -> None:
        row = self.row(sample, values)
        self.reports.setdefault(sample, []).append(
            {k: plain(report[k]) for k in REPORTED if k in report})
        if SELECTION_KEY in report:
            row["status"], row["score"] = "finished", float(report[SELECTION_KEY])
        elif ERROR_KEY in report:
            row["status"], row["error"] = "failed", str(report[ERROR_KEY])
        elif SCORE_KEY in report:
            row["curve"].append(float(report[SCORE_KEY]))

    def ended(self, sample: int, values: dict[str, Any]) -> None:
        """Trained whole, stopped, or failed as it reported: kept."""
        row = self.row(sample, values)
        if self.keep is not None:
            self.keep(sample, row["values"], self.reports.get(sample, []))
        self._count()

    def restarted(self, sample: int, values: dict[str, Any]) -> None:
        """Trained again from its start (its worker failed): it reports everything again."""
        row = self.row(sample, values)
        row.update(status="stopped", curve=[], score=None)
        row.pop("error", None)
        self.reports.pop(sample, None)

    def worker_failed(self, sample: int, values: dict[str, Any], reason: str) -> None:
        """Its worker failed (not kept: it may not fail next time)."""
        row = self.row(sample, values)
        row["status"], row["error"] = "failed", reason
        self._count()

    def _count(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done)

    def configurations(self) -> list[dict[str, Any]]:
        return [self.rows[s] for s in sorted(self.rows)]


REPORTED = (STEP_KEY, SCORE_KEY, SELECTION_KEY, ERROR_KEY)


@dataclass
class Search:
    """One tuned trial's search, as the driver hands it to an executor: which
    configurations to train (``configurations[n]`` is sample ``n``), what those that
    ended in an earlier, cut-off search reported (``replay``), where the reports go
    (``log``), and what happens when it is over (``finish``: the outcome chosen and
    kept)."""

    trial: TrialSpec
    configurations: list[dict[str, Any]]
    replay: Replay
    log: SearchLog
    label: str  # what the progress display calls it
    begin: Callable[[], None]  # the executor is about to train it
    finish: Callable[[], TuningOutcome]  # the executor has run every configuration
    #: what could not be kept (a full disk): ``finish`` raises it, and an executor that
    #: can stops training the rest, which could not be kept either
    unsaved: list[Exception] = field(default_factory=list)

    @property
    def spec(self) -> TuneSpec:
        assert self.trial.tune is not None
        return self.trial.tune


def train_configuration(trial: TrialSpec, values: dict[str, Any], env: TrialEnvironment,
                        report: Report, recorded: tuple[str, list[dict[str, Any]]] | None
                        = None, keep: FittedStore | None = None, debug: bool = False) -> None:
    """One configuration trained on the seed's training split, each epoch's validation
    macro F1 reported (for the scheduler), then the fitted predictor's; or, when it
    ended in an earlier search (``recorded``), what it reported then.

    A configuration the scheduler stopped in that search, which this one lets go on
    (several configurations at once report in another order), trains from the start and
    reports from where its replay ended: training is seeded, so its first epochs give
    what was replayed (to the bit on a CPU; a GPU's kernels may differ slightly). A fit
    that scores is kept in ``keep`` for the trial, when the search trains the trial's
    own epochs. Anything but a CryobenchError (memory, a plugin's bug) goes up: the
    executor's to try again or record."""
    replayed = 0  # the scheduler's steps replayed
    if recorded is not None and recorded[0] == values_key(values):
        for line in recorded[1]:
            report(line)
        if any(SELECTION_KEY in r or ERROR_KEY in r for r in recorded[1]):
            return
        replayed = max((r.get(STEP_KEY, 0) for r in recorded[1]), default=0)

    assert trial.tune is not None
    budget = replace(trial, train=replace(trial.train, max_epochs=trial.tune.max_epochs))
    steps = 0

    def on_epoch(record: EpochRecord) -> None:
        # the scheduler counts the epochs of the first network only (an ensemble's later
        # members would be compared with another configuration's first), and not those
        # before a loss's final phase (LDAM's re-weighting), when nothing may stop yet;
        # nor the budget's last, which may fall on a rung once some are not counted: a
        # configuration trained whole is judged by its selection score alone
        nonlocal steps
        if SCORE_KEY not in record.figures:
            return
        first = record.member in (None, 1)
        judged = first and record.phase != DEFERRED and \
            record.epoch < budget.train.max_epochs
        steps += judged
        # the scheduler stops at a step, so what was replayed is the first network's
        # epochs through that step: its deferred ones come before its first step, and
        # its last, never a step, after its last
        if replayed and first and (steps < replayed or judged and steps == replayed):
            return
        # every report carries the scheduler's metric (Tune wants it); the last one
        # carries no step, so ASHA does not judge it
        report({STEP_KEY: steps, SCORE_KEY: record.figures[SCORE_KEY]} if judged
               else {SCORE_KEY: record.figures[SCORE_KEY]})

    env.on_epoch = on_epoch
    try:
        check_candidate(budget.with_values(values), env)
        # the trial takes the chosen configuration's fit when it trains the same epochs
        kept = keep if budget.train == trial.train else None
        score = validation_score(budget, env, values, kept)
    except CryobenchError as exc:  # diverged, or refused: it loses, and would again
        if debug:
            raise
        report({SCORE_KEY: 0.0, ERROR_KEY: str(exc)})
        return
    report({SCORE_KEY: score, SELECTION_KEY: score})


def search_here(search: Search, env: TrialEnvironment, keep: FittedStore | None,
                debug: bool = False) -> None:
    """Run a search in this process, one configuration after another, ASHA deciding as
    each reports (as Ray Tune's does with one configuration at a time). A configuration
    that raises anything but a CryobenchError (a plugin's bug, memory) is tried once
    more from its start, as Ray tries a failed worker again; then it is recorded as
    failed and not kept, so a later search tries it again."""
    rungs = Rungs.of(search.spec)
    log = search.log
    for sample, values in enumerate(search.configurations):
        if search.unsaved:  # the disk is full: training on would be thrown away
            return
        log.started(sample, values)
        for attempt in (1, 2):
            stopped = False

            def report(line: dict[str, Any], sample: int = sample,
                       values: dict[str, Any] = values) -> None:
                nonlocal stopped
                if stopped:  # whatever the plugin made of the first stop: still stopped
                    raise StopConfiguration
                log.reported(sample, values, line)
                if rungs is not None and STEP_KEY in line and \
                        not rungs.goes_on(sample, line[STEP_KEY], line[SCORE_KEY]):
                    stopped = True
                    raise StopConfiguration

            try:
                train_configuration(search.trial, values, env, report,
                                    search.replay.get(sample), keep, debug)
            except StopConfiguration:
                pass
            except Exception as exc:
                if stopped:  # a plugin turned the stop into its own error: stopped
                    pass
                elif debug:
                    raise
                elif attempt == 1:
                    log.restarted(sample, values)
                    continue
                else:
                    log.worker_failed(sample, values, f"it failed twice: "
                                                      f"{type(exc).__name__}: {exc}")
                    break
            log.ended(sample, values)
            break
