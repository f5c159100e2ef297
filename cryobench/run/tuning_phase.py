"""Tuning as a phase of the one driver loop: before the trials train, each tuned trial's
search runs through the executor the run chose, and its outcome is kept; the trials
then train what was chosen (:mod:`cryobench.run.tuning` says what a search is and
keeps, :mod:`cryobench.run.search` how one runs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from cryobench.errors import CryobenchError
from cryobench.interrupts import interrupts_deferred
from cryobench.run.fitted import FittedStore, fit_key
from cryobench.run.plan import TrialSpec
from cryobench.run.results import ResultStore
from cryobench.run.search import Search, SearchLog
from cryobench.run.tuning import (
    EndedConfiguration, TuningOutcome, choose, configurations_store, forget_search,
    values_key,
)
from cryobench.run.views import trial_label
from cryobench.search_space import sample_configurations

Phase = Callable[[str, int, int], None]


class SearchExecutor(Protocol):
    """What tuning asks of an executor (:class:`~cryobench.run.executors.Executor`)."""

    def search(self, searches: list[Search], phase: Phase) -> None: ...


class Tuning:
    """Chooses the configuration of the trials that ask for it. Outcomes go to
    ``store`` (``<results>/<name>.tuning.jsonl``) and each configuration as it ends to
    the file beside it, so an interrupted run tunes again only what had not ended."""

    def __init__(self, store: ResultStore, cache_dir: Path,
                 warn: Callable[[str], None] | None = None) -> None:
        self.store, self.cache_dir, self.warn = store, cache_dir, warn
        self.ended = configurations_store(store)

    def check_writable(self) -> None:
        """Before any training, like the result file."""
        self.store.check_writable()
        self.ended.check_writable()

    def resolve(self, trials: list[TrialSpec], executor: SearchExecutor, phase: Phase,
                rerun: bool = False) -> tuple[list[TrialSpec], list[tuple[TrialSpec, str]]]:
        """The trials with their tuned configurations (tuned now through ``executor``,
        or read back from an earlier run unless ``rerun``), and the tuned trials whose
        tuning failed, with the reason."""
        read = self.store.read()
        self._say(read.warning(self.store.path, "those searches run again"))
        known: dict[str, TuningOutcome] = {} if rerun else read.finished()
        todo = [t for t in trials if t.tune is not None and t.key not in known]
        if todo:
            # what ended in earlier, cut-off searches, read once for all of them
            earlier = [] if rerun else self._read_ended()
            executor.search([self.search(t, phase, known, earlier, replay=not rerun)
                             for t in todo], phase)
        ready, failed = [], []
        for trial in trials:
            if trial.tune is None:
                ready.append(trial)
                continue
            outcome = known.get(trial.key)
            if outcome is None or not outcome.ok:
                failed.append((replace(trial, tuning=outcome.summary() if outcome else None),
                               f"tuning failed: {outcome.error if outcome else 'not run'}"))
            else:
                ready.append(replace(trial, tuning=outcome.summary()))
        return ready, failed

    def _read_ended(self) -> list[EndedConfiguration]:
        read = self.ended.read()
        self._say(read.warning(self.ended.path, "those configurations are trained again"))
        return list(read.records.values())

    def _say(self, warning: str | None) -> None:
        if warning and self.warn is not None:
            self.warn(warning)

    def search(self, trial: TrialSpec, phase: Phase, known: dict[str, TuningOutcome],
               earlier: list[EndedConfiguration], replay: bool = True) -> Search:
        """The trial's search: every configuration of its budget, those that ended in an
        earlier, cut-off search (``earlier``) replayed unless not ``replay``; its outcome
        goes to ``known`` and the store when the executor finishes it."""
        assert trial.tune is not None
        label = f"tuning {trial_label(trial)}"  # two class subsets: two searches
        configurations = sample_configurations(trial.tune)
        if not replay:
            forget_search(self.ended, trial.key)
        ended = {c.sample: (values_key(c.values), c.reports)
                 for c in earlier if c.trial == trial.key} if replay else {}
        unsaved: list[CryobenchError] = []

        def keep(sample: int, values: dict[str, Any], reports: list[dict[str, Any]]) -> None:
            # a replayed one is kept again only when it went on (its record is longer)
            if unsaved or ended.get(sample) == (values_key(values), reports):
                return
            try:
                with interrupts_deferred():
                    self.ended.append(EndedConfiguration(
                        f"{trial.key}/{sample}", trial.key, sample, values, reports))
            except CryobenchError as exc:  # an executor may take it for the trial's error
                unsaved.append(exc)

        log = SearchLog(lambda done: phase(label, done, len(configurations)), keep)

        def finish() -> TuningOutcome:
            if unsaved:
                raise unsaved[0]
            outcome = choose(trial.key, trial.arm, trial.seed, log.configurations())
            # the trial takes the chosen configuration's fit; the others are not needed
            chosen = fit_key(trial, outcome.chosen) if outcome.ok else None
            FittedStore(self.cache_dir).discard([
                key for key in (fit_key(trial, c["values"]) for c in outcome.configurations)
                if key != chosen])
            with interrupts_deferred():
                self.store.append(outcome)
            known[trial.key] = outcome
            return outcome

        return Search(trial, configurations, ended, log, label,
                      begin=lambda: phase(label, 0, len(configurations)), finish=finish,
                      unsaved=unsaved)
