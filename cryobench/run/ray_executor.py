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
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryobench.contract.records import EpochRecord
from cryobench.errors import CryobenchError
from cryobench.run.trial import WorkerSettings, prepare_data, run_isolated
from cryobench.run.executors import TrialSink
from cryobench.run.plan import TrialSpec
from cryobench.run.ray_cluster import (LOCAL, end_leftovers, forget, init_address,
                                       prepare_auth, processes_listed)
from cryobench.run.records import TrialRecord
from cryobench.specs import Resources

RECORD_KEY = "cryobench_record"
EPOCH_KEY = "cryobench_epoch"
#: Set before Ray is imported, unless the user has: Tune's plain output (silenced by
#: verbose=0), every worker's log line, and no Ray started by Tune behind our back.
RAY_DEFAULTS = {"RAY_AIR_NEW_OUTPUT": "0", "RAY_DEDUP_LOGS": "0",
                "TUNE_DISABLE_AUTO_INIT": "1"}
#: Set whatever the user has: no SIGINT handler of Tune's own, so that Ctrl-C reaches the
#: driver, which stops cleanly (with Tune's, an interrupted search would end as if it had
#: finished, and its partial outcome would be kept as the search's).
RAY_FORCED = {"TUNE_DISABLE_SIGINT_HANDLER": "1"}


class RayExecutor:
    """Runs trials through Ray Tune; ``address`` joins an existing cluster (else a local
    Ray sized to this machine is started, and stopped at the end)."""

    def __init__(self, settings: WorkerSettings, *, resources: Resources,
                 log_file: Path, storage: Path, address: str | None = None,
                 registry: Any = None) -> None:
        self.settings, self.resources = settings, resources
        self.log_file, self.storage = log_file, storage
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.registry = registry
        if self.address:  # before any work: a cluster that does not answer is a user error
            check_reachable(self.address)
            prepare_auth(self.address)

    def run(self, trials: list[TrialSpec], sink: TrialSink) -> None:
        # the data sets first, in the driver: a bad one is a user error before any
        # training, and no worker simulates or reads one itself
        env = self.settings.environment(self.registry)
        env.progress = sink.phase
        prepare_data(trials, env)
        if not trials:
            return
        with ray_session(self.address, self.log_file):
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


@contextmanager
def ray_session(address: str | None, log_file: Path) -> Iterator[None]:
    """Ray started (or joined), with its output sent to ``log_file``; stopped after.
    Inside a session already open (tuning, then the trials) it is that session."""
    for name, value in RAY_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.update(RAY_FORCED)
    import ray  # first: importing it installs its own terminal handlers, replaced below

    if ray.is_initialized():
        yield
        return

    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("ray", "ray.tune", "ray.train")]
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in loggers]
    last_resort = logging.lastResort
    # ray.init clears the "ray" logger's handlers while it starts: what it logs then
    # reaches Python's last-resort handler, which is pointed at the file too
    logging.lastResort = handler
    try:
        for lg in loggers:
            lg.handlers, lg.propagate = [handler], False
        with _stderr_to(log_file):  # Ray's C++ core writes its retries to file descriptor 2
            local = _end_leftovers(address, log_file)
            connect(address)
        for lg in loggers:
            lg.handlers, lg.propagate = [handler], False
        with local:
            yield
        if ray.is_initialized():
            ray.shutdown()
        forget(leftovers_file(log_file))
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
        logging.lastResort = last_resort
        handler.close()


def leftovers_file(log_file: Path) -> Path:
    """Where a run lists its local Ray's processes, beside its Ray log."""
    return log_file.with_suffix(".pids")


def _end_leftovers(address: str | None, log_file: Path) -> Any:
    """For a local Ray: end what a killed run left, then list this run's processes
    (a context manager); for a cluster, nothing (its processes are not this run's)."""
    from contextlib import nullcontext

    if init_address(address) != LOCAL:
        return nullcontext()
    path = leftovers_file(log_file)
    ended = end_leftovers(path)
    if ended:
        logging.getLogger("ray").warning("ended %d Ray process(es) left by a run that was "
                                         "killed (listed in %s)", ended, path)
    return processes_listed(path)


@contextmanager
def _stderr_to(log_file: Path) -> Iterator[None]:
    """File descriptor 2 appended to ``log_file`` while inside, then restored."""
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(log_file, "ab") as target:
            os.dup2(target.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def connect(address: str | None) -> None:
    """``ray.init``: a Ray of this run's own sized to this machine, or the cluster at
    ``address`` (also ``$RAY_ADDRESS``); one line and exit 2 when it cannot be reached
    or refuses this machine's token."""
    import ray

    address = init_address(address)
    prepare_auth(address)
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                               "configure_logging": False, "ignore_reinit_error": True,
                               "runtime_env": {"env_vars": worker_environment()}}
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "a local Ray" if address == LOCAL else address
        raise CryobenchError(f"--address: cannot connect to {where} ({_first_line(exc)}); "
                             "check the address, or start the head node with "
                             "`ray start --head`") from None


def check_reachable(address: str) -> None:
    """A cluster's head must answer before Ray is asked to join it: ray.init waits
    minutes for an address that does not answer, printing its own retries."""
    import socket

    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address in ("auto", "local") or not host:
        return
    if not port.isdigit():
        raise CryobenchError(f"--address: {address!r} is not HOST:PORT (e.g. "
                             "10.0.0.5:6379, or ray://HOST:10001 for a Ray client)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as exc:
        raise CryobenchError(f"--address: nothing answers at {target} ({exc.strerror or exc}); "
                             "check the address, or start the head node there with "
                             "`ray start --head`") from None


def worker_environment() -> dict[str, str]:
    """What a worker needs of the driver's environment: the import path (plugins on it)
    and cryobench's own settings."""
    import sys

    keep = ("CRYOBENCH_CACHE_DIR", "CRYOBENCH_BLOCK_PLUGINS", "XDG_CACHE_HOME")
    env = {name: os.environ[name] for name in keep if os.environ.get(name)}
    paths = [*os.environ.get("PYTHONPATH", "").split(os.pathsep), *sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p and Path(p).is_dir()))
    return env


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
