"""Searches on Ray Tune, one Tune run per tuned trial: the search's configurations
trained as Tune trials (several at once, on a cluster), trailing ones stopped by Tune's
ASHA, what each reported handed to the search's log in the driver
(:mod:`cryobench.run.search` says what a search is; the local executor runs the same
ones in its own process)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryobench.run.fitted import FittedStore, fits_reach_trials
from cryobench.run.ray.executor import last_error_line
from cryobench.run.search import REPORTED, Replay, Search, SearchLog, train_configuration
from cryobench.run.trial import WorkerSettings
from cryobench.run.tuning import SCORE_KEY, STEP_KEY
from cryobench.specs import Resources, SearchDimension, TuneSpec


def tune_sampler(dim: SearchDimension) -> Any:
    """The Tune sampler of one dimension (``randint``'s high bound is inclusive here)."""
    from ray import tune

    if dim.kind == "uniform":
        return tune.uniform(*dim.values)
    if dim.kind == "loguniform":
        return tune.loguniform(*dim.values)
    if dim.kind == "randint":
        return tune.randint(dim.values[0], dim.values[1] + 1)
    return tune.choice(list(dim.values))


def run_searches(searches: list[Search], settings: WorkerSettings, resources: Resources,
                 storage: Path, datasets: dict[str, Any]) -> None:
    """Each search through Ray Tune (Ray must be up); the data sets go to Ray's object
    store once for all of them."""
    import ray

    shared = ray.put(datasets)
    keep_fits = keeps_fits()
    for search in searches:
        search.begin()
        tune_search(search, settings, resources, storage, shared, keep_fits)
        search.finish()


def tune_search(search: Search, settings: WorkerSettings, resources: Resources,
                storage: Path, datasets: Any, keep_fits: bool) -> None:
    """One search as one Tune run: the search's configurations, in its order, as Tune's
    points to evaluate (Tune samples nothing itself)."""
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler
    from ray.tune.search import BasicVariantGenerator

    spec, trial = search.spec, search.trial
    trainable = tune.with_resources(
        tune.with_parameters(tuning_trial, trial=search.trial, settings=settings,
                             datasets=datasets, replay=search.replay, keep_fits=keep_fits),
        {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})
    tuner = tune.Tuner(
        trainable,
        param_space={d.target: tune_sampler(d) for d in spec.space},
        tune_config=tune.TuneConfig(
            num_samples=len(search.configurations),
            scheduler=asha(spec) if spec.scheduler == "asha" else FIFOScheduler(),
            # the limit goes to the generator itself: Tune ignores
            # max_concurrent_trials beside a search algorithm that is not a Searcher
            search_alg=BasicVariantGenerator(
                max_concurrent=resources.max_concurrent,
                points_to_evaluate=[dict(c) for c in search.configurations]),
            reuse_actors=True),
        run_config=tune.RunConfig(
            name=f"tuning-{trial.key}", storage_path=str(storage.resolve()),
            verbose=0, callbacks=[collect_callback(search.log)],
            # a configuration whose worker fails (memory, a plugin's bug, a node
            # lost) is tried once more, as a trial is; a failure it reports
            # (diverged, refused) is its outcome
            failure_config=tune.FailureConfig(max_failures=1)))
    tuner.fit()


def asha(spec: TuneSpec) -> Any:
    """Tune's ASHA as :class:`cryobench.run.search.Rungs` decides: rungs strictly before
    the last epoch, so a configuration trained whole is judged by its selection score."""
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr=STEP_KEY, metric=SCORE_KEY, mode="max",
                         max_t=spec.max_epochs - 1, grace_period=spec.grace_period,
                         reduction_factor=spec.reduction_factor, stop_last_trials=False)


def keeps_fits() -> bool:
    """Whether the searches keep their fits for the trials (``run.fitted``), asked of the
    Ray session itself: an address (or ``RAY_ADDRESS``) may name a cluster of one
    machine or of several."""
    import ray

    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return fits_reach_trials(nodes > 1, os.environ)


def tuning_trial(config: dict[str, Any], trial: Any, settings: WorkerSettings,
                 datasets: dict[str, Any], replay: Replay | None = None,
                 keep_fits: bool = False) -> None:
    """The Tune trainable: in a worker, one configuration of the search
    (:func:`~cryobench.run.search.train_configuration`), reporting through Tune."""
    from ray import tune

    env = settings.environment()
    env.datasets.update(datasets)
    recorded = (replay or {}).get(sample_number(tune.get_context().get_trial_id()))
    train_configuration(trial, config, env, tune.report, recorded,
                        FittedStore(settings.cache_dir) if keep_fits else None,
                        settings.debug)


def collect_callback(log: SearchLog) -> Any:
    """A Tune callback that hands, in the driver, what each configuration reports to the
    search's log (Tune numbers its trials in the order of the search's
    configurations: ``<prefix>_00003`` is sample 3)."""
    from ray import tune

    class Collect(tune.Callback):
        def __init__(self, log: SearchLog | None) -> None:
            self.log = log

        def __getstate__(self) -> dict[str, Any]:
            # Tune saves its callbacks; the log (and the file it keeps to) is this driver's
            return {"log": None}

        def _on(self, event: Callable[..., None], trial: Any, *args: Any) -> None:
            event(sample_number(trial.trial_id), trial.config, *args)

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any
                           ) -> None:
            self._on(self.log.started, trial)

        def on_trial_result(self, iteration: int, trials: list, trial: Any,
                            result: dict[str, Any], **info: Any) -> None:
            self._on(self.log.reported, trial, {k: result[k] for k in REPORTED
                                                if k in result})

        def on_trial_complete(self, iteration: int, trials: list, trial: Any,
                              **info: Any) -> None:
            self._on(self.log.ended, trial)

        def on_trial_recover(self, iteration: int, trials: list, trial: Any,
                             **info: Any) -> None:
            self._on(self.log.restarted, trial)

        def on_trial_error(self, iteration: int, trials: list, trial: Any,
                           **info: Any) -> None:
            self._on(self.log.worker_failed, trial,
                     f"the worker failed twice: {last_error_line(trial)}")

    return Collect(log)


def sample_number(trial_id: str) -> int:
    number = trial_id.rpartition("_")[2]
    return int(number) if number.isdigit() else 0
