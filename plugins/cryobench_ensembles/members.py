"""What every ensemble shares: member contexts, and a weighted soft vote that reports
each member's own figures beside the ensemble's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cryobench.api import (
    EpochRecord, FitContext, FitReport, Predictor, Subtomograms, fit_report_of,
)


def member_seed(seed: int, index: int) -> int:
    """A member's own seed, derived from the trial's (within numpy's 32-bit range)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def member_context(context: FitContext, index: int, count: int, *, seed: int | None = None,
                   **changes: Any) -> FitContext:
    """The trial's context for member ``index`` of ``count``: its own seed (derived from
    the trial's unless given), and epoch reports tagged with the member, so progress
    shows "member 2/5, epoch 7/30"."""
    report = context.on_epoch

    def tagged(record: EpochRecord) -> None:
        assert report is not None
        report(record.for_member(index + 1, count))

    own_seed = member_seed(context.seed, index) if seed is None else seed
    return context.replace(seed=own_seed, on_epoch=tagged if report else None, **changes)


class WeightedVote:
    """The members' probabilities averaged with weights (equal weights: a soft vote)."""

    def __init__(self, members: Sequence[Predictor], weights: Sequence[float],
                 figures: dict[str, Any] | None = None) -> None:
        self.members = list(members)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.fit_report = FitReport(dict(figures or {}), parts={
            f"member {i + 1}": fit_report_of(m) for i, m in enumerate(self.members)})

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        total = sum(w * np.asarray(m.predict_proba(volumes), dtype=np.float64)
                    for w, m in zip(self.weights, self.members))
        return total / self.weights.sum()

    def report(self, test: Subtomograms) -> dict[str, Any]:
        """Each member's own test figures and weight: the ensemble's gain is visible."""
        from cryobench.api import score

        rows = []
        for i, (member, weight) in enumerate(zip(self.members, self.weights)):
            predicted = np.asarray(member.predict_proba(test.volumes)).argmax(1)
            figures = score(test.labels, predicted, test.class_names)
            rows.append({"member": i + 1, "weight": float(weight),
                         "macro_f1": figures.macro_f1, "macro_gmean": figures.macro_gmean})
        return {"members": rows}


def concatenated_probabilities(members: Sequence[Predictor], volumes: np.ndarray
                               ) -> np.ndarray:
    """``[n, members x classes]``: every member's probabilities side by side."""
    return np.concatenate([np.asarray(m.predict_proba(volumes), dtype=np.float64)
                           for m in members], axis=1)
