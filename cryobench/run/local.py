"""The local executor: trials one after another in this process."""

from __future__ import annotations


from cryobench.contract.records import EpochRecord
from cryobench.registry import Registry
from cryobench.run.trial import WorkerSettings, prepare_data, run_isolated
from cryobench.run.executors import TrialSink
from cryobench.run.plan import TrialSpec


class LocalExecutor:
    """Runs trials in this process; the data is loaded once for all of them.

    ``registry`` may hold plugin objects registered in this process (tests, notebooks);
    by default the registry is built from the settings, as a worker's would be.
    """

    def __init__(self, settings: WorkerSettings, registry: Registry | None = None) -> None:
        self.settings, self.registry = settings, registry

    def run(self, trials: list[TrialSpec], sink: TrialSink) -> None:
        env = self.settings.environment(self.registry)
        env.progress = sink.phase
        prepare_data(trials, env)  # bad data: one user error before any training
        for trial in trials:
            sink.started(trial)

            def on_epoch(record: EpochRecord, trial: TrialSpec = trial) -> None:
                sink.epoch(trial, record)

            env.on_epoch = on_epoch
            sink.finished(trial, run_isolated(trial, env, self.settings.debug))
