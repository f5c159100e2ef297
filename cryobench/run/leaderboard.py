"""Per-arm summaries over seeds, beside the paper's figures: as a terminal table,
Markdown, CSV or JSON, all from the same rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cryobench.contract.tables import ResultTable
from cryobench.metrics import METRIC_LABELS, METRICS
from cryobench.run.records import TrialRecord
from cryobench.run.result_tables import markdown_table
from cryobench.specs import Benchmark
from cryobench.stats import Summary, summarise_values


@dataclass(frozen=True)
class ArmSummary:
    """One leaderboard row: an arm on one class subset (or the mean over its subsets,
    where the spread is between subsets), each metric summarised over seeds."""

    arm: str
    classes: str
    n: int
    figures: dict[str, Summary]
    paper: dict[str, float]  # percent, beside the row the paper's figure applies to
    over_subsets: bool = False
    tuned: bool = False  # each trial trained with the configuration tuning chose for it

    @property
    def label(self) -> str:
        """The arm's name as the tables show it: tuned arms are marked."""
        return f"{self.arm} (tuned)" if self.tuned else self.arm

    @property
    def mean(self) -> dict[str, float]:
        return {m: s.mean for m, s in self.figures.items()}


def summarise(records: list[TrialRecord], metrics: tuple[str, ...] = METRICS
              ) -> list[ArmSummary]:
    """Each metric over seeds (and folds), per arm and class subset."""
    groups: dict[tuple[str, str], list[TrialRecord]] = defaultdict(list)
    for r in records:
        if r.ok:
            groups[(r.arm, r.classes_label)].append(r)
    return [ArmSummary(arm, classes, len(rows),
                       {m: summarise_values([row.metrics[m] for row in rows]) for m in metrics},
                       {}, tuned=all(row.tuned for row in rows))
            for (arm, classes), rows in groups.items()]


def subset_mean(summaries: list[ArmSummary]) -> ArmSummary:
    """An arm's figures averaged over its class subsets (each subset's mean over seeds):
    what the paper reports for "two classes" when it does not say which two."""
    return ArmSummary(summaries[0].arm, f"mean over {len(summaries)} subsets",
                      sum(s.n for s in summaries),
                      {m: summarise_values([s.figures[m].mean for s in summaries])
                       for m in summaries[0].figures}, {}, over_subsets=True,
                      tuned=all(s.tuned for s in summaries))


def leaderboard_rows(bench: Benchmark, records: list[TrialRecord]) -> list[ArmSummary]:
    """Arms in file order, one row per class subset and, for an arm with several, their
    mean; the paper's figures go on the arm's only row, or on its mean row."""
    by_arm: dict[str, list[ArmSummary]] = defaultdict(list)
    for summary in summarise(records):
        by_arm[summary.arm].append(summary)
    rows = []
    for arm in bench.arms:
        found = by_arm.get(arm.name, [])
        if len(found) > 1:
            found = [*found, subset_mean(found)]
        if not found:
            found = [ArmSummary(arm.name, "", 0, {}, {}, tuned=arm.tune is not None)]
        paper = bench.reference.get(arm.name, {})
        rows += found[:-1] + [replace(found[-1], paper=paper)]
    return rows


def metric_columns(bench: Benchmark) -> tuple[str, ...]:
    return tuple(dict.fromkeys(("macro_f1", "macro_gmean", bench.primary_metric)))


def format_summary(s: Summary | None) -> str:
    if s is None:
        return "–"
    return f"{100 * s.mean:.1f}" + (f" ± {100 * s.std:.1f}" if s.std is not None else "")


def format_interval(s: Summary | None) -> str:
    """The 95% interval in percent, within the metric's own range [0, 100]."""
    if s is None or s.low is None or s.high is None:
        return "–"
    return f"{100 * max(s.low, 0.0):.1f}–{100 * min(s.high, 1.0):.1f}"


def _best(bench: Benchmark, rows: list[ArmSummary]) -> float | None:
    values = [r.figures[bench.primary_metric].mean for r in rows
              if r.figures and not r.over_subsets]
    return max(values, default=None)


def metrics_with_paper(rows: list[ArmSummary]) -> set[str]:
    """The metrics the paper gives a figure for: only those get a "paper" column."""
    return {m for r in rows for m in r.paper}


def leaderboard_table(bench: Benchmark, records: list[TrialRecord]) -> Table:
    """The rows as a terminal table, in percent as the paper prints them: n, mean ± std
    and the 95% interval over seeds, the paper's figure beside; the best row by the
    primary metric is bold. The classes column appears only when the subsets differ;
    over subsets, the ± is their spread."""
    rows = leaderboard_rows(bench, records)
    metrics = metric_columns(bench)
    show_classes = len({r.classes for r in rows if not r.over_subsets and r.n}) > 1
    title = f"{bench.name}: mean ± std over seeds, [95% interval] (%)"
    if bench.reference_citation:
        title += f"; paper: {bench.reference_citation}"
    table = Table(title=Text(title))
    columns = [("arm", "left"), ("classes", "left")] if show_classes else [("arm", "left")]
    columns.append(("n", "right"))
    with_paper = metrics_with_paper(rows)
    for m in metrics:
        columns += [(METRIC_LABELS[m], "right"), ("95%" + " " * metrics.index(m), "right")]
        if m in with_paper:
            columns.append(("paper" + " " * metrics.index(m), "right"))
    widest = max((len(r.label) for r in rows), default=3)
    for column, justify in columns:
        # a narrow terminal wraps the arm's name rather than squeezing it out
        table.add_column(escape(column), justify=justify,  # type: ignore[arg-type]
                         no_wrap=justify == "right", overflow="fold",
                         min_width=min(widest, 16) if column == "arm" else None)
    best = _best(bench, rows)
    for i, row in enumerate(rows):
        cells: list[str | Text] = [Text(row.label)]
        if show_classes:
            cells.append(Text(row.classes))
        cells.append(str(row.n))
        for m in metrics:
            figure = row.figures.get(m)
            cells += [format_summary(figure), format_interval(figure)]
            if m in with_paper:
                cells.append(f"{row.paper[m]:.1f}" if m in row.paper else "")
        top = bool(row.figures) and not row.over_subsets and \
            row.figures[bench.primary_metric].mean == best
        last_of_arm = i + 1 == len(rows) or rows[i + 1].arm != row.arm
        table.add_row(*cells, style="bold" if top else None,
                      end_section=row.over_subsets and last_of_arm)
    return table


def leaderboard_records(bench: Benchmark, records: list[TrialRecord]) -> list[dict[str, Any]]:
    """The rows as plain data (JSON, CSV): fractions, not percent; the paper's figure and
    the difference from it in percent points, as the paper prints them."""
    out = []
    best = _best(bench, leaderboard_rows(bench, records))
    for row in leaderboard_rows(bench, records):
        item: dict[str, Any] = {"arm": row.arm, "classes": row.classes, "n": row.n,
                                "over_subsets": row.over_subsets, "tuned": row.tuned}
        for m in METRICS:
            s = row.figures.get(m)
            item.update({f"{m}_mean": s.mean if s else None, f"{m}_std": s.std if s else None,
                         f"{m}_ci_low": s.low if s else None,
                         f"{m}_ci_high": s.high if s else None})
            if m in row.paper:
                item[f"{m}_paper"] = row.paper[m]
                item[f"{m}_minus_paper"] = None if s is None else 100 * s.mean - row.paper[m]
        item["best"] = bool(row.figures) and not row.over_subsets and \
            row.figures[bench.primary_metric].mean == best
        out.append(item)
    return out


def leaderboard_markdown(bench: Benchmark, records: list[TrialRecord],
                         tables: Sequence[ResultTable] = ()) -> str:
    """The rows as a Markdown table (the MLflow parent run's artifact, reports), and the
    plugins' result tables after it."""
    metrics = metric_columns(bench)
    title = f"# {bench.name}: leaderboard\n\nMean ± std over seeds and the 95% interval " \
            "(Student's t over seeds), in percent"
    if bench.reference_citation:
        title += f"; the paper's figures from {bench.reference_citation}"
    rows = leaderboard_rows(bench, records)
    with_paper = metrics_with_paper(rows)
    header = ["arm", "classes", "n"] + [
        x for m in metrics
        for x in (METRIC_LABELS[m], "95% interval", *(("paper",) if m in with_paper else ()))]
    lines = [title + ".", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * 3 + "---:|" * (len(header) - 3)]
    best = _best(bench, rows)
    for row in rows:
        top = bool(row.figures) and not row.over_subsets and \
            row.figures[bench.primary_metric].mean == best
        name = f"**{_md(row.label)}**" if top else _md(row.label)
        cells = [name, _md(row.classes), str(row.n)]
        for m in metrics:
            figure = row.figures.get(m)
            cells += [format_summary(figure), format_interval(figure)]
            if m in with_paper:
                cells.append(f"{row.paper[m]:.1f}" if m in row.paper else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, *("\n" + markdown_table(t) for t in tables)]) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
