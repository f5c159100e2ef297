"""The multi-path CNN's Table III: each path alone, as a one-versus-rest classifier of
each class, beside the paper's figures (a result table for the leaderboard, the report
and MLflow, through ``cryobench_result_tables``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from cryobench.api import ResultTable


def path_table(benchmark: Any, records: list[Any]) -> ResultTable | None:
    """F1 and G-mean on the test split (mean over seeds) per class and path (path k: the
    k-th path kind of the file), beside ``[reference.paths]``; ``*`` marks the path a
    class was given most often. None when no record reports its paths."""
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
    reference = benchmark.reference_paths
    rows, ends = [], []
    for name in classes:
        best = max(paths, key=lambda p: chosen[(name, p)])
        paper = reference.get(name, ())
        for k, path in enumerate(paths):
            values = cells.get((name, path), [])
            ref = paper[k] if k < len(paper) else None
            rows.append((
                name if k == 0 else "", path,
                f"{100 * np.mean([v[0] for v in values]):.1f}" if values else "–",
                f"{100 * np.mean([v[1] for v in values]):.1f}" if values else "–",
                f"{ref[0]:.1f}" if ref else "", f"{ref[1]:.1f}" if ref else "",
                "*" if path == best and chosen[(name, path)] else ""))
        ends.append(len(rows) - 1)
    return ResultTable(
        "Each path alone, class versus the rest (%): mean over seeds"
        + ("; paper: Table III" if reference else ""),
        ("class", "path", "F1", "G-mean", "paper F1", "paper G-mean", "chosen"),
        tuple(rows), tuple(ends), name_columns=2,
        note="* the path the class was given most often over seeds")
