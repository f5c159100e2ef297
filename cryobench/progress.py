"""Rich progress bars behind the plain ``(phase, done, total)`` callbacks the core uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

ProgressCallback = Callable[[str, int, int], None]


@contextmanager
def phase_progress(console: Console | None = None) -> Iterator[ProgressCallback]:
    """One bar per phase name ("simulating", "writing", "reading", ...)."""
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bars:
        yield phase_bars(bars)


def phase_bars(bars: Progress, indent: str = "", **fields: object) -> ProgressCallback:
    """A callback that adds a bar the first time it hears of a phase, then updates it."""
    tasks: dict[str, int] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(f"{indent}{phase}", total=total, **fields)
        bars.update(tasks[phase], completed=done, total=total)

    return update
