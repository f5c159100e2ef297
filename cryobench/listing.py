"""``cryobench plugins``: the registered components as rows, a table, or JSON.

Names are what users type, so no layout may cut one: a terminal too narrow for the table
gets the same rows as plain lines, which the terminal itself wraps.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cryobench.registry import Registry

NAME_COLUMNS = ("kind", "name", "distribution", "version")


def component_rows(registry: Registry, kind: str | None = None) -> list[dict[str, Any]]:
    """Plain data for every registered component (and the JSON output)."""
    return [
        {"kind": info.kind, "name": info.name, "aliases": list(info.cls.aliases),
         "summary": info.summary,
         "distribution": info.distribution, "version": info.version,
         "params": [{"name": p.name, "type": p.type.__name__, "default": p.default,
                     "required": p.default is None and not p.nullable,
                     "allowed": p.allowed(), "help": p.help} for p in info.cls.params]}
        for info in registry.components(kind)
    ]


def print_components(console: Console, rows: list[dict[str, Any]], *,
                     with_params: bool) -> None:
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in NAME_COLUMNS}
    param_width = max([10, *(len(p["name"]) + 1 for r in rows for p in r["params"])])
    # each column's cell padding is 2, borders 1 between and around; summary needs room too
    needed = sum(widths.values()) + 20 + 3 * (len(NAME_COLUMNS) + 2)
    if with_params:
        needed += param_width + 3
    if console.width >= needed:
        console.print(_table(rows, widths, param_width if with_params else 0))
    else:
        _lines(console, rows, with_params)


def _table(rows: list[dict[str, Any]], widths: dict[str, int], param_width: int) -> Table:
    table = Table(title="cryobench plugins")
    for column in ("kind", "name"):
        table.add_column(column, no_wrap=True, min_width=widths[column])
    table.add_column("summary", overflow="fold", ratio=1, min_width=12)
    for column in ("distribution", "version"):
        table.add_column(column, no_wrap=True, min_width=widths[column])
    if param_width:
        table.add_column("parameters", overflow="fold", ratio=1, min_width=param_width)
    for row in rows:
        cells = [Text(str(row["kind"])), Text(str(row["name"])), Text(_summary(row)),
                 Text(str(row["distribution"])), Text(str(row["version"]))]
        if param_width:
            cells.append(Text("\n".join(_param_line(p) for p in row["params"])))
        table.add_row(*cells)
    return table


def _lines(console: Console, rows: list[dict[str, Any]], with_params: bool) -> None:
    for row in rows:
        console.print(Text(f"{row['kind']} {row['name']} ({row['distribution']} "
                           f"{row['version']}): {_summary(row)}"), soft_wrap=True)
        if with_params:
            for param in row["params"]:
                console.print(Text("  " + _param_line(param)), soft_wrap=True)


def _summary(row: dict[str, Any]) -> str:
    """The summary, and the other names a benchmark file may use for it."""
    aliases = row.get("aliases") or []
    return row["summary"] + (f" (also named {', '.join(aliases)})" if aliases else "")


def _param_line(param: dict[str, Any]) -> str:
    value = "required" if param["required"] else repr(param["default"])
    return f"{param['name']} = {value} ({param['allowed']})"
