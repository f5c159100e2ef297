"""The Ray Tune executor: one Tune trial per cryobench trial, on this machine or a cluster.

Each Tune trial runs the same trial function as the local executor, in a worker that
builds its own registry and environment from plain settings, and reports each epoch and
finally its record with ``ray.tune.report``. A Tune callback in the driver hands those to
the driver loop as they arrive: only the driver writes results and tracking. Resources
per trial come from the benchmark's ``[resources]`` (fractional GPUs share a GPU), and
``max_concurrent`` caps how many run at once. A worker that dies (out of memory, killed)
is retried once; then the trial is recorded as failed with the reason.

Ray and Tune print banners, tables and worker logs; all of it goes to a log file beside
the results, not to the user's terminal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from cryobench.contract.records import EpochRecord
from cryobench.errors import CryobenchError
from cryobench.run.executors import TrialSink
from cryobench.run.plan import TrialSpec
from cryobench.run.ray.cluster import prepare_auth
from cryobench.run.ray.session import check_reachable, ray_session
from cryobench.run.records import TrialRecord
from cryobench.run.search import Search
from cryobench.run.trial import (
    TrialEnvironment, WorkerSettings, prepare_data, run_isolated,
)
from cryobench.specs import Resources

RECORD_KEY = "cryobench_record"


EPOCH_KEY = "cryobench_epoch"


class RayExecutor:
    """Runs trials through Ray Tune; ``address`` joins an existing cluster (else a local
    Ray sized to this machine is started, and stopped at the end)."""

    def __init__(self, settings: WorkerSettings, *, resources: Resources,
                 log_file: Path, storage: Path, address: str | None = None,
                 registry: Any = None, tunes: bool = False) -> None:
        self.settings, self.resources = settings, resources
        self.log_file, self.storage = log_file, storage
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.registry = registry
        if tunes and (self.address or "").startswith("ray://"):
            # Tune runs a search on the cluster then, and its callbacks (which collect
            # what each configuration scored) never report back to this process
            raise CryobenchError("--address: tuning cannot run through a Ray Client "
                                 "(ray://) address; run cryobench on the cluster's head "
                                 "node, or give the cluster's HOST:6379 address")
        if self.address:  # before any work: a cluster that does not answer is a user error
            check_reachable(self.address)
            prepare_auth(self.address)
        self._held: ExitStack | None = None  # the run's session, while the driver holds it
        self._env: TrialEnvironment | None = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Held around tuning and the trials after it: Ray starts once, when the first of
        them needs it (after its data sets are ready), and stops when this ends."""
        with ExitStack() as held:
            self._held = held
            try:
                yield
            finally:
                self._held = None

    def _ray(self) -> AbstractContextManager[Any]:
        """Ray up for what follows: kept up for the rest of a session held, else for
        this call alone."""
        if self._held is None:
            return ray_session(self.address, self.log_file)
        self._held.enter_context(ray_session(self.address, self.log_file))  # once: it nests
        return nullcontext()

    def environment(self) -> TrialEnvironment:
        """One for the run: the data sets tuning loaded are the trials'."""
        if self._env is None:
            self._env = self.settings.environment(self.registry)
        return self._env

    def search(self, searches: list[Search], phase: Any) -> None:
        from cryobench.run.ray.search import run_searches

        env = self.environment()
        env.progress = phase
        prepare_data([s.trial for s in searches], env)
        with self._ray():
            run_searches(searches, self.settings, self.resources, self.storage,
                         env.datasets)

    def run(self, trials: list[TrialSpec], sink: TrialSink) -> None:
        # the data sets first, in the driver: a bad one is a user error before any
        # training, and no worker simulates or reads one itself
        env = self.environment()
        env.progress = sink.phase
        prepare_data(trials, env)
        if not trials:
            return
        with self._ray():
            self._tune(trials, sink, env.datasets)

    def _tune(self, trials: list[TrialSpec], sink: TrialSink,
              datasets: dict[str, Any]) -> None:
        from ray import tune

        # the data sets travel once, through Ray's object store (workers map them, no
        # copy); workers are reused between trials, so each imports torch once
        trainable = tune.with_resources(
            tune.with_parameters(ray_trial, trials=trials, settings=self.settings,
                                 datasets=datasets),
            {"cpu": self.resources.cpus_per_trial, "gpu": self.resources.gpus_per_trial})
        tuner = tune.Tuner(
            trainable,
            param_space={"index": tune.grid_search(list(range(len(trials))))},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=self.resources.max_concurrent or None,
                reuse_actors=True),
            run_config=tune.RunConfig(
                name="cryobench", storage_path=str(self.storage.resolve()), verbose=0,
                callbacks=[forward_callback(trials, sink)],
                failure_config=tune.FailureConfig(max_failures=1)))
        tuner.fit()


def ray_trial(config: dict[str, Any], trials: list[TrialSpec], settings: WorkerSettings,
              datasets: dict[str, Any]) -> None:
    """The Tune trainable: in a worker, one cryobench trial, its epochs and its record
    reported to the driver."""
    from ray import tune

    trial = trials[config["index"]]
    env = settings.environment()
    env.datasets.update(datasets)

    def on_epoch(record: EpochRecord) -> None:
        tune.report({EPOCH_KEY: json.dumps(record.as_dict())})

    env.on_epoch = on_epoch
    record = run_isolated(trial, env, settings.debug)
    tune.report({RECORD_KEY: json.dumps(record.to_json())})


def forward_callback(trials: list[TrialSpec], sink: TrialSink) -> Any:
    """A Tune callback that hands Tune's events, in the driver, to the driver loop (Ray
    is imported only here, when the Ray executor is chosen)."""
    from ray import tune

    class Forward(tune.Callback):
        def __init__(self, trials: list[TrialSpec], sink: TrialSink) -> None:
            self.trials, self.sink, self.done = trials, sink, set()

        def __getstate__(self) -> dict[str, Any]:
            # Tune saves its configuration (callbacks too) for restoring; the sink (a
            # live view, an open result file) belongs to this driver and is not saved
            return {"trials": self.trials, "sink": None, "done": set()}

        def on_trial_start(self, iteration: int, trials: list, trial: Any,
                           **info: Any) -> None:
            self.sink.started(self.trials[trial.config["index"]])

        def on_trial_result(self, iteration: int, trials: list, trial: Any,
                            result: dict[str, Any], **info: Any) -> None:
            spec = self.trials[trial.config["index"]]
            if RECORD_KEY in result:
                self.done.add(trial.config["index"])
                record = TrialRecord.from_json(json.loads(result[RECORD_KEY]))
                self.sink.finished(spec, record)
            elif EPOCH_KEY in result:
                self.sink.epoch(spec, EpochRecord.from_dict(json.loads(result[EPOCH_KEY])))

        def on_trial_error(self, iteration: int, trials: list, trial: Any,
                           **info: Any) -> None:
            index = trial.config["index"]
            if index not in self.done:
                self.done.add(index)
                self.sink.finished(self.trials[index], TrialRecord.failure(
                    self.trials[index], f"the worker failed twice: {last_error_line(trial)}",
                    str(trial.get_error() or "")))

    return Forward(trials, sink)


def last_error_line(trial: Any) -> str:
    """A failed Tune trial's error, its last line (the exception, not the traceback)."""
    error = str(trial.get_error() or "").strip().splitlines()
    return error[-1] if error else "no error was reported (killed, or out of memory?)"
