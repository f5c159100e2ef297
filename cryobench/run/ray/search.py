"""Ray Tune's searches, one per tuned trial: the configurations sampled from the arm's
space, trained on the seed's training split, scored on its validation part, trailing
ones stopped by ASHA; what each reported collected in the driver, in the order sampled,
and kept as it ends (:mod:`cryobench.run.tuning` says what a search is and keeps)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryobench.contract.records import DEFERRED, EpochRecord
from cryobench.errors import CryobenchError
from cryobench.interrupts import interrupts_deferred
from cryobench.run.fitted import FittedStore, fit_key, fits_reach_trials
from cryobench.run.plan import TrialSpec
from cryobench.run.ray.executor import last_error_line
from cryobench.run.ray.session import ray_session
from cryobench.run.results import ResultStore
from cryobench.run.trial import WorkerSettings, prepare_data, validation_score
from cryobench.run.tuning import (
    ERROR_KEY, SCORE_KEY, SELECTION_KEY, STEP_KEY, EndedConfiguration, TuningOutcome,
    check_candidate, choose, configurations_store, forget_search, plain, values_key,
)
from cryobench.run.views import trial_label
from cryobench.search_space import configurations_tried, is_whole_grid
from cryobench.specs import Resources, SearchDimension

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


class Tuning:
    """Tunes the trials that ask for it, in a Ray session of its own (this machine, or
    the cluster at ``address``), before the executor trains them."""

    def __init__(self, settings: WorkerSettings, resources: Resources, store: ResultStore,
                 *, log_file: Path, storage: Path, address: str | None = None,
                 registry: Any = None) -> None:
        self.settings, self.resources, self.store = settings, resources, store
        self.log_file, self.storage = log_file, storage
        self.address, self.registry = address, registry
        self.ended = configurations_store(store)
        if (address or os.environ.get("RAY_ADDRESS") or "").startswith("ray://"):
            # Tune runs the search on the cluster then, and its callbacks (which collect
            # what each configuration scored) never report back to this process
            raise CryobenchError("--address: tuning cannot run through a Ray Client "
                                 "(ray://) address; run cryobench on the cluster's head "
                                 "node, or give the cluster's HOST:6379 address")

    def check_writable(self) -> None:
        """Before any training, like the result file."""
        self.store.check_writable()
        self.ended.check_writable()

    def resolve(self, trials: list[TrialSpec], phase: Callable[[str, int, int], None],
                rerun: bool = False) -> tuple[list[TrialSpec], list[tuple[TrialSpec, str]]]:
        """The trials with their tuned configurations (tuned now, or read back from an
        earlier run unless ``rerun``), and the tuned trials whose tuning failed, with
        the reason."""
        
        known = {} if rerun else self.store.finished()
        todo = [t for t in trials if t.tune is not None and t.key not in known]
        if todo:
            env = self.settings.environment(self.registry)
            env.progress = phase
            prepare_data(todo, env)
            with ray_session(self.address, self.log_file):
                import ray

                # the data sets go to Ray's object store once for every search
                datasets = ray.put(env.datasets)
                for trial in todo:
                    outcome = self.tune(trial, datasets, phase, replay=not rerun)
                    with interrupts_deferred():
                        self.store.append(outcome)
                    known[trial.key] = outcome
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

    def tune(self, trial: TrialSpec, datasets: dict[str, Any],
             phase: Callable[[str, int, int], None], replay: bool = True) -> TuningOutcome:
        """One search (Ray must be up): every configuration of the trial's budget, those
        that ended in an earlier, cut-off search replayed unless not ``replay``."""
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
        from ray.tune.search import BasicVariantGenerator

        spec = trial.tune
        assert spec is not None
        label = f"tuning {trial_label(trial)}"  # two class subsets: two searches
        if spec.scheduler == "asha":
            # rungs strictly before the last epoch: a configuration that has trained its
            # whole budget is judged by its selection score, never stopped by a rung
            scheduler: Any = ASHAScheduler(
                time_attr=STEP_KEY, metric=SCORE_KEY, mode="max", max_t=spec.max_epochs - 1,
                grace_period=spec.grace_period, reduction_factor=spec.reduction_factor,
                stop_last_trials=False)
        else:
            scheduler = FIFOScheduler()
        space, samples = search_space(spec)
        if not replay:
            forget_search(self.ended, trial.key)
        ended = {c.sample: (values_key(c.values), c.reports)
                 for c in self.ended.read().records.values() if c.trial == trial.key}
        unsaved: list[CryobenchError] = []

        def keep(sample: int, values: dict[str, Any], reports: list[dict[str, Any]]) -> None:
            # a replayed one is kept again only when it went on (its record is longer)
            if unsaved or ended.get(sample) == (values_key(values), reports):
                return
            try:
                with interrupts_deferred():
                    self.ended.append(EndedConfiguration(
                        f"{trial.key}/{sample}", trial.key, sample, values, reports))
            except CryobenchError as exc:  # Tune would take it for the trial's error
                unsaved.append(exc)

        collector = collect_callback(lambda done: phase(label, done, samples), keep)
        trainable = tune.with_resources(
            tune.with_parameters(tuning_trial, trial=trial, settings=self.settings,
                                 datasets=datasets, replay=ended,
                                 keep_fits=self.keeps_fits()),
            {"cpu": self.resources.cpus_per_trial, "gpu": self.resources.gpus_per_trial})
        phase(label, 0, samples)
        tuner = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                # Tune runs a grid whole once per sample: once, then
                num_samples=1 if is_whole_grid(spec.space, spec.configurations)
                else samples, scheduler=scheduler,
                # the limit goes to the generator itself: Tune ignores
                # max_concurrent_trials beside a search algorithm that is not a Searcher
                search_alg=BasicVariantGenerator(
                    random_state=spec.seed, max_concurrent=self.resources.max_concurrent,
                    # the file's own values replace the first sample (a grid tried
                    # whole has none: ``tune_spec``)
                    points_to_evaluate=[dict(spec.first)] if spec.first else None),
                reuse_actors=True),
            run_config=tune.RunConfig(
                name=f"tuning-{trial.key}", storage_path=str(self.storage.resolve()),
                verbose=0, callbacks=[collector],
                # a configuration whose worker fails (memory, a plugin's bug, a node
                # lost) is tried once more, as a trial is; a failure it reports
                # (diverged, refused) is its outcome
                failure_config=tune.FailureConfig(max_failures=1)))
        tuner.fit()
        if unsaved:
            raise unsaved[0]
        outcome = choose(trial.key, trial.arm, trial.seed, collector.configurations())
        # the trial takes the chosen configuration's fit; the others are not needed
        chosen = fit_key(trial, outcome.chosen) if outcome.ok else None
        FittedStore(self.settings.cache_dir).discard([
            key for key in (fit_key(trial, c["values"]) for c in outcome.configurations)
            if key != chosen])
        return outcome

    def keeps_fits(self) -> bool:
        """Whether the searches keep their fits for the trials (``run.fitted``), asked of
        the Ray session itself: an address (or ``RAY_ADDRESS``) may name a cluster of one
        machine or of several."""
        import ray

        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        return fits_reach_trials(nodes > 1, os.environ)


def search_space(spec: Any) -> tuple[dict[str, Any], int]:
    """Tune's parameter space and how many samples to draw from it. A space of choices
    only, no larger than the budget, is tried whole, each configuration once (random
    draws would repeat some and miss others)."""
    from ray import tune

    samples = configurations_tried(spec.space, spec.configurations)
    if is_whole_grid(spec.space, spec.configurations):
        return {d.target: tune.grid_search(list(d.values)) for d in spec.space}, samples
    return {d.target: tune_sampler(d) for d in spec.space}, samples


def tuning_trial(config: dict[str, Any], trial: TrialSpec, settings: WorkerSettings,
                 datasets: dict[str, Any],
                 replay: dict[int, tuple[str, list[dict[str, Any]]]] | None = None,
                 keep_fits: bool = False) -> None:
    """The Tune trainable: one configuration trained on the training split, each epoch's
    validation macro F1 reported (for the scheduler), then the fitted predictor's; or,
    when it ended in an earlier search, what it reported then.

    A configuration the scheduler stopped in that search, which this one lets go on
    (several configurations at once report in another order), trains from the start and
    reports from where its replay ended: training is seeded, so its first epochs give
    what was replayed (to the bit on a CPU; a GPU's kernels may differ slightly)."""
    from ray import tune

    sample = _sample_number(tune.get_context().get_trial_id())
    recorded = (replay or {}).get(sample)
    replayed = 0  # the scheduler's steps replayed
    if recorded is not None and recorded[0] == values_key(config):
        for report in recorded[1]:
            tune.report(report)
        if any(SELECTION_KEY in r or ERROR_KEY in r for r in recorded[1]):
            return
        replayed = max((r.get(STEP_KEY, 0) for r in recorded[1]), default=0)

    env = settings.environment()
    env.datasets.update(datasets)
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
        tune.report({STEP_KEY: steps, SCORE_KEY: record.figures[SCORE_KEY]} if judged
                    else {SCORE_KEY: record.figures[SCORE_KEY]})

    env.on_epoch = on_epoch
    # Tune wants the scheduler's metric in every report; the last carries no step, so
    # ASHA does not judge it
    try:
        check_candidate(budget.with_values(config), env)
        # the trial takes the chosen configuration's fit when it trains the same epochs
        keep = FittedStore(settings.cache_dir) if keep_fits and budget.train == trial.train \
            else None
        score = validation_score(budget, env, config, keep)
    except CryobenchError as exc:  # diverged, or refused: it loses, and would again
        if settings.debug:
            raise
        tune.report({SCORE_KEY: 0.0, ERROR_KEY: str(exc)})
        return
    # anything else (memory, a plugin's bug, the worker dying) is Tune's to try again
    tune.report({SCORE_KEY: score, SELECTION_KEY: score})


REPORTED = (STEP_KEY, SCORE_KEY, SELECTION_KEY, ERROR_KEY)


def collect_callback(progress: Callable[[int], None],
                     keep: Callable[[int, dict[str, Any], list[dict[str, Any]]], None]
                     | None = None) -> Any:
    """A Tune callback that collects, in the driver, every configuration's curve and
    score as they arrive, in the order they were sampled, and hands each configuration
    that ends (trained whole, stopped by the scheduler, or failed as it would again:
    diverged, refused) to ``keep`` with its sample number and what it reported. Not one
    whose worker failed twice (memory, a node lost): a later search tries it again."""
    from ray import tune

    
    class Collect(tune.Callback):
        def __init__(self, progress: Callable[[int], None] | None,
                     keep: Callable[..., None] | None) -> None:
            self.rows: dict[str, dict[str, Any]] = {}
            self.reports: dict[str, list[dict[str, Any]]] = {}
            self.order: list[str] = []
            self.done, self.progress, self.keep = 0, progress, keep

        def __getstate__(self) -> dict[str, Any]:
            # Tune saves its callbacks; the display and the file belong to this driver
            return {"rows": {}, "reports": {}, "order": [], "done": 0, "progress": None,
                    "keep": None}

        def count(self) -> None:
            self.done += 1
            if self.progress is not None:
                self.progress(self.done)

        def row(self, trial: Any) -> dict[str, Any]:
            if trial.trial_id not in self.rows:
                self.order.append(trial.trial_id)
                values = {k: plain(v) for k, v in trial.config.items()}
                self.rows[trial.trial_id] = {"values": values, "status": "stopped",
                                             "curve": [], "score": None,
                                             "started": len(self.order)}
            return self.rows[trial.trial_id]

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any
                           ) -> None:
            self.row(trial)

        def on_trial_result(self, iteration: int, trials: list, trial: Any,
                            result: dict[str, Any], **info: Any) -> None:
            row = self.row(trial)
            self.reports.setdefault(trial.trial_id, []).append(
                {k: plain(result[k]) for k in REPORTED if k in result})
            if SELECTION_KEY in result:
                row["status"], row["score"] = "finished", float(result[SELECTION_KEY])
            elif ERROR_KEY in result:
                row["status"], row["error"] = "failed", str(result[ERROR_KEY])
            elif SCORE_KEY in result:
                row["curve"].append(float(result[SCORE_KEY]))

        def on_trial_complete(self, iteration: int, trials: list, trial: Any,
                              **info: Any) -> None:
            row = self.row(trial)
            if self.keep is not None:
                self.keep(_sample_number(trial.trial_id), row["values"],
                          self.reports.get(trial.trial_id, []))
            self.count()

        def on_trial_recover(self, iteration: int, trials: list, trial: Any,
                             **info: Any) -> None:
            # trained again from its start: it reports everything again
            row = self.row(trial)
            row.update(status="stopped", curve=[], score=None)
            row.pop("error", None)
            self.reports.pop(trial.trial_id, None)

        def on_trial_error(self, iteration: int, trials: list, trial: Any,
                           **info: Any) -> None:
            row = self.row(trial)
            row["status"] = "failed"
            row["error"] = f"the worker failed twice: {last_error_line(trial)}"
            self.count()

        def configurations(self) -> list[dict[str, Any]]:
            # Tune numbers trials as it samples them (``<prefix>_00003``)
            return [self.rows[i] for i in sorted(self.order, key=_sample_number)]

    return Collect(progress, keep)


def _sample_number(trial_id: str) -> int:
    number = trial_id.rpartition("_")[2]
    return int(number) if number.isdigit() else 0
