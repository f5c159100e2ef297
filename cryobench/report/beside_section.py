"""The report's section on other profiles of the same file, arm by arm."""

from __future__ import annotations

from pathlib import Path

from cryobench.metrics import METRIC_LABELS
from cryobench.report import figures
from cryobench.report.analysis import Analysis
from cryobench.report.beside import NO_PROFILE, ProfileColumn
from cryobench.report.document import Document, Figure, Heading, Paragraph, Table, literal
from cryobench.report.formats import p_text, points
from cryobench.run.leaderboard import format_summary


def beside_section(doc: Document, analysis: Analysis, folder: Path) -> None:
    side = analysis.beside
    assert side is not None
    own, others = side.columns[0], side.columns[1:]
    label = METRIC_LABELS[side.metric]
    header = ["arm", f"{own.label} (%)", "rank"]
    numeric = [False, True, True]
    for column in others:
        header += [f"{column.label} (%)", "rank", "difference", "p (Holm)"]
        numeric += [True, True, True, True]
    rows = []
    for row in side.rows:
        cells = [row, _figure_cell(own, row), str(own.ranks.get(row, "–"))]
        for column in others:
            found = next((d for d in side.differences[column.label] if d.arm == row), None)
            if row not in column.summaries or found is None:
                cells += ["–", "", "", ""]
                continue
            t = found.test
            difference = found.note if t is None else points(t.difference, True) + (
                " *" if found.significant else "") + (f" ({found.note})" if found.note else "")
            cells += [_figure_cell(column, row), str(column.ranks.get(row, "–")), difference,
                      p_text(found.p_holm)]
        rows.append(tuple(cells))
    names = ", ".join(_profile_name(c.label) for c in others)
    doc.add(Heading("Beside other profiles"),
            Paragraph(f"The same arms under {names}: the {label} (mean ± standard deviation "
                      "over seeds) and its rank among the arms that every profile finished "
                      "(1: best; the others have none). "
                      f"The difference is the other profile minus {_profile_name(own.label)}, "
                      "each arm paired with itself by seed on the same data and split, in "
                      "percentage points, from the corrected resampled t-test; p is "
                      "Holm-corrected over the arms, and * marks p < 0.05."),
            Table(tuple(header), tuple(rows), tuple(numeric)))
    path = figures.profiles_png(folder / "figures" / "profiles.png", side.rows,
                                [(c.label, c.summaries) for c in side.columns], side.metric,
                                f"{analysis.bench.name}: {label} under each profile")
    doc.add(Figure(path, f"{label} per arm under each profile: mean (dot) and 95% interval "
                         "(bar) over seeds."))
    agreement = []
    for column in others:
        tau, why = side.agreement[column.label]
        agreement.append(f"{_profile_name(column.label)}: " + (
            f"τ = {tau:.2f}" if tau is not None else f"not measured ({why})"))
    doc.add(Paragraph("Does the order of the arms change? Kendall's τ between each profile's "
                      f"order and {_profile_name(own.label)}'s (1: the same order, −1: "
                      "reversed; over means, so a reordering within the intervals is "
                      "noise as likely as not): " + "; ".join(agreement) + "."))


def _profile_name(label: str) -> str:
    return label if label == NO_PROFILE else f'"{literal(label)}"'


def _figure_cell(column: ProfileColumn, arm: str) -> str:
    s = column.summaries[arm]
    text = format_summary(s)
    return text + " (tuned)" if arm in column.tuned else text
