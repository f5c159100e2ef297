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
    k-th path kind of the file), beside ``[reference.paths]`` if the file has it. With
    ``table3`` every path is tried on every class and ``*`` marks the path a class was
    given most often; without it each class trained one path, and the table has one row
    per class. None when no record reports its paths."""
    cells: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    chosen: dict[tuple[str, str], int] = defaultdict(int)
    order: list[str] = []
    for r in records:
        if not r.ok:
            continue
        for row in r.report.get("stage1", []):
            cells[(row["class"], row["path"])].append((row["f1"], row["gmean"]))
            chosen[(row["class"], row["path"])] += bool(row["chosen"])
        order = order or list((r.config.get("model") or {}).get("paths") or [])
    if not cells:
        return None
    classes = list(dict.fromkeys(c for c, _ in cells))
    paths = list(dict.fromkeys(order + [p for _, p in cells]))
    reference = benchmark.reference_paths
    title = "Each path alone, class versus the rest (%): mean over seeds" + (
        "; paper: Table III" if reference else "")
    columns = ("class", "path", "F1", "G-mean") + (
        ("paper F1", "paper G-mean") if reference else ())

    def row(name: str, path: str) -> tuple[str, ...]:
        values = cells.get((name, path), [])
        figures = tuple(f"{100 * np.mean([v[i] for v in values]):.1f}" if values else "–"
                        for i in (0, 1))
        if not reference:
            return (path, *figures)
        paper = reference.get(name, ())
        k = paths.index(path)
        ref = tuple(f"{x:.1f}" for x in paper[k]) if k < len(paper) else ("", "")
        return (path, *figures, *ref)

    if all(sum((name, p) in cells for p in paths) == 1 for name in classes):
        rows = tuple((name, *row(name, next(p for p in paths if (name, p) in cells)))
                     for name in classes)
        return ResultTable(title, columns, rows, name_columns=2,
                           note="each class's own path as stage 1 trained it; a model with "
                                "table3 = true tries every path on every class")
    grid, ends = [], []
    for name in classes:
        best = max(paths, key=lambda p: chosen[(name, p)])
        for k, path in enumerate(paths):
            grid.append((name if k == 0 else "", *row(name, path),
                         "*" if path == best and chosen[(name, path)] else ""))
        ends.append(len(grid) - 1)
    return ResultTable(title, (*columns, "chosen"), tuple(grid), tuple(ends),
                       name_columns=2,
                       note="* the path the class was given most often over seeds")
