"""A trial's result, finished or failed: one type, plain data, to and from JSON.

It crosses process boundaries (a Ray worker sends it to the driver), is appended to the
result file, mirrored to MLflow and ranked in the leaderboard; every reader gets the
same fields whatever produced it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from cryobench.metrics import METRICS

STATUSES = ("ok", "failed")
#: what a trial's own wall time is made of (a tuned trial's search is not in it)
TRIAL_TIMES = ("data_seconds", "resample_seconds", "fit_seconds", "predict_seconds")


@dataclass(frozen=True)
class TrialRecord:
    """What one trial produced.

    ``fit`` is the predictor's fit report (figures, ``history`` one record per epoch,
    ``parts`` the stage-1 paths' or members' own reports); ``report`` is what the
    predictor says about its parts on the test split (Table III rows, member scores).
    A failed trial has ``error`` (one line) and maybe ``traceback``, and no metrics.
    """

    key: str
    benchmark: str
    arm: str
    seed: int
    fold: int | None
    status: str
    config: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    per_class: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    #: what the figures depend on beyond the seed: torch, the CPU and its instruction set,
    #: threads, the GPU (``train.device.machine_of``); empty in older records
    machine: dict[str, str] = field(default_factory=dict)
    #: what tuning tried and chose for this trial (empty when the arm is not tuned)
    tuning: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def history(self) -> list[dict[str, float]]:
        """Per-epoch training loss and validation macro F1 of the trial's network."""
        return list(self.fit.get("history", []))

    @property
    def tuned(self) -> bool:
        return bool(self.tuning)

    @property
    def seconds(self) -> float:
        """The trial's wall time: its data, resampling, fit and prediction."""
        return sum(float(self.timings.get(k, 0.0)) for k in TRIAL_TIMES)

    @property
    def classes_label(self) -> str:
        return ",".join(self.classes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> TrialRecord:
        """A record from what ``to_json`` wrote; ValueError says why a line is not one
        (a record missing fields, metrics that are not fractions, classes not names)."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if not isinstance(data.get("key"), str) or not isinstance(data.get("arm"), str):
            raise ValueError("no trial key or arm")
        if data.get("status") not in STATUSES:
            raise ValueError(f"status {data.get('status')!r}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("benchmark", "")
        values.setdefault("seed", 0)
        values.setdefault("fold", None)
        _check_types(values)
        record = cls(**values)
        if record.ok:
            _check_scores(record)
        return record

    @classmethod
    def failure(cls, trial: Any, error: str, trace: str = "") -> TrialRecord:
        """A failed trial of ``trial`` (a TrialSpec), with the reason."""
        return cls(key=trial.key, benchmark=trial.benchmark, arm=trial.arm, seed=trial.seed,
                   fold=trial.fold, status="failed", config=trial.record_config(),
                   tuning=trial.tuning or {}, error=error, traceback=trace)

    def renamed(self, arm: str, benchmark: str) -> TrialRecord:
        """The same result under the names the current benchmark file gives it (a result
        is found by its content, whatever its arm was called when it ran)."""
        return replace(self, arm=arm, benchmark=benchmark)


#: the JSON type of each field a record may hold (a line written by hand, or by another
#: program, can hold anything: it is refused as a whole, never half read)
FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "key": str, "benchmark": str, "arm": str, "status": str, "device": str, "error": str,
    "traceback": str, "seed": int, "fold": (int, type(None)), "classes": list,
    "per_class": list, "confusion": list, **{name: dict for name in (
        "config", "metrics", "sizes", "timings", "fit", "report", "machine", "tuning")}}
PER_CLASS_FIGURES = ("precision", "recall", "f1", "gmean")


def _check_types(values: dict[str, Any]) -> None:
    """ValueError naming the first field whose type is not what a record holds."""
    for name, value in values.items():
        wanted = FIELD_TYPES.get(name)
        if wanted is not None and (not isinstance(value, wanted) or isinstance(value, bool)):
            raise ValueError(f"field {name} is {type(value).__name__}, not "
                             f"{getattr(wanted, '__name__', 'int or null')}")
    if values.get("status") != "ok":
        return
    if not all(_number(v) for v in values.get("timings", {}).values()):
        raise ValueError("timings must be numbers")
    for row in values.get("per_class", []):
        if not (isinstance(row, dict) and isinstance(row.get("name"), str)
                and all(_number(row.get(f)) for f in PER_CLASS_FIGURES)):
            raise ValueError("per_class rows must have a name and numbers")
    if not all(isinstance(r, list) and all(_number(c) for c in r)
               for r in values.get("confusion", [])):
        raise ValueError("confusion must be rows of counts")
    history = values.get("fit", {}).get("history", [])
    if not (isinstance(history, list) and all(isinstance(h, dict) for h in history)):
        raise ValueError("fit.history must be a list of epochs")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_scores(record: TrialRecord) -> None:
    if not all(isinstance(c, str) for c in record.classes) or not record.classes:
        raise ValueError("classes must be names")
    for name in METRICS:
        value = record.metrics.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"metric {name} is {value!r}, not a fraction")
