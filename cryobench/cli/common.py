"""What several commands share: where results and tracking are, the leaderboard on a
terminal, an interrupted run marked KILLED."""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple, Optional

from rich.text import Text

from cryobench.cli import terminal
from cryobench.cli.app import debug_on


TRACKING_HELP = "MLflow tracking URI (default: a SQLite file mlflow.db here)."


MLFLOW_UI = "http://127.0.0.1:5000"


def worker_settings(bench: Any) -> Any:
    """What every trial's worker needs: where the file's relative paths resolve, the
    cache, the plugins blocked, --debug."""
    from cryobench.data.cache import cache_root
    from cryobench.registry import BLOCK_ENV
    from cryobench.run.trial import WorkerSettings

    blocked = tuple(b.strip() for b in os.environ.get(BLOCK_ENV, "").split(",") if b.strip())
    return WorkerSettings(bench.path.parent.resolve() if bench.path else Path.cwd(),
                          cache_root().resolve(), blocked, debug_on())


def mark_killed(tracker: Any, bench: Any, records: list[Any]) -> str:
    """End the invocation's MLflow run as KILLED with what is saved; what went wrong
    doing so, as the end of the interrupted command's message."""
    from cryobench.run.leaderboard import leaderboard_markdown

    try:
        tracker.finish(records, leaderboard_markdown(bench, records), "KILLED")
    except KeyboardInterrupt:
        return "; interrupted again while MLflow's run was marked KILLED"
    except Exception as exc:  # the results are saved; MLflow is their mirror
        return f"; MLflow's run could not be marked KILLED ({type(exc).__name__})"
    return ""


def results_store(results: Path, bench: Any, profile: Optional[str]) -> Any:
    from cryobench.run.results import ResultStore

    suffix = f".{profile}" if profile else ""
    return ResultStore(results / f"{bench.name}{suffix}.jsonl")


def tracker_for(bench: Any, tracking_uri: Optional[str]) -> Any:
    """The MLflow tracker, checked before any work: a store that does not answer is one
    line for the user, not a failure after hours of training."""
    from cryobench.tracking.mlflow import MlflowTracker, default_tracking_uri
    from cryobench.tracking.store import check_store

    uri = tracking_uri or default_tracking_uri()
    check_store(uri)  # before MLflow opens it: its own failures are minutes of retries
    tracker = MlflowTracker(uri, bench)
    tracker.check()
    return tracker


def print_leaderboard(bench: Any, records: list[Any], tables: list[Any]) -> None:
    """The plugins' result tables (Table III), then the leaderboard, last on screen."""
    from cryobench.run.leaderboard import leaderboard_table
    from cryobench.run.result_tables import rich_table

    for table in tables:
        terminal.console.print(rich_table(table))
    terminal.console.print(leaderboard_table(bench, records))


class Finished(NamedTuple):
    """What a report reads: the (narrowed) benchmark, its stored records and their store,
    and the finished trials per seed of the file's other seeds (what ``--seeds`` leaves
    out)."""

    bench: Any
    records: list[Any]
    store: Any
    other_seeds: dict[int, int]


def finished_records(file: Path, registry: Any, profile: Optional[str], results: Path,
                     seeds: Optional[str] = None) -> Finished:
    """A profile of the file (``seeds``: some of its seeds) and its stored records, read
    once; at least one finished."""
    from cryobench.config import load_benchmark
    from cryobench.errors import CryobenchError
    from cryobench.run.driver import stored_records_noting

    whole = load_benchmark(file, registry, profile=profile, inspect_data=False)
    bench = only_seeds(whole, seeds, file) if seeds is not None else whole
    store = results_store(results, bench, profile)
    every, warning = stored_records_noting(whole, store,
                                           consequence="left out of the report")
    if warning:
        terminal.print_warning(warning)
    records = [r for r in every if r.seed in bench.seeds]  # same trials, so same keys
    other_seeds = Counter(r.seed for r in every if r.ok and r.seed not in bench.seeds)
    if not any(r.ok for r in records):
        run = run_command_line(file, profile, seeds)
        raise CryobenchError(f"{store.path}: no finished trial of {bench.name!r}"
                             f"{' profile ' + repr(profile) if profile else ''} yet; run "
                             f"`{run}` first")
    return Finished(bench, records, store, dict(sorted(other_seeds.items())))


def check_results_exist(path: Path, results: Path, file: Path,
                         profile: Optional[str]) -> None:
    """A command that reads results (sync) needs them: a folder or file that is not
    there is a mistyped --results or a run not made yet, not "nothing to do"."""
    from cryobench.errors import CryobenchError

    if not results.is_dir():
        raise CryobenchError(f"--results {results}: no such folder; give the folder "
                             "`cryobench run` wrote the results to (default: "
                             "cryobench-results, in the folder it ran in)")
    if not path.is_file():
        run = run_command_line(file, profile)
        raise CryobenchError(f"{path}: no result file of this benchmark"
                             f"{' and profile' if profile else ''} here; run `{run}` first, "
                             "or give the --results folder it wrote to")


def say_abandoned(tracker: Any, store: Any) -> None:
    if tracker.abandoned:
        terminal.console.print(Text(f"ended {tracker.abandoned} MLflow run(s) that an earlier run on "
                           f"{store.path} left RUNNING (it was killed, or its store failed) "
                           "as KILLED"), soft_wrap=True)


def only_seeds(bench: Any, seeds: str, file: Path) -> Any:
    """The benchmark with some of its seeds: the same trials, so the same keys (a long run
    carried forward seed by seed, or reported on a fixed set of seeds while more run)."""
    from cryobench.errors import CryobenchError

    try:
        chosen = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError:
        raise CryobenchError(f"--seeds {seeds!r}: not a comma-separated list of whole "
                             "numbers; write, for example, --seeds 0,1,2") from None
    missing = [s for s in chosen if s not in bench.seeds]
    if missing or not chosen:
        raise CryobenchError(f"--seeds {seeds!r}: {file} has seeds "
                             f"{', '.join(map(str, bench.seeds))}; choose among them")
    return dataclasses.replace(bench, seeds=tuple(s for s in bench.seeds if s in chosen))


def run_command_line(file: Path, profile: Optional[str], seeds: Optional[str] = None) -> str:
    """The `cryobench run` that makes the results a command found missing."""
    return f"cryobench run {shlex.quote(str(file))}" + (
        f" --profile {shlex.quote(profile)}" if profile else "") + (
        f" --seeds {shlex.quote(seeds)}" if seeds is not None else "")
