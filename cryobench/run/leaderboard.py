"""Per-arm summaries over seeds, beside the paper's figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cryobench.metrics import METRIC_LABELS, METRICS
from cryobench.specs import Benchmark


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
    """Arms in file order, one row per class subset; figures in percent as the paper
    prints them, the paper's macro F1 and G-mean beside, and the primary metric too when
    it is another. The best row by the primary metric is bold. The classes column
    appears only when the subsets differ."""
    metrics = tuple(dict.fromkeys(("macro_f1", "macro_gmean", bench.primary_metric)))
    summaries = summarise(records, METRICS)
    by_arm: dict[str, list[ArmSummary]] = defaultdict(list)
    for summary in summaries:
        by_arm[summary.arm].append(summary)
    show_classes = len({s.classes for s in summaries}) > 1
    title = f"{bench.name}: mean ± std over seeds (%)"
    if bench.reference_citation:
        title += f"; paper: {bench.reference_citation}"
    table = Table(title=Text(title))
    columns = [("arm", "left"), ("classes", "left")] if show_classes else [("arm", "left")]
    columns.append(("n", "right"))
    for m in metrics:
        columns += [(METRIC_LABELS[m], "right"), ("paper" + " " * metrics.index(m), "right")]
    for column, justify in columns:
        table.add_column(escape(column), justify=justify)  # type: ignore[arg-type]
    best = max((s.mean[bench.primary_metric] for s in summaries
                if bench.primary_metric in s.mean), default=None)
    for arm in bench.arms:
        ref = bench.reference.get(arm.name, {})
        for s in by_arm.get(arm.name) or [None]:
            cells: list[str | Text] = [Text(arm.name)]
            if show_classes:
                cells.append(Text(s.classes if s else ""))
            cells.append(str(s.n) if s else "0")
            for m in metrics:
                cells.append(f"{100 * s.mean[m]:.1f} ± {100 * s.std[m]:.1f}" if s else "–")
                cells.append(f"{ref[m]:.1f}" if m in ref else "")
            top = s is not None and best is not None and s.mean.get(bench.primary_metric) == best
            table.add_row(*cells, style="bold" if top else None)
    return table
