"""The local executor: trials one after another in this process, with rich progress."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cryobench.specs import Benchmark
from cryobench.data.cache import cache_root
from cryobench.errors import CryobenchError
from cryobench.progress import phase_bars
from cryobench.registry import Registry
from cryobench.run.results import ResultStore
from cryobench.run.execute import TrialEnvironment, prepare_data, run_trial
from cryobench.run.plan import TrialSpec, expand_trials


def run_local(bench: Benchmark, registry: Registry, store: ResultStore, console: Console,
              *, threads: int | None = None, debug: bool = False) -> list[dict[str, Any]]:
    """Run every trial not already finished (same content hash); return all results."""
    trials = expand_trials(bench, threads)
    existing = store.read()
    warning = existing.warning(store.path)
    if warning:
        console.print(Text(f"warning: {warning}"), highlight=False, soft_wrap=True)
    done = existing.finished()
    todo = [t for t in trials if t.key not in done]
    if len(todo) < len(trials):
        console.print(Text(f"{len(trials) - len(todo)} of {len(trials)} trials already "
                           f"finished in {store.path}; running the other {len(todo)}"),
                      soft_wrap=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=console) as bars:
        overall = bars.add_task("trials", total=len(todo), status="")
        on_data = phase_bars(bars, indent="  ", status="")
        env = TrialEnvironment(
            registry=registry, base_dir=(bench.path.parent if bench.path else Path.cwd()),
            cache_dir=cache_root(), progress=on_data)
        prepare_data(todo, env)  # bad data: one user error before any training
        for trial in todo:
            label = f"{trial.arm} / seed {trial.seed}" + (
                f" / fold {trial.fold}" if trial.fold is not None else "")
            epoch_task = bars.add_task(f"  {escape(label)}", total=trial.train.max_epochs,
                                       status="")

            def on_epoch(record: dict[str, Any], task: int = epoch_task) -> None:
                status = (f"val F1 {record['val_macro_f1']:.3f}" if "val_macro_f1" in record
                          else f"loss {record['train_loss']:.3f}")
                if "member" in record:
                    status = f"member {record['member']}/{record['members']}, {status}"
                bars.update(task, completed=record["epoch"], status=status)

            env.on_epoch = on_epoch
            record = _run_one(trial, env, debug)
            store.append(record)
            done[trial.key] = record
            bars.remove_task(epoch_task)
            bars.update(overall, advance=1, status=_status(record))
            if record["status"] != "ok":
                console.print(Text.assemble((f"trial {label} failed: ", "red"),
                                            record["error"]), highlight=False, soft_wrap=True)
    # a result found by content hash is this benchmark's trial, whatever it was called then
    return [{**done[t.key], "arm": t.arm, "benchmark": t.benchmark}
            for t in trials if t.key in done]


def _run_one(trial: TrialSpec, env: TrialEnvironment, debug: bool) -> dict[str, Any]:
    try:
        return run_trial(trial, env)
    except CryobenchError as exc:
        if debug:
            raise
        return _failed(trial, str(exc))
    except Exception as exc:  # a broken trial is recorded, and the others go on
        if debug:
            raise
        return _failed(trial, f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _failed(trial: TrialSpec, error: str, trace: str = "") -> dict[str, Any]:
    return {"key": trial.key, "benchmark": trial.benchmark, "arm": trial.arm,
            "seed": trial.seed, "fold": trial.fold, "status": "failed", "error": error,
            "traceback": trace, "config": trial.config()}


def _status(record: dict[str, Any]) -> str:
    if record["status"] != "ok":
        return "[red]failed[/]"
    m = record["metrics"]
    return f"last: F1 {m['macro_f1']:.3f}, G {m['macro_gmean']:.3f}"
