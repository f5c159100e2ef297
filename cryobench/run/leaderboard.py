"""Per-arm summaries over seeds, beside the paper's figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

from cryobench.config import Benchmark


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    classes: str
    n: int
    mean: dict[str, float]
    std: dict[str, float]


def summarise(records: list[dict[str, Any]], metrics: tuple[str, ...]) -> list[ArmSummary]:
    """Mean and sample standard deviation over seeds (and folds), per arm and class set."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok":
            groups[(r["arm"], ",".join(r["classes"]))].append(r)
    out = []
    for (arm, classes), rows in groups.items():
        values = {m: np.array([row["metrics"][m] for row in rows]) for m in metrics}
        out.append(ArmSummary(arm, classes, len(rows),
                              {m: float(v.mean()) for m, v in values.items()},
                              {m: float(v.std(ddof=1)) if len(v) > 1 else 0.0
                               for m, v in values.items()}))
    return out


def leaderboard_table(bench: Benchmark, records: list[dict[str, Any]]) -> Table:
    """Arms in file order; figures in percent as the paper prints them."""
    metrics = ("macro_f1", "macro_gmean")
    summaries = {s.arm: s for s in summarise(records, metrics)}
    title = f"{bench.name}: mean ± std over seeds (%)"
    if bench.reference_citation:
        title += f"; paper: {bench.reference_citation}"
    table = Table(title=title)
    for column, justify in (("arm", "left"), ("classes", "left"), ("n", "right"),
                            ("macro F1", "right"), ("paper", "right"),
                            ("macro G-mean", "right"), ("paper ", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    best = max((s.mean[bench.primary_metric] for s in summaries.values()
                if bench.primary_metric in s.mean), default=None)
    for arm in bench.arms:
        s = summaries.get(arm.name)
        ref = bench.reference.get(arm.name, {})
        cells = [arm.name, s.classes if s else "", str(s.n) if s else "0"]
        for m in metrics:
            cells.append(f"{100 * s.mean[m]:.1f} ± {100 * s.std[m]:.1f}" if s else "–")
            cells.append(f"{ref[m]:.1f}" if m in ref else "")
        style = "bold" if s and best is not None and s.mean.get(bench.primary_metric) == best else None
        table.add_row(*cells, style=style)
    return table
