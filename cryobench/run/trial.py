"""The trial function: a plain function of a trial's specification (data, split, fit,
predict, score) that can run in this process or in a Ray worker."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cryobench.contract.components import (
    DataContext, FitContext, fit_report_of, parts_report_of,
)
from cryobench.contract.records import EpochReport, numbered_networks
from cryobench.errors import CryobenchError, TrialFailed
from cryobench.specs import DatasetSpec
from cryobench.data.splits import Split, holdout_split, kfold_split
from cryobench.data.subtomograms import Subtomograms
from cryobench.registry import Registry
from cryobench.run.fitted import FittedStore, KeptFit, fit_key
from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord


@dataclass
class TrialEnvironment:
    """What a trial needs from where it runs; passed in, never global."""

    registry: Registry
    base_dir: Path  # relative paths in the benchmark file resolve here
    cache_dir: Path
    progress: Callable[[str, int, int], None] | None = None
    on_epoch: EpochReport | None = None
    datasets: dict[str, Subtomograms] = field(default_factory=dict)  # memo within a process


def load_data(spec: DatasetSpec, env: TrialEnvironment) -> Subtomograms:
    """The data set of a trial, class subset taken; loaded once per process."""
    key = json.dumps(spec.source.as_dict(), sort_keys=True)
    if key not in env.datasets:
        source = spec.source.build(env.registry)
        env.datasets[key] = source.load(DataContext(env.base_dir, env.cache_dir, env.progress))
    data = env.datasets[key]
    data = data.select_classes(spec.classes) if spec.classes else data
    if data.num_classes < 2:
        raise CryobenchError(f"data source {spec.source.name!r} gave {data.num_classes} "
                             "class; classifying needs at least two")
    return data


def prepare_data(trials: list[TrialSpec], env: TrialEnvironment) -> None:
    """Load (or simulate) every data set the trials need, before any of them trains:
    bad data is then one error for the user, not a failed record per trial."""
    for spec in dict.fromkeys(t.dataset for t in trials):
        load_data(spec, env)


def split_data(trial: TrialSpec, data: Subtomograms) -> Split:
    s = trial.split
    groups = None
    if s.group == "tomogram":
        if data.tomograms is None:
            raise CryobenchError(f"[split] group = 'tomogram': data source "
                                 f"{trial.dataset.source.name!r} does not say which tomogram "
                                 "each particle comes from; remove group")
        groups = data.tomograms
    if s.method == "kfold":
        return kfold_split(data.labels, s.folds, trial.fold or 0, s.val_fraction, trial.seed,
                           data.class_names, groups)
    return holdout_split(data.labels, s.test_fraction, s.val_fraction, trial.seed,
                         data.class_names, groups)


def checked_probabilities(p: Any, n: int, num_classes: int) -> np.ndarray:
    """A predictor's output, refused unless it is one probability row per particle."""
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (n, num_classes):
        raise TrialFailed(f"predict_proba returned shape {p.shape}, expected ({n}, "
                          f"{num_classes}): one row of class probabilities per particle")
    if not np.isfinite(p).all():
        raise TrialFailed(f"predict_proba returned {int((~np.isfinite(p)).sum())} values "
                          "that are NaN or infinite")
    return p


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs to build its own registry and environment: plain values that
    can travel to another process or machine."""

    base_dir: Path  # relative paths in the benchmark file resolve here
    cache_dir: Path
    blocked: tuple[str, ...] = ()  # plugins not to load
    debug: bool = False  # let a trial's exception through (a traceback) instead of recording it
    #: plugin modules registered directly in the driver (not installed): importable
    #: names a worker registers too
    plugin_modules: tuple[str, ...] = ()

    def environment(self, registry: Registry | None = None) -> TrialEnvironment:
        if registry is None:
            import importlib

            registry = Registry([importlib.import_module(m) for m in self.plugin_modules],
                                blocked=self.blocked)
        return TrialEnvironment(registry, self.base_dir, self.cache_dir)


def run_isolated(trial: TrialSpec, env: TrialEnvironment, debug: bool = False) -> TrialRecord:
    """The trial's record; a trial that raises is recorded as failed with its error, and
    the others go on (with ``debug``, the exception goes up instead)."""
    try:
        return run_trial(trial, env)
    except CryobenchError as exc:
        if debug:
            raise
        return TrialRecord.failure(trial, str(exc))
    except Exception as exc:  # a broken trial is recorded, and the others go on
        if debug:
            raise
        return TrialRecord.failure(trial, f"{type(exc).__name__}: {exc}",
                                   traceback.format_exc())


@dataclass
class FittedTrial:
    """A trial trained: its data, split and predictor, and where the time went."""

    data: Subtomograms
    split: Split
    train: Subtomograms
    val: Subtomograms
    resampled: Subtomograms
    predictor: Any
    device: str
    timings: dict[str, float]
    machine: dict[str, str]  # what the fit's figures depend on (train.device.machine_of)
    reused: bool = False  # the predictor is tuning's fit of the chosen configuration


def fit_trial(trial: TrialSpec, env: TrialEnvironment,
              configuration: dict[str, Any] | None = None,
              fits: FittedStore | None = None) -> FittedTrial:
    """Resample and fit on the training split (the validation part for early stopping);
    the test part is not even taken, so nothing here can learn from it. A
    ``configuration`` (``"train.lr"`` -> value) is tried in place of tuning's choice.

    With ``fits``, a trial takes tuning's chosen configuration from there when the search
    kept its fit (``FittedTrial.reused``; :func:`validation_score` keeps them)."""
    from cryobench.train.device import choose_device, machine_of, use_threads

    spec = trial.applied() if configuration is None else trial.with_values(configuration)
    kept = fits.load(fit_key(trial)) if fits is not None and configuration is None else None
    clock = time.perf_counter
    t0 = clock()
    data = load_data(spec.dataset, env)
    split = split_data(spec, data)
    train, val = data.take(split.train), data.take(split.val)
    t1 = clock()
    sampler = spec.sampler.build(env.registry)
    volumes, labels = sampler.fit_resample(train.volumes, train.labels, spec.seed)
    resampled = train if volumes is train.volumes else train.with_volumes(volumes, labels)
    t2 = clock()
    if kept is not None:
        use_threads(spec.threads, kept.device)  # predicting as the fit would have
        timings = {"data_seconds": t1 - t0, "resample_seconds": t2 - t1,
                   "fit_seconds": kept.fit_seconds}
        return FittedTrial(data, split, train, val, resampled, kept.predictor, kept.device,
                           timings, kept.machine or {}, reused=True)
    recipe = [a.build(env.registry) for a in spec.batch_recipe]
    context = FitContext(
        num_classes=data.num_classes, train=spec.train,
        loss=spec.loss.build(env.registry),
        augmentations=[*recipe, *(a.build(env.registry) for a in spec.augment)],
        recipe=recipe,
        seed=spec.seed, device=str(choose_device(spec.train.device)), threads=spec.threads,
        cache_dir=env.cache_dir, on_epoch=numbered_networks(env.on_epoch),
        unsampled_train=train,
        untuned_train=trial.train, shared_seed=spec.seed,
    )
    model = spec.model.build(env.registry)
    ensemble = spec.ensemble.build(env.registry)
    predictor = ensemble.fit(model, resampled, val, context)
    timings = {"data_seconds": t1 - t0, "resample_seconds": t2 - t1,
               "fit_seconds": clock() - t2}
    return FittedTrial(data, split, train, val, resampled, predictor, context.device, timings,
                       machine_of(context.device))


def validation_score(trial: TrialSpec, env: TrialEnvironment,
                     configuration: dict[str, Any] | None = None,
                     keep: FittedStore | None = None) -> float:
    """Macro F1 on the validation part of a trial fitted (with ``configuration``, when
    given) without its test part: what tuning selects by (over the classes the part
    holds; a small part may miss one). A fit that scores is kept in ``keep``, when
    given, for the trial that may take it."""
    from sklearn.metrics import f1_score

    fitted = fit_trial(trial, env, configuration)
    val = fitted.val
    probabilities = checked_probabilities(fitted.predictor.predict_proba(val.volumes),
                                          len(val), fitted.data.num_classes)
    score = float(f1_score(val.labels, probabilities.argmax(1), labels=np.unique(val.labels),
                           average="macro", zero_division=0))
    if keep is not None:
        keep.save(fit_key(trial, configuration), KeptFit(fitted.predictor, fitted.device,
                                                         fitted.timings["fit_seconds"],
                                                         fitted.machine))
    return score


def run_trial(trial: TrialSpec, env: TrialEnvironment) -> TrialRecord:
    """Train on the training split, predict the untouched test split; plain data back."""
    from cryobench.metrics import score

    fits = FittedStore(env.cache_dir) if trial.tuned is not None else None
    fitted = fit_trial(trial, env, fits=fits)
    data, predictor = fitted.data, fitted.predictor
    test = data.take(fitted.split.test)
    tick = time.perf_counter()
    probabilities = checked_probabilities(predictor.predict_proba(test.volumes), len(test),
                                          data.num_classes)
    timings = {**fitted.timings, "predict_seconds": time.perf_counter() - tick}
    scores = score(test.labels, probabilities.argmax(1), data.class_names)
    report = parts_report_of(predictor, test)
    if fits is not None:  # used, or not readable: not needed again
        fits.discard([fit_key(trial)])
    return TrialRecord(
        key=trial.key, benchmark=trial.benchmark, arm=trial.arm, seed=trial.seed,
        fold=trial.fold, status="ok", config=trial.record_config(),
        classes=list(data.class_names), metrics=scores.summary(),
        per_class=scores.as_dict()["per_class"],  # type: ignore[arg-type]
        confusion=scores.confusion.tolist(),
        sizes={"train": len(fitted.train), "train_resampled": len(fitted.resampled),
               "val": len(fitted.val), "test": len(test)},
        timings=timings, fit=fit_report_of(predictor).as_dict(), report=report,
        device=fitted.device, machine=fitted.machine,
        tuning={**trial.tuning, "reused_fit": True} if fitted.reused else trial.tuning or {})
