"""What a user sees of a run: a live view on a terminal, plain lines anywhere else.

Both take the same events from the driver, whatever executor runs the trials: data
phases, a trial starting, each of its epochs, a trial finishing. Piped to a file or a
batch log, a run still says what it is doing (one line per phase and per finished trial,
with what is left and an estimate of when it ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, Task, TextColumn, TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from cryobench.contract.records import EpochRecord
from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord
from cryobench.run.time_left import TimeLeft


class RunView(Protocol):
    def __enter__(self) -> RunView: ...
    def __exit__(self, *exc: object) -> None: ...
    def phase(self, phase: str, done: int, total: int) -> None: ...
    def started(self, trial: TrialSpec) -> None: ...
    def epoch(self, trial: TrialSpec, record: EpochRecord) -> None: ...
    def finished(self, trial: TrialSpec, record: TrialRecord) -> None: ...


def trial_label(trial: TrialSpec) -> str:
    fold = f" / fold {trial.fold}" if trial.fold is not None else ""
    subset = f" / {','.join(trial.dataset.classes)}" if trial.dataset.classes else ""
    return f"{trial.arm}{subset} / seed {trial.seed}{fold}"


def epoch_status(record: EpochRecord) -> str:
    """"member 2/5, val F1 0.831": the member where the trial trains several networks."""
    figures = record.figures
    status = (f"val F1 {figures['val_macro_f1']:.3f}" if "val_macro_f1" in figures
              else f"loss {figures.get('train_loss', float('nan')):.3f}")
    if record.members and record.members > 1:
        status = f"member {record.member}/{record.members}, {status}"
    elif record.member and record.member > 1:  # an ensemble that does not say how many
        status = f"network {record.member}, {status}"
    return status


def outcome(record: TrialRecord) -> Text:
    if not record.ok:
        return Text("failed", style="red")
    m = record.metrics
    return Text(f"F1 {m['macro_f1']:.3f}, G {m['macro_gmean']:.3f}")


def make_view(console: Console, total: int, time_left: TimeLeft | None = None) -> RunView:
    """The live view on a terminal, plain lines otherwise; ``time_left`` estimates when
    the run ends (none: a view that does not say)."""
    view = LiveView if console.is_terminal else LineView
    return view(console, total, time_left)


class RunTimeLeft(TimeRemainingColumn):
    """The run's time left as :class:`TimeLeft` weighs its trials (rich's own estimate,
    from the trials counted alike, is hours off when arms differ in cost), counting down
    between trials; a running trial's, from its epochs, as rich estimates it."""

    def render(self, task: Task) -> Text:
        if "ends_at" in task.fields:
            ends_at = task.fields["ends_at"]
            return Text("-:--:--" if ends_at is None else
                        f"~{_duration(max(0.0, ends_at - time.monotonic()))}",
                        style="progress.remaining")
        return super().render(task)


def seconds_left(time_left: TimeLeft | None, tell: Callable[[TimeLeft], None]
                 ) -> float | None:
    """Tell the estimate what happened (a trial started or finished); the seconds left
    then. An estimate is never worth a run: one that fails shows none."""
    if time_left is None:
        return None
    try:
        tell(time_left)
        return time_left.seconds()
    except Exception:  # whatever a plugin's unusual parameters make of it
        return None


class LiveView:
    """Overall progress with an estimate of the time left, and one line per running
    trial (arm, seed, epoch, current validation F1)."""

    def __init__(self, console: Console, total: int, time_left: TimeLeft | None = None
                 ) -> None:
        self.console, self.time_left = console, time_left
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), RunTimeLeft(), TextColumn("{task.fields[status]}"))
        self.bars = Progress(*columns, console=console)
        self.overall = self.bars.add_task("trials", total=total, status="", ends_at=None)
        self.phases: dict[str, int] = {}
        self.running: dict[str, int] = {}

    def __enter__(self) -> LiveView:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(None, None, None)

    def phase(self, phase: str, done: int, total: int) -> None:
        if phase not in self.phases:
            self.phases[phase] = self.bars.add_task(f"  {phase}", total=total, status="")
        self.bars.update(self.phases[phase], completed=done, total=total)

    def started(self, trial: TrialSpec) -> None:
        seconds_left(self.time_left, lambda t: t.started(trial))
        self.running[trial.key] = self.bars.add_task(
            f"  {escape(trial_label(trial))}", total=trial.train.max_epochs, status="")

    def epoch(self, trial: TrialSpec, record: dict[str, Any]) -> None:
        task = self.running.get(trial.key)
        if task is not None:
            self.bars.update(task, completed=record["epoch"], status=epoch_status(record))

    def finished(self, trial: TrialSpec, record: TrialRecord) -> None:
        task = self.running.pop(trial.key, None)
        if task is not None:
            self.bars.remove_task(task)
        left = seconds_left(self.time_left, lambda t: t.finished(trial, record))
        self.bars.update(self.overall, advance=1, status=f"last: {outcome(record)}",
                         ends_at=None if left is None else time.monotonic() + left)
        if not record.ok:
            self.console.print(Text.assemble((f"trial {trial_label(trial)} failed: ", "red"),
                                             record.error), highlight=False, soft_wrap=True)


class LineView:
    """One line per data phase and per finished trial: what a log file can hold."""

    def __init__(self, console: Console, total: int, time_left: TimeLeft | None = None
                 ) -> None:
        self.console, self.total, self.done = console, total, 0
        self.time_left = time_left
        self.trial_start: dict[str, float] = {}
        self.phases_done: set[str] = set()

    def __enter__(self) -> LineView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def say(self, text: str) -> None:
        self.console.print(Text(text), highlight=False, soft_wrap=True)

    def phase(self, phase: str, done: int, total: int) -> None:
        if done >= total and phase not in self.phases_done:
            self.phases_done.add(phase)
            self.say(f"{phase}: {total} done")

    def started(self, trial: TrialSpec) -> None:
        self.trial_start[trial.key] = time.monotonic()
        seconds_left(self.time_left, lambda t: t.started(trial))

    def epoch(self, trial: TrialSpec, record: dict[str, Any]) -> None:
        return None

    def finished(self, trial: TrialSpec, record: TrialRecord) -> None:
        self.done += 1
        seconds = time.monotonic() - self.trial_start.pop(trial.key, time.monotonic())
        left = seconds_left(self.time_left, lambda t: t.finished(trial, record))
        eta = f", about {_duration(left)} left" if left is not None and \
            self.done < self.total else ""
        text = f"trial {trial_label(trial)}: {outcome(record)}"
        if not record.ok:
            text += f" ({record.error})"
        self.say(f"{text}; {seconds:.0f} s; {self.done}/{self.total} done{eta}")


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else \
        f"{minutes} min {int(seconds % 60)} s"
