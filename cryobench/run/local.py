"""The local executor: trials one after another in this process, and tuning's searches
the same way (no Ray: a debugger and a profiler see everything)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from cryobench.contract.records import EpochRecord
from cryobench.registry import Registry
from cryobench.run.executors import TrialSink
from cryobench.run.fitted import FittedStore
from cryobench.run.plan import TrialSpec
from cryobench.run.search import Search, search_here
from cryobench.run.trial import TrialEnvironment, WorkerSettings, prepare_data, run_isolated


class LocalExecutor:
    """Runs trials in this process; the data is loaded once for all of them.

    ``registry`` may hold plugin objects registered in this process (tests, notebooks);
    by default the registry is built from the settings, as a worker's would be.
    """

    def __init__(self, settings: WorkerSettings, registry: Registry | None = None) -> None:
        self.settings, self.registry = settings, registry
        self._env: TrialEnvironment | None = None

    def environment(self) -> TrialEnvironment:
        """One for the run: tuning's data sets are the trials'."""
        if self._env is None:
            self._env = self.settings.environment(self.registry)
        return self._env

    def session(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def search(self, searches: list[Search], phase: Any) -> None:
        env = self.environment()
        env.progress = phase
        prepare_data([s.trial for s in searches], env)
        keep = FittedStore(self.settings.cache_dir)  # one machine: fits reach the trials
        for search in searches:
            search.begin()
            search_here(search, env, keep, self.settings.debug)
            search.finish()

    def run(self, trials: list[TrialSpec], sink: TrialSink) -> None:
        env = self.environment()
        env.progress = sink.phase
        prepare_data(trials, env)  # bad data: one user error before any training
        for trial in trials:
            sink.started(trial)

            def on_epoch(record: EpochRecord, trial: TrialSpec = trial) -> None:
                sink.epoch(trial, record)

            env.on_epoch = on_epoch
            sink.finished(trial, run_isolated(trial, env, self.settings.debug))
