"""The report's section along a sweep (an imbalance, an SNR): each arm's line, and where
it differs from the baseline."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from cryobench.metrics import METRIC_LABELS
from cryobench.report import figures
from cryobench.report.analysis import Analysis
from cryobench.report.document import Bullets, Document, Figure, Heading, Paragraph, literal
from cryobench.stats import ALPHA


def sweep_section(doc: Document, analysis: Analysis, folder: Path) -> None:
    axis = analysis.sweep_axis or ""
    metric = analysis.bench.primary_metric
    values = sorted({v for line in analysis.sweep for v in line.points})
    log_x = len(values) > 2 and min(values) > 0 and max(values) / min(values) >= 10
    arms = {a.name: a for a in analysis.bench.arms}
    by_family: dict[str, list[str]] = defaultdict(list)
    starred: dict[str, set[float]] = defaultdict(set)
    for c in analysis.comparisons.get(metric, []):
        point = arms[c.arm].sweep
        if point is not None and c.significant:
            direction = "better" if c.test.difference > 0 else "worse"
            by_family[point.base].append(f"{literal(axis)} {point.value:g}: {direction} by "
                                         f"{abs(100 * c.test.difference):.1f} points")
            starred[point.base].add(point.value)
    path = figures.sweep_png(folder / "figures" / "sweep.png", axis,
                             {line.family: line.points for line in analysis.sweep},
                             metric, log_x, starred)
    doc.add(Heading(f"Along the sweep: {literal(axis)}"),
            Figure(path, f"{METRIC_LABELS[metric]} against {axis}: mean over seeds, the "
                         "band its 95% interval (where there are two or more seeds); a "
                         f"star where the arm differs from {analysis.baseline} at that "
                         "value (Holm-corrected p < 0.05)."))
    tested = {arms[c.arm].family for c in analysis.comparisons.get(metric, [])
              if c.test.p_value is not None}
    lines = []
    for line in analysis.sweep:
        if line.family == analysis.baseline:
            continue
        found = by_family.get(line.family)
        if found:
            lines.append(f"**{literal(line.family)}**: " + "; ".join(found))
        elif line.family in tested:
            lines.append(f"**{literal(line.family)}**: at no swept value significantly different")
        else:
            lines.append(f"**{literal(line.family)}**: not tested (one seed, no spread, or no "
                         "paired baseline trials)")
    if lines:
        doc.add(Paragraph(f"Where each arm's {METRIC_LABELS[metric]} differs from "
                          f"{literal(analysis.baseline)} at the same {literal(axis)} "
                          "(Holm-corrected p < "
                          f"{ALPHA}, paired by seed):"), Bullets(tuple(lines)))
