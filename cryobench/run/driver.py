"""The one driver loop every executor reports to: it plans what is pending, stores each
result as it finishes, feeds tracking and the view, and returns the benchmark's records."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import Console
from rich.text import Text

from cryobench.contract.records import EpochRecord
from cryobench.interrupts import interrupts_deferred
from cryobench.run.executors import Executor
from cryobench.run.plan import TrialSpec, expand_trials
from cryobench.run.records import TrialRecord
from cryobench.run.results import ResultStore
from cryobench.run.time_left import TimeLeft
from cryobench.run.views import RunView, make_view
from cryobench.specs import Benchmark


class Tracker(Protocol):
    """Observes the run (MLflow); never steers it."""

    def trial_finished(self, trial: TrialSpec, record: TrialRecord) -> None: ...


@dataclass
class Plan:
    """Which trials the benchmark has, which are finished, and which are to run."""

    trials: list[TrialSpec]
    finished: dict[str, TrialRecord]
    pending: list[TrialSpec]

    def records(self) -> list[TrialRecord]:
        """Every trial's latest record, under the names the benchmark file gives it now."""
        return [self.finished[t.key].renamed(t.arm, t.benchmark)
                for t in self.trials if t.key in self.finished]


def plan_run(bench: Benchmark, store: ResultStore, console: Console, *,
             threads: int | None = None, rerun: bool = False) -> Plan:
    """Finished trials (same content hash, status ok) are skipped unless ``rerun``."""
    trials = expand_trials(bench, threads)
    existing = store.read()
    warning = existing.warning(store.path)
    if warning:
        console.print(Text(f"warning: {warning}"), highlight=False, soft_wrap=True)
    finished = {} if rerun else existing.finished()
    pending = [t for t in trials if t.key not in finished]
    if len(pending) < len(trials):
        console.print(Text(f"{len(trials) - len(pending)} of {len(trials)} trials already "
                           f"finished in {store.path}; running the other {len(pending)}"),
                      soft_wrap=True)
    return Plan(trials, dict(finished), pending)


@dataclass
class Driver:
    """The sink executors report to."""

    store: ResultStore
    view: RunView
    plan: Plan
    trackers: list[Tracker] = field(default_factory=list)

    def phase(self, phase: str, done: int, total: int) -> None:
        self.view.phase(phase, done, total)

    def started(self, trial: TrialSpec) -> None:
        self.view.started(trial)

    def epoch(self, trial: TrialSpec, record: EpochRecord) -> None:
        self.view.epoch(trial, record)

    def finished(self, trial: TrialSpec, record: TrialRecord) -> None:
        with interrupts_deferred():  # the record and its MLflow run, whole
            self.store.append(record)  # the durable record first
            self.plan.finished[trial.key] = record
            self.view.finished(trial, record)
            for tracker in self.trackers:
                tracker.trial_finished(trial, record)


def stored_records(bench: Benchmark, store: ResultStore, threads: int | None = None
                   ) -> list[TrialRecord]:
    """The benchmark's records the result file holds (finished or failed), under the
    names the file gives them now: what the leaderboard and tracking are built from."""
    return stored_records_noting(bench, store, threads)[0]


def stored_records_noting(bench: Benchmark, store: ResultStore, threads: int | None = None,
                          consequence: str = "they are left out") -> tuple[list[TrialRecord],
                                                                            str | None]:
    """:func:`stored_records`, and one line about the lines of the file that could not
    be read (None when all could): a reader that leaves records out says so."""
    read = store.read()
    records = [read.records[t.key].renamed(t.arm, t.benchmark)
               for t in expand_trials(bench, threads) if t.key in read.records]
    return records, read.warning(store.path, consequence)


class Tuner(Protocol):
    """Chooses the configuration of tuned trials before they train, through the
    executor (:class:`~cryobench.run.tuning_phase.Tuning`)."""

    def resolve(self, trials: list[TrialSpec], executor: Any, phase: Any,
                rerun: bool = False
                ) -> tuple[list[TrialSpec], list[tuple[TrialSpec, str]]]: ...


def run_benchmark(bench: Benchmark, store: ResultStore, executor: Executor,
                  console: Console, *, threads: int | None = None, rerun: bool = False,
                  trackers: list[Tracker] | None = None,
                  tuner: Tuner | None = None) -> list[TrialRecord]:
    """Run what is pending (tuned trials tuned first); every trial's record, finished
    before or now."""
    plan = plan_run(bench, store, console, threads=threads, rerun=rerun)
    pending = plan.pending
    if any(t.tune for t in pending) and tuner is None:
        raise ValueError("the benchmark has tuned arms: pass a tuner")
    known = plan.finished or store.read().finished()  # --rerun: their costs still tell
    earlier = [(t, known[t.key]) for t in plan.trials if t.key in known]
    with make_view(console, len(pending), TimeLeft(pending, earlier)) as view, \
            executor.session() if pending else nullcontext():
        driver = Driver(store, view, plan, list(trackers or []))
        if tuner is not None and any(t.tune for t in pending):
            # a phase of the same loop, through the same executor
            pending, failed = tuner.resolve(pending, executor, driver.phase, rerun)
            for trial, reason in failed:
                driver.finished(trial, TrialRecord.failure(trial, reason))
        executor.run(pending, driver)
    return plan.records()
