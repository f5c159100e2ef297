"""``[reference]`` (the paper's figures, its per-path Table III) and ``[report]``."""

from __future__ import annotations

from typing import Any

from cryobench.config.reader import FileReader
from cryobench.errors import unknown_name_message
from cryobench.metrics import METRICS
from cryobench.specs import Arm


def reference(reader: FileReader, table: Any, arms: tuple[Arm, ...]
              ) -> tuple[str, dict[str, dict[str, float]]]:
    """The citation and each arm's published figures, in percent."""
    reader.table("reference", table)
    reader.keys("reference", table, ("citation", "arms", "paths"))
    citation = table.get("citation", "")
    if not isinstance(citation, str):
        reader.fail("reference.citation", "expected a string")
    figures = reader.table("reference.arms", table.get("arms", {}))
    names = [a.name for a in arms]
    out: dict[str, dict[str, float]] = {}
    for arm_name, values in figures.items():
        key = f"reference.arms.{arm_name}"
        if arm_name not in names and arm_name in reader.file_arms:
            continue  # an arm the profile leaves out
        if arm_name not in names:
            reader.fail(key, unknown_name_message("arm", arm_name, names))
        reader.table(key, values)
        reader.keys(key, values, METRICS)
        for metric, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not 0 <= value <= 100:
                reader.fail(f"{key}.{metric}",
                            f"expected a percentage in [0, 100], got {value!r}")
        out[arm_name] = {m: float(x) for m, x in values.items()}
    return citation, out


def reference_paths(reader: FileReader, table: Any
                    ) -> dict[str, tuple[tuple[float, float], ...]]:
    """``class = [[F1, G-mean], ...]``, one pair per path, in percent."""
    reader.table("reference.paths", table)
    out = {}
    for name, pairs in table.items():
        key = f"reference.paths.{name}"
        ok = isinstance(pairs, list) and pairs and all(
            isinstance(p, list) and len(p) == 2 and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 100
                for x in p) for p in pairs)
        if not ok:
            reader.fail(key, f"expected a list of [F1, G-mean] pairs in percent, got "
                             f"{pairs!r}")
        out[name] = tuple((float(f), float(g)) for f, g in pairs)
    return out


def report_table(reader: FileReader, table: Any, arms: tuple[Arm, ...]) -> str | None:
    """``[report] baseline``: the arm every other is compared with (default: the first
    plain arm, whose components declare no strategy)."""
    reader.table("report", table)
    reader.keys("report", table, ("baseline",))
    baseline = table.get("baseline")
    if baseline is None:
        return None
    families = list(dict.fromkeys(a.family for a in arms))
    if not isinstance(baseline, str) or baseline not in families:
        reader.fail("report.baseline", unknown_name_message("arm", str(baseline), families))
    return baseline
