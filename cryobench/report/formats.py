"""How the report writes its figures: percentage points, p-values, arms left out."""

from __future__ import annotations

import math

from cryobench.report.document import literal


def points(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def p_text(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def left_out_text(arms: list[str]) -> str:
    """What a ranking left out: arms that have not yet finished the seeds the others share."""
    if not arms:
        return ""
    return (" Left out until they have finished as many seeds as the others: "
            + ", ".join(map(literal, arms)) + ".")
