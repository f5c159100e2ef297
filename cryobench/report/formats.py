"""How the report writes its figures: percentage points and p-values."""

from __future__ import annotations

import math


def points(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def p_text(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
