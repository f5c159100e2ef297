"""Per-arm summaries over seeds, beside the paper's figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cryobench.metrics import METRIC_LABELS, METRICS
from cryobench.run.records import TrialRecord
from cryobench.specs import Benchmark


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    classes: str
    n: int
    mean: dict[str, float]
    std: dict[str, float]


def summarise(records: list[TrialRecord], metrics: tuple[str, ...]) -> list[ArmSummary]:
    """Mean and sample standard deviation over seeds (and folds), per arm and class set."""
    groups: dict[tuple[str, str], list[TrialRecord]] = defaultdict(list)
    for r in records:
        if r.ok:
            groups[(r.arm, r.classes_label)].append(r)
    out = []
    for (arm, classes), rows in groups.items():
        values = {m: np.array([row.metrics[m] for row in rows]) for m in metrics}
        out.append(ArmSummary(arm, classes, len(rows),
                              {m: float(v.mean()) for m, v in values.items()},
                              {m: float(v.std(ddof=1)) if len(v) > 1 else 0.0
                               for m, v in values.items()}))
    return out


def subset_mean(summaries: list[ArmSummary]) -> ArmSummary:
    """An arm's figures averaged over its class subsets (each subset's mean over seeds):
    what the paper reports for "two classes" when it does not say which two."""
    metrics = summaries[0].mean
    return ArmSummary(summaries[0].arm, f"mean over {len(summaries)} subsets",
                      sum(s.n for s in summaries),
                      {m: float(np.mean([s.mean[m] for s in summaries])) for m in metrics},
                      {m: float(np.std([s.mean[m] for s in summaries], ddof=1))
                       for m in metrics})


def leaderboard_table(bench: Benchmark, records: list[TrialRecord]) -> Table:
    """Arms in file order, one row per class subset (and, for an arm with several, their
    mean, beside which the paper's figure stands); figures in percent as the paper prints
    them, the paper's macro F1 and G-mean beside, and the primary metric too when it is
    another. The best row by the primary metric is bold. The classes column appears only
    when the subsets differ; over subsets, the ± is their spread."""
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
    best = max((s.mean[bench.primary_metric] for s in summaries), default=None)
    for arm in bench.arms:
        ref = bench.reference.get(arm.name, {})
        rows: list[ArmSummary | None] = list(by_arm.get(arm.name) or [None])
        several = len(rows) > 1
        if several:
            rows.append(subset_mean(by_arm[arm.name]))
        for i, s in enumerate(rows):
            cells: list[str | Text] = [Text(arm.name)]
            if show_classes:
                cells.append(Text(s.classes if s else ""))
            cells.append(str(s.n) if s else "0")
            paper_here = not several or i == len(rows) - 1
            for m in metrics:
                cells.append(f"{100 * s.mean[m]:.1f} ± {100 * s.std[m]:.1f}" if s else "–")
                cells.append(f"{ref[m]:.1f}" if m in ref and paper_here else "")
            top = s is not None and best is not None and i < len(rows) - several \
                and s.mean.get(bench.primary_metric) == best
            table.add_row(*cells, style="bold" if top else None,
                          end_section=several and i == len(rows) - 1)
    return table


def stage1_table(bench: Benchmark, records: list[TrialRecord]) -> Table | None:
    """The multi-path CNN's paths, each alone as a one-vs-rest classifier of each class
    (F1 and G-mean on the test split, mean over seeds), beside the paper's Table III
    (path k: the k-th path kind in the file); ``*`` marks the path a class was given
    (most often, over seeds). One row per class and path, so that no name is cut. None
    when no record reports its paths."""
    cells: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    chosen: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        for row in r.report.get("stage1", []) if r.ok else []:
            cells[(row["class"], row["path"])].append((row["f1"], row["gmean"]))
            chosen[(row["class"], row["path"])] += bool(row["chosen"])
    if not cells:
        return None
    classes = list(dict.fromkeys(c for c, _ in cells))
    paths = list(dict.fromkeys(p for _, p in cells))
    table = Table(title=Text("Each path alone, class versus the rest (%): mean over seeds"
                             + ("; paper: Table III" if bench.reference_paths else "")))
    for column in ("class", "path", "F1", "G-mean", "paper F1", "paper G-mean", "chosen"):
        table.add_column(column, justify="left" if column in ("class", "path") else "right")
    for name in classes:
        best = max(paths, key=lambda p: chosen[(name, p)])
        paper = bench.reference_paths.get(name, ())
        for k, path in enumerate(paths):
            values = cells.get((name, path), [])
            f1 = f"{100 * np.mean([v[0] for v in values]):.1f}" if values else "–"
            gmean = f"{100 * np.mean([v[1] for v in values]):.1f}" if values else "–"
            ref = paper[k] if k < len(paper) else None
            mark = "*" if path == best and chosen[(name, path)] else ""
            table.add_row(Text(name if k == 0 else ""), Text(path), f1, gmean,
                          f"{ref[0]:.1f}" if ref else "", f"{ref[1]:.1f}" if ref else "",
                          mark, end_section=k == len(paths) - 1)
    return table
