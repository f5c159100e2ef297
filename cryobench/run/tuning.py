"""Per-arm tuning, nested inside each seed's split: what a search is, what it keeps, and
how it chooses (a search runs through the run's executor, :mod:`cryobench.run.search`;
the driver runs tuning as a phase, :mod:`cryobench.run.tuning_phase`).

For a tuned trial (arm x class subset x seed), a search samples the arm's search space
(``configurations`` of them, seeded: the same whichever executor runs it), trains each
on the seed's training split and scores it on the validation part; ASHA stops
configurations that trail at its rungs.
The best validation macro F1 wins, and the trial is then trained with it and scored on
the test split, which tuning never takes (:func:`~cryobench.run.trial.fit_trial`
does not even slice it). Every arm gets the same budget, so a method that needs another
learning rate is not beaten by the one the file happened to choose.

Outcomes are kept in ``<results>/<name>.tuning.jsonl``, keyed like the trial, so an
interrupted run does not tune again what it has tuned. Each configuration is also kept as
it ends (trained to its last epoch, stopped by the scheduler, or failed as it would fail
again), with everything it reported (``<name>.tuning-configurations.jsonl``): a search
cut off halfway replays those when it runs again, in the order sampled, so the
scheduler is shown what it was shown before and makes the same decisions, and only the
configurations that had not ended (and any whose worker failed) are trained.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cryobench.errors import CryobenchError
from cryobench.run.plan import TrialSpec
from cryobench.run.results import ResultStore

SCORE_KEY = "val_macro_f1"


STEP_KEY = "tuning_step"  # epochs reported so far (members of an ensemble add up)


SELECTION_KEY = "selection"  # the fitted predictor's validation macro F1, reported last


ERROR_KEY = "error"


@dataclass(frozen=True)
class TuningOutcome:
    """What tuning one trial tried, and what it chose."""

    key: str  # the tuned trial's key
    arm: str
    seed: int
    status: str  # "ok", or "failed" when no configuration finished
    chosen: dict[str, Any] = field(default_factory=dict)
    score: float | None = None  # the chosen configuration's validation macro F1
    #: each configuration in the order sampled: values, status ("finished",
    #: "stopped" by the scheduler, "failed"), its validation curve and final score
    configurations: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    what = "the search of trial"  # how the result store names it

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> TuningOutcome:
        if not (isinstance(data, dict) and isinstance(data.get("key"), str)
                and data.get("status") in ("ok", "failed")
                and isinstance(data.get("chosen", {}), dict)):
            raise ValueError("not a tuning outcome")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary(self) -> dict[str, Any]:
        """What a trial record keeps of it."""
        return {"chosen": self.chosen, "score": self.score,
                "configurations": self.configurations}


@dataclass(frozen=True)
class EndedConfiguration:
    """One configuration of a search that ended (finished, or stopped by the scheduler),
    with what it reported, in order: enough to replay it to the scheduler."""

    key: str  # the search's trial key and the sample's number
    trial: str  # the tuned trial's key
    sample: int  # the order it was sampled in (a value may be drawn twice)
    values: dict[str, Any]
    reports: list[dict[str, Any]]

    ok = True  # what a result store asks of its records
    what = "the tuning configuration"  # how the result store names it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> EndedConfiguration:
        if not (isinstance(data, dict) and isinstance(data.get("key"), str)
                and isinstance(data.get("trial"), str)
                and isinstance(data.get("sample"), int)
                and isinstance(data.get("values"), dict)
                and isinstance(data.get("reports"), list)
                and all(isinstance(r, dict) for r in data["reports"])):
            raise ValueError("not an ended configuration")
        return cls(data["key"], data["trial"], data["sample"], data["values"],
                   data["reports"])


def values_key(values: dict[str, Any]) -> str:
    """A configuration's values as one string (samples, seeded, repeat exactly)."""
    return json.dumps({k: plain(v) for k, v in values.items()}, sort_keys=True)


def configurations_store(outcomes: ResultStore) -> ResultStore:
    """The file of ended configurations beside the file of outcomes."""
    path = outcomes.path
    return ResultStore(path.with_name(path.stem + "-configurations.jsonl"),
                       EndedConfiguration)


def forget_search(store: ResultStore, trial_key: str) -> None:
    """Remove a search's ended configurations: it is run again whole."""
    store.remove(lambda ended: ended.trial == trial_key)


def choose(key: str, arm: str, seed: int, configurations: list[dict[str, Any]]
           ) -> TuningOutcome:
    """The finished configuration with the best validation score; the earliest sampled
    wins a tie, so a repeated search chooses the same."""
    finished = [c for c in configurations if c["status"] == "finished"]
    if not finished:
        errors = [c.get("error", "") for c in configurations if c.get("error")]
        return TuningOutcome(key, arm, seed, "failed", configurations=configurations,
                             error="no configuration finished" + (
                                 f"; the last error: {errors[-1]}" if errors else ""))
    best = max(finished, key=lambda c: (c["score"], -configurations.index(c)))
    return TuningOutcome(key, arm, seed, "ok", dict(best["values"]), best["score"],
                         configurations)


def check_candidate(trial: TrialSpec, env: Any) -> None:
    """Each component's own refusal of the configuration (``check_setup``), before any
    training: validation tried each dimension's ends alone, not every combination."""
    from cryobench.config.preflight import first_refusal
    from cryobench.contract.components import ArmSetup
    from cryobench.run.trial import load_data

    data = load_data(trial.dataset, env)
    counts = dict(zip(data.class_names, np.bincount(data.labels,
                                                    minlength=data.num_classes).tolist()))
    refused = first_refusal(trial, env.registry,
                            ArmSetup(trial.uses, trial.split, trial.train, counts))
    if refused is not None:
        _, spec, exc = refused
        raise CryobenchError(f"{spec.kind} {spec.name!r}: {exc.param}: {exc.problem}")


def plain(value: Any) -> Any:
    """A configuration value as JSON keeps it (numpy scalars: Tune's reports)."""
    return json.loads(json.dumps(value, default=lambda v: v.item()))
