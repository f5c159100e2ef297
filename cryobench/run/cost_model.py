"""What decides a trial's cost, and what a combination of components no trial has run
yet will cost, from those that have.

Costs are per member-epoch (a trial's seconds over its members times its epochs; a model
that fits on its own, per fit). A combination not measured counts at the nearest measured
one of the same kind of model, times what each differing component did where it was the
only difference: SMOTE + boosting is SMOTE's rate times what boosting cost the plain
network over its own. The run's time left and ``cryobench validate`` both cost so.
"""

from __future__ import annotations

import json
from statistics import median
from typing import NamedTuple

from cryobench.run.plan import TrialSpec


class Combination(NamedTuple):
    """What decides a trial's cost per member-epoch (component parameters aside, but for
    the model's: its size is its cost)."""

    trains: bool  # a network trained for epochs, or a model that fits on its own
    model: str
    sampler: str
    loss: str
    augment: tuple[str, ...]
    ensemble: str
    recipe: tuple[str, ...]
    data: str  # the data set and class subset
    settings: str  # batch sizes, device, precision
    reused_fit: bool  # a tuned trial that takes its search's fit: no training of its own


def member_count(trial: TrialSpec) -> int:
    """The networks (or models) a trial trains: an ensemble's ``members``, else one."""
    count = trial.ensemble.params.get("members", 1)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 \
        else 1


def work(trial: TrialSpec) -> float:
    """A trial's cost in member-epochs (one fit for a model that fits on its own)."""
    return float(member_count(trial) * (trial.train.max_epochs if trial.uses.uses_train else 1))


def combination(trial: TrialSpec, reused_fit: bool = False) -> Combination:
    """The trial's cost identity; ``reused_fit``: it takes its search's fit."""
    def text(value: object) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    train = trial.train
    return Combination(
        trial.uses.uses_train, f"{trial.model.name} {text(trial.model.params)}",
        trial.sampler.name, trial.loss.name, tuple(a.name for a in trial.augment),
        trial.ensemble.name, tuple(a.name for a in trial.recipe), text(trial.dataset),
        text([train.batch_size, train.eval_batch_size, train.device, train.precision]),
        reused_fit)


def reuses_fit(trial: TrialSpec) -> bool:
    """Whether the trial will take its search's fit (``run.fitted``): tuned, and the
    search trained its configurations for the trial's whole budget."""
    return trial.tune is not None and trial.tune.max_epochs == trial.train.max_epochs


def _differ(a: Combination, b: Combination) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


def composed_rate(wanted: Combination, rates: dict[Combination, float]) -> float:
    """Seconds per member-epoch: as measured, else from the nearest measured
    combinations and what each difference cost where it was the only one."""
    if wanted in rates:
        return rates[wanted]
    nearest = min(len(_differ(c, wanted)) for c in rates)
    guesses = []
    for base, rate in rates.items():
        differ = _differ(base, wanted)
        if len(differ) == nearest:
            for i in differ:
                rate *= _factor(i, base[i], wanted[i], rates)
            guesses.append(rate)
    return median(guesses)


def _factor(i: int, old: object, new: object, rates: dict[Combination, float]) -> float:
    """What changing one part from ``old`` to ``new`` did to the rate, everything else
    the same (1 where no measured pair says)."""
    ratios = [rates[b] / rates[a] for a in rates for b in rates
              if a[i] == old and b[i] == new and _differ(a, b) == [i]]
    return median(ratios) if ratios else 1.0
