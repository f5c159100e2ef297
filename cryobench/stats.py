"""Summaries over seeds that say how sure they are: mean, standard deviation and a 95%
interval (Student's t over seeds: few seeds give a wide interval, as they should)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """n values' mean, sample standard deviation and 95% t-interval; with one value the
    spread is unknown (std and interval are None, not 0)."""

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None


def summarise_values(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("no values to summarise")
    mean = float(x.mean())
    if len(x) < 2:
        return Summary(1, mean, None, None, None)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * std / np.sqrt(len(x)))
    return Summary(len(x), mean, std, mean - half, mean + half)
