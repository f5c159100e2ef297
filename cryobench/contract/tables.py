"""Tables of results that a plugin adds where results are shown: the terminal after a
run, ``cryobench leaderboard``, the report and MLflow's summary run (as tox hands its
plugins the outcomes of a run: they observe, they never steer)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResultTable:
    """Cells as text, formatted by the plugin that knows what they mean."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: indices of the rows after which a group ends (a rule on a terminal)
    group_ends: tuple[int, ...] = ()
    #: how many leading columns hold names (aligned left; the rest are figures)
    name_columns: int = 1
    note: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: a row of {len(row)} cells for "
                                 f"{len(self.columns)} columns")
