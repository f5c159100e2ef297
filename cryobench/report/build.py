"""The report's content: the analysis in words, tables and figures (one Document)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cryobench import __version__
from cryobench.contract.tables import ResultTable
from cryobench.metrics import METRIC_LABELS, METRICS
from cryobench.report import figures
from cryobench.report.analysis import Analysis, Comparison, uncompared
from cryobench.report.beside_section import beside_section
from cryobench.report.certainty_section import certainty_section
from cryobench.report.ensembles_section import ensembles_section
from cryobench.report.formats import left_out_text, p_text, points
from cryobench.report.machines_section import machines_section
from cryobench.report.sweep_section import sweep_section
from cryobench.report.document import (Bullets, Document, Figure, Heading, Paragraph, Table,
                                       literal)
from cryobench.run.leaderboard import (ArmSummary, format_interval, format_summary,
                                       metrics_with_paper)
from cryobench.run.records import TrialRecord
from cryobench.stats import ALPHA, POWER

INTERVAL_METHOD = ("the 95% interval is Student's t over seeds (mean ± t(0.975, n − 1) · "
                   "s / √n), clipped to [0, 100]")
ONE_SEED = ("Each arm has one seed: with no spread there is no interval and no test. "
            "Differences below are single draws; add seeds (`[benchmark] seeds`) to tell a "
            "real gain from noise.")


def build_report(analysis: Analysis, folder: Path, tables: Sequence[ResultTable] = (),
                 other_seeds: dict[int, int] | None = None) -> Document:
    """The report's blocks, with the plugins' result tables (Table III) before the
    figures; its figures are written to ``folder``/figures. ``other_seeds``: finished
    trials per seed of the result file that the report leaves out (``--seeds``)."""
    bench = analysis.bench
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    profile = f", profile {bench.profile!r}" if bench.profile else ""
    doc = Document(f"{bench.name}{'.' + bench.profile if bench.profile else ''}: report")
    seeds = sorted({r.seed for r in analysis.records})
    about = bench.description or bench.name
    doc.add(Paragraph(
        f"{literal(about[:1].upper() + about[1:] + profile)}: "
        f"{len(analysis.records)} finished trials of {len({r.arm for r in analysis.records})} "
        f"arms over seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}. Made from "
        f"the result file by cryobench {__version__} on {time.strftime('%Y-%m-%d')}; "
        "nothing was trained for it." + _left_out_seeds(other_seeds or {})))
    _leaderboard(doc, analysis, folder)
    _against_paper(doc, analysis)
    _comparisons(doc, analysis)
    if analysis.beside:
        beside_section(doc, analysis, folder)
    _ranks(doc, analysis, folder)
    certainty_section(doc, analysis, folder)
    ensembles_section(doc, analysis, folder)
    if analysis.sweep:
        sweep_section(doc, analysis, folder)
    for table in tables:
        _result_table(doc, table)
    _figures(doc, analysis, folder)
    machines_section(doc, analysis)
    return doc


def _left_out_seeds(other: dict[int, int]) -> str:
    if not other:
        return ""
    count = sum(other.values())
    return (f" The result file also holds {count} finished trial{'s' * (count > 1)} of the "
            f"benchmark's seed{'s' * (len(other) > 1)} {', '.join(map(str, other))}, which "
            "this report leaves out (it was made with `--seeds`).")


def _result_table(doc: Document, table: ResultTable) -> None:
    doc.add(Heading(table.title),
            Table(table.columns, table.rows,
                  tuple(i >= table.name_columns for i in range(len(table.columns)))))
    if table.note:
        doc.add(Paragraph(literal(table.note)))


# --- the leaderboard -----------------------------------------------------------------------


def _label(row: ArmSummary, show_classes: bool) -> str:
    return f"{row.label} [{row.classes}]" if show_classes and not row.over_subsets \
        else row.label


def _ranks_of(analysis: Analysis) -> dict[int, int]:
    """Each row's rank by the primary metric among the rows it competes with (the same
    class subset and sweep point)."""
    points = {a.name: (a.sweep.value if a.sweep else None) for a in analysis.bench.arms}
    groups: dict[tuple[object, str], list[int]] = defaultdict(list)
    for i, row in enumerate(analysis.rows):
        if row.figures and not row.over_subsets:
            groups[(points.get(row.arm), row.classes)].append(i)
    metric = analysis.bench.primary_metric
    out = {}
    for members in groups.values():
        means = {i: analysis.rows[i].figures[metric].mean for i in members}
        # ties share the better rank ("1, 1, 3")
        out.update({i: 1 + sum(m > means[i] for m in means.values()) for i in members})
    return out


def _leaderboard(doc: Document, analysis: Analysis, folder: Path) -> None:
    bench = analysis.bench
    metric = bench.primary_metric
    show_classes = len({r.classes for r in analysis.rows if r.n and not r.over_subsets}) > 1
    ranks = _ranks_of(analysis)
    with_paper = metrics_with_paper(analysis.rows)
    header = ["rank", "arm", "n"]
    for m in METRICS:
        header += [f"{METRIC_LABELS[m]} (%)", "95% interval"]
        if m in with_paper:
            header.append("paper")
    rows, bold = [], set()
    for i, row in enumerate(analysis.rows):
        cells = [str(ranks.get(i, "")), _label(row, show_classes), str(row.n)]
        for m in METRICS:
            figure = row.figures.get(m)
            cells += [format_summary(figure), format_interval(figure)]
            if m in with_paper:
                cells.append(f"{row.paper[m]:.1f}" if m in row.paper else "")
        rows.append(tuple(cells))
        if ranks.get(i) == 1:
            bold.add(i)
    doc.add(Heading("Leaderboard"),
            Paragraph(f"Per arm{' and class subset' if show_classes else ''}: the mean ± "
                      f"standard deviation over seeds, in percent; {INTERVAL_METHOD}. "
                      f"Rank and bold: by {METRIC_LABELS[metric]}"
                      + (" among the arms at the same swept value" if analysis.sweep else "")
                      + ". The same numbers as `cryobench leaderboard`."),
            Table(tuple(header), tuple(rows), tuple(h not in ("arm",) for h in header),
                  frozenset(bold)))
    if analysis.seeds < 2:
        doc.add(Paragraph(ONE_SEED))
    shown = [r for r in analysis.rows if r.figures and not r.over_subsets]
    if shown and not analysis.sweep:
        path = figures.leaderboard_png(
            folder / "figures" / "leaderboard.png", [_label(r, show_classes) for r in shown],
            [r.figures[metric] for r in shown], [r.paper.get(metric) for r in shown], metric,
            f"{bench.name}: {METRIC_LABELS[metric]}, mean and 95% interval over seeds")
        doc.add(Figure(path, f"{METRIC_LABELS[metric]} per arm: mean (dot) and 95% interval "
                             "(bar) over seeds; the paper's figure as a red cross."))


def _against_paper(doc: Document, analysis: Analysis) -> None:
    """Where the paper's figure lies outside the arm's interval, in words."""
    outside, unknown = [], []  # unknown: figures without an interval (one seed)
    inside: dict[str, list[str]] = {}  # metric -> arms
    for row in analysis.rows:
        for m, paper in row.paper.items():
            s = row.figures.get(m)
            if s is None:
                continue
            if s.low is None or s.high is None:
                unknown.append(f"{literal(row.label)} ({METRIC_LABELS[m]})")
            elif not s.low <= paper / 100 <= s.high:
                side = "above" if paper / 100 > s.high else "below"
                outside.append(f"**{literal(row.label)}**: the paper's {METRIC_LABELS[m]} {paper:.1f} "
                               f"lies {side} this run's 95% interval "
                               f"({format_interval(s)}; mean {100 * s.mean:.1f}).")
            else:
                inside.setdefault(m, []).append(literal(row.label))
    if not (outside or inside or unknown):
        return
    doc.add(Heading("Against the paper"))
    if outside:
        doc.add(Bullets(tuple(outside)))
    if inside:
        doc.add(Paragraph("Inside this run's 95% interval: " + "; ".join(
            f"the {METRIC_LABELS[m]} of {', '.join(arms)}" for m, arms in inside.items()) + "."))
    if len(unknown) > 4:
        doc.add(Paragraph(f"One seed, no interval, so no statement about {len(unknown)} of "
                          "the paper's figures."))
    elif unknown:
        doc.add(Paragraph("One seed, no interval, so no statement: " + "; ".join(unknown)
                          + "."))


# --- paired comparisons --------------------------------------------------------------------


def _comparison_row(c: Comparison, show_classes: bool, show_against: bool
                    ) -> tuple[str, ...]:
    t = c.test
    interval = "–" if t.low is None else f"{100 * t.low:+.1f} to {100 * t.high:+.1f}"  # type: ignore[operator]
    if t.n < 2:
        verdict = "one seed: no test"
    elif t.p_value is None:
        verdict = "no spread: no test"
    elif c.significant:
        verdict = "yes, better" if t.difference > 0 else "yes, worse"
    else:
        verdict = "no"
    needed = "–" if t.n < 2 else (str(t.seeds_needed) if t.seeds_needed is not None
                                  else "none practical")
    if t.n >= 2 and t.seeds_needed is None and t.difference == 0:
        needed = "–"
    arm = f"{c.arm} [{c.classes}]" if show_classes else c.arm
    cells = (arm, str(t.n), points(t.difference, True), interval, p_text(t.p_value),
             p_text(c.p_holm), p_text(t.wilcoxon_p), verdict, points(t.detectable), needed)
    return (cells[0], c.baseline, *cells[1:]) if show_against else cells


def _comparisons(doc: Document, analysis: Analysis) -> None:
    first = next(iter(analysis.comparisons.values()), [])
    if not first:
        return
    doc.add(Heading(f"Each arm against {literal(analysis.baseline)}"),
            Paragraph(
                "Paired by seed (the same split for both arms): the mean difference in "
                "percentage points, arm minus baseline, with its 95% interval and p-value "
                "from the **Nadeau–Bengio corrected resampled t-test**. The seeds re-split "
                "one data set, so their training sets overlap and the per-seed differences "
                "are correlated; the plain paired t-test would then be too confident, and "
                f"the correction widens its variance by n_test/n_train "
                f"(= {analysis.test_train_ratio:.2f} here). The p-values are Holm-corrected "
                f"over all arms; **significant** means a corrected p < {ALPHA}. Wilcoxon's "
                "signed-rank p is shown as the rank-based check; with fewer than six seeds "
                "it cannot fall below 0.05 at all. **Detectable**: the smallest true "
                f"difference these seeds find with {POWER:.0%} power, from the measured "
                "spread; **seeds needed**: how many seeds would find the observed "
                "difference, for that comparison alone (Holm's correction over many arms "
                "asks for more; none practical: with overlapping training sets, more seeds "
                "never shrink the corrected variance below s² · n_test/n_train)."))
    show_classes = len({c.classes for c in first}) > 1
    families = {a.name: a.family for a in analysis.bench.arms}
    show_against = any(families.get(c.baseline) != analysis.baseline for c in first)
    header = ("arm", "n", "difference", "95% interval", "p (corrected t)", "p (Holm)",
              "p (Wilcoxon)", "significant", "detectable", "seeds needed")
    numeric = (False, True, True, True, True, True, True, False, True, True)
    if show_against:
        header, numeric = (header[0], "against", *header[1:]), (False, False, *numeric[1:])
    for metric, found in analysis.comparisons.items():
        doc.add(Heading(METRIC_LABELS[metric], 3),
                Table(header, tuple(_comparison_row(c, show_classes, show_against)
                                    for c in found), numeric))
    if show_against:
        doc.add(Paragraph(f"Where {literal(analysis.baseline)} has no trial on an arm's class "
                          "subset or swept value, the first plain arm (no strategy) that has "
                          "one is its baseline (\"against\")."))
    left_out = uncompared(analysis)
    if left_out:
        doc.add(Paragraph("Not compared (no baseline trial on the same class subset and "
                          "seeds): " + "; ".join(map(literal, left_out)) + "."))
    if analysis.seeds < 2:
        doc.add(Paragraph(ONE_SEED))


def _ranks(doc: Document, analysis: Analysis, folder: Path) -> None:
    metric = METRIC_LABELS[analysis.bench.primary_metric]
    doc.add(Heading("All arms ranked together"))
    r = analysis.ranks
    if r is None:
        doc.add(Paragraph(f"No rank test: {literal(analysis.ranks_note)}."))
        return
    verdict = ("the arms differ (p < 0.05): the diagram shows which pairs Nemenyi's test "
               "separates" if r.p_value < ALPHA else
               "the test does not find that the arms differ at all; the diagram's "
               "ordering may be noise")
    doc.add(Paragraph(
        f"Friedman's test on {metric} over {len(r.arms)} arms and {r.blocks} blocks (seeds"
        f"{', class subsets' if len({c.classes_label for c in analysis.records}) > 1 else ''}"
        f"{' and swept values' if analysis.sweep else ''} that every arm finished): "
        f"χ² = {r.statistic:.2f}, p = {p_text(r.p_value)}: {verdict}. Demsar (2006). Like "
        "Wilcoxon's, these tests treat the seeds as independent, which overlapping training "
        "sets are not: a description of the ranking, not a confirmation of the corrected "
        "t-test." + left_out_text(analysis.ranks_left_out)))
    path = figures.critical_difference_png(folder / "figures" / "critical_difference.png",
                                           r, f"{analysis.bench.name}: {metric}")
    doc.add(Figure(path, "Critical-difference diagram: each arm's average rank over the "
                         "blocks (1: best); arms joined by a bar are not told apart by "
                         "Nemenyi's test at 0.05."))


# --- figures of every arm ------------------------------------------------------------------


def _groups(analysis: Analysis) -> dict[str, list[TrialRecord]]:
    """Records per arm (and class subset, when there are several), in leaderboard order."""
    several = len({r.classes_label for r in analysis.records}) > 1
    out: dict[str, list[TrialRecord]] = {}
    order = {a.name: i for i, a in enumerate(analysis.bench.arms)}
    for r in sorted(analysis.records, key=lambda r: (order.get(r.arm, 0), r.classes_label)):
        label = f"{r.arm} [{r.classes_label}]" if several else r.arm
        if r.tuned:
            label += " (tuned)"
        out.setdefault(label, []).append(r)
    return out


def _figures(doc: Document, analysis: Analysis, folder: Path) -> None:
    groups = _groups(analysis)
    classes = list(dict.fromkeys(c for r in analysis.records for c in r.classes))
    values: dict[str, dict[str, dict[str, list[float]]]] = {}
    for label, rows in groups.items():
        values[label] = {"recall": defaultdict(list), "f1": defaultdict(list)}
        for r in rows:
            for c in r.per_class:
                values[label]["recall"][c["name"]].append(c["recall"])
                values[label]["f1"][c["name"]].append(c["f1"])
    doc.add(Heading("Per class"))
    doc.add(Figure(figures.per_class_png(folder / "figures" / "per_class.png", list(groups),
                                         classes, values),
                   "Recall and F1 of each class per arm: mean over seeds, the whisker one "
                   "standard deviation."))
    confusions = []
    for rows in groups.values():
        names = rows[0].classes
        total = np.zeros((len(classes), len(classes)))
        index = [classes.index(n) for n in names]
        for r in rows:
            total[np.ix_(index, index)] += np.asarray(r.confusion)
        confusions.append(total)
    doc.add(Figure(figures.confusions_png(folder / "figures" / "confusion.png", list(groups),
                                          classes, confusions),
                   "Confusion matrices summed over seeds, each row normalised by its true "
                   "class (recall on the diagonal)."))
    curves = {label: [c for c in (_curve(r) for r in rows) if c]
              for label, rows in groups.items()}
    curves = {k: v for k, v in curves.items() if v}
    doc.add(Heading("Training"))
    if curves:
        doc.add(Figure(figures.learning_curves_png(folder / "figures" / "learning_curves.png",
                                                   curves, list(groups)),
                       "Validation macro F1 per epoch of each single network: the mean over "
                       "seeds, the band ± one standard deviation (ensembles and classical "
                       "models report no curve)."))
    seconds = {label: [r.timings["fit_seconds"] for r in rows if "fit_seconds" in r.timings]
               for label, rows in groups.items()}
    seconds = {k: v for k, v in seconds.items() if v}
    if seconds:
        doc.add(Figure(figures.fit_times_png(folder / "figures" / "fit_time.png", seconds),
                       "Seconds to fit one trial (mean ± std over seeds); machines and "
                       "concurrent trials differ, so compare within one run."))


def _curve(record: TrialRecord) -> list[float]:
    return [h["val_macro_f1"] for h in record.history
            if "val_macro_f1" in h and h.get("member", 1) == 1]

