"""Plugins' result tables rendered where results are shown: rich on a terminal,
Markdown in the report and MLflow."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from cryobench.contract.tables import ResultTable


def rich_table(table: ResultTable) -> Table:
    out = Table(title=Text(table.title), caption=Text(table.note) if table.note else None)
    for i, column in enumerate(table.columns):
        out.add_column(Text(column), justify="left" if i < table.name_columns else "right")
    for i, row in enumerate(table.rows):
        out.add_row(*(Text(cell) for cell in row), end_section=i in table.group_ends)
    return out


def markdown_table(table: ResultTable) -> str:
    def cells(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    align = tuple(":--" if i < table.name_columns else "--:"
                  for i in range(len(table.columns)))
    lines = [f"## {table.title}", "", cells(table.columns), cells(align),
             *(cells(row) for row in table.rows)]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"
