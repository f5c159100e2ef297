"""GP: a tree program per class, evolved (cryobench_genetic_programming, on DEAP) to combine the outputs of
a model's parts: the multi-path CNN's stage-1 paths and stage-2 head, or, for a model
without parts, the probabilities of bagging-style members.

The programs are evolved on the validation part, which the members never trained on
(it only stopped their training early), with an imbalance-aware fitness (AVE: the mean
of the class's and the rest's accuracy, or the binary G-mean). A particle goes to the
class whose program claims it (output >= 0), as that fitness rewarded; several claims or
none are settled by a bounded, robust score (cryobench_genetic_programming.claim_scores).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cryobench.api import (
    FitContext, FitReport, Model, Predictor, Subtomograms, fit_report_of,
)
from cryobench_genetic_programming import GPSettings, OneVsRestPrograms, evolve_one_vs_rest
from cryobench_ensembles.bagging import fit_bagging
from cryobench_ensembles.members import concatenated_probabilities

Inputs = Callable[[np.ndarray], np.ndarray]


class MemberOutputs:
    """The members' probabilities side by side: the programs' inputs over members (a
    class, not a closure, so that the fitted combination can be pickled and kept)."""

    def __init__(self, members: list[Any]) -> None:
        self.members = members

    def __call__(self, volumes: np.ndarray) -> np.ndarray:
        return concatenated_probabilities(self.members, volumes)


class GPCombination:
    """The programs' decision (cryobench_genetic_programming.OneVsRestPrograms) on the parts' outputs for
    new volumes, as probabilities whose argmax is that decision."""

    def __init__(self, inputs: Inputs, programs: OneVsRestPrograms, base: Predictor,
                 figures: dict[str, Any]) -> None:
        self._inputs, self.programs, self.base = inputs, programs, base
        self.fit_report = FitReport(figures, parts={"combined": fit_report_of(base)})

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        return self.programs.predict_proba(self._inputs(volumes))

    def report(self, test: Subtomograms) -> dict[str, Any]:
        """The programs, and the combined model's own test figures beside the GP's."""
        from cryobench.api import score

        own = score(test.labels, np.asarray(self.base.predict_proba(test.volumes)).argmax(1),
                    test.class_names)
        programs = [{"class": name, "program": str(p), "fitness": p.fitness, "size": p.size}
                    for name, p in zip(test.class_names, self.programs.programs)]
        report = dict(getattr(self.base, "report", lambda _: {})(test))
        return {**report, "gp": programs,
                "combined": {"macro_f1": own.macro_f1, "macro_gmean": own.macro_gmean}}


def fit_gp(model: Model, train: Subtomograms, val: Subtomograms, context: FitContext, *,
           members: int, settings: GPSettings) -> GPCombination:
    """Fit the model (or members of it), then evolve one program per class on the
    validation part's outputs."""
    base = model.fit(train, val, context)
    inputs: Inputs
    if hasattr(base, "part_outputs"):
        inputs = base.part_outputs
    else:
        base = fit_bagging(model, train, val, context, members=members, balanced=False,
                           share_stage1=True)
        inputs = MemberOutputs(base.members)
    features = inputs(val.volumes)
    programs = evolve_one_vs_rest(features, val.labels, context.num_classes,
                                  seed=context.seed, settings=settings)
    figures = {"inputs": int(features.shape[1]), "fitness": settings.fitness,
               "programs": [str(p) for p in programs.programs],
               "program_fitness": [p.fitness for p in programs.programs]}
    return GPCombination(inputs, programs, base, figures)
