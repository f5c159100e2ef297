"""Executors run trials; the driver does everything else.

An executor takes the pending trials and reports to a :class:`TrialSink` (the driver) as
they start, train and finish: ``local`` runs them one after another in this process
(debugging, tests, a laptop), ``ray`` through Ray Tune (several at once, GPUs, a
cluster). Tuning's searches run through the same executor, before the trials. It is
imported only when chosen, as benchopt does with its backends.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from cryobench.contract.records import EpochRecord
from cryobench.errors import CryobenchError, unknown_name_message
from cryobench.run.trial import WorkerSettings
from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord
from cryobench.run.search import Search

EXECUTORS = ("local", "ray")


class TrialSink(Protocol):
    """Where an executor reports; called in the driver's process."""

    def phase(self, phase: str, done: int, total: int) -> None: ...
    def started(self, trial: TrialSpec) -> None: ...
    def epoch(self, trial: TrialSpec, record: EpochRecord) -> None: ...
    def finished(self, trial: TrialSpec, record: TrialRecord) -> None: ...


class Executor(Protocol):
    def session(self) -> AbstractContextManager[Any]:
        """Held around a run's searches and trials: what they share starts once (Ray)."""

    def search(self, searches: list[Search], phase: Any) -> None:
        """Run each search: every configuration trained with
        :func:`~cryobench.run.search.train_configuration` and reported to the search's
        log, trailing ones stopped by ASHA (``Search.spec``); ``begin`` and ``finish``
        called around each search. A data set that cannot be loaded is a user error
        raised before any training."""

    def run(self, trials: list[TrialSpec], sink: TrialSink) -> None:
        """Run every trial, reporting each one's start, epochs and record to ``sink``.

        A data set that cannot be loaded is a user error raised before any training; a
        trial that fails is reported as a failed record, and the others go on."""


def make_executor(name: str, settings: WorkerSettings, **options: Any) -> Executor:
    """The executor called ``name``; ``tunes``: the run has searches to run through it
    (an executor that cannot run them says so now, before any work)."""
    if name == "local":
        from cryobench.run.local import LocalExecutor

        return LocalExecutor(settings, registry=options.get("registry"))
    if name == "ray":
        from cryobench.run.ray.executor import RayExecutor

        return RayExecutor(settings, **options)
    raise CryobenchError("--executor: " + unknown_name_message("executor", name, EXECUTORS))
