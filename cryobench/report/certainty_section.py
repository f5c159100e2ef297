"""The report's section on how sure each rank is (the Bayesian correlated t-test)."""

from __future__ import annotations

from pathlib import Path

from cryobench.metrics import METRIC_LABELS
from cryobench.report import figures
from cryobench.report.analysis import Analysis
from cryobench.report.formats import left_out_text
from cryobench.report.document import Document, Figure, Heading, Paragraph, Table, literal


def certainty_section(doc: Document, analysis: Analysis, folder: Path) -> None:
    doc.add(Heading("How sure each rank is"))
    b = analysis.bayes
    if b is None:
        doc.add(Paragraph(f"No Bayesian analysis: {literal(analysis.bayes_note)}."))
        return
    metric = METRIC_LABELS[b.metric]
    points = 100 * b.rope
    doc.add(Paragraph(
        f"The Bayesian correlated t-test (Benavoli et al. 2017, JMLR; the baycomp package) "
        f"of each arm against {literal(b.baseline)}, paired by seed over {b.seeds} seeds: "
        f"the probability that the arm's {metric} is higher by more than {points:g} point "
        f"(the region of practical equivalence), within {points:g} point, or lower. Its "
        "posterior is a Student t whose spread is corrected, as the frequentist test's is, "
        "for training sets that overlap between seeds (here n_test / n_train = "
        f"{analysis.test_train_ratio:.2f}). P(best) is the probability that the arm is the "
        "best of all arms (the baseline included), from the joint posterior of the "
        "differences. A probability of 0.95 or more is a decision; below it, more seeds "
        "are needed." + left_out_text(analysis.bayes_left_out)))
    order = sorted(b.arms, key=lambda c: -c.difference)
    rows = [(c.arm, f"{100 * c.difference:+.1f}", f"{c.better:.2f}", f"{c.equivalent:.2f}",
             f"{c.worse:.2f}", f"{c.best:.2f}") for c in order]
    rows.append((f"{b.baseline} (baseline)", "", "", "", "", f"{b.baseline_best:.2f}"))
    doc.add(Table(("arm", f"{metric} difference (points)", "P(better)", "P(equivalent)",
                   "P(worse)", "P(best)"), tuple(rows), (False,) + (True,) * 5))
    path = figures.certainty_png(
        folder / "figures" / "certainty.png", [c.arm for c in order],
        [c.better for c in order], [c.equivalent for c in order], [c.worse for c in order],
        points, b.baseline)
    doc.add(Figure(path, f"Each arm against {b.baseline}: the posterior probability of "
                         f"being better by more than {points:g} {metric} point (green), "
                         "within it (grey) or worse (red). Green that starts left of the "
                         "0.05 line is a decided gain; red that ends right of 0.95, a "
                         "decided loss."))
