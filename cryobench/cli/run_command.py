"""``cryobench run``: the main job."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any, Optional

import typer
from rich.text import Text

from cryobench.cli import terminal
from cryobench.cli.app import app, make_registry, user_errors
from cryobench.cli.common import (
    TRACKING_HELP, MLFLOW_UI, worker_settings, mark_killed, results_store, tracker_for,
    print_leaderboard, say_abandoned, only_seeds,
)
from cryobench.errors import CryobenchError, unknown_name_message


@app.command()
@user_errors
def run(
    file: Path = typer.Argument(..., help="Benchmark file (TOML)."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile to apply."),
    executor: str = typer.Option("ray", help="Where trials run: 'ray' (Ray Tune: several "
                                             "at once, GPUs, a cluster) or 'local' (this "
                                             "process, one at a time)."),
    address: Optional[str] = typer.Option(None, envvar="RAY_ADDRESS",
                                          help="A Ray cluster to join (default: start Ray "
                                               "on this machine)."),
    results: Path = typer.Option(Path("cryobench-results"), help="Folder for result files."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI",
                                               help=TRACKING_HELP),
    tracking: bool = typer.Option(True, "--tracking/--no-tracking",
                                  help="Record the run in MLflow."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads per trial "
                                                            "(default: [resources] "
                                                            "cpus_per_trial)."),
    rerun: bool = typer.Option(False, "--rerun", help="Run finished trials again."),
    seeds: Optional[str] = typer.Option(None, help="Only these of the file's seeds, comma "
                                                   "separated (a long run carried forward "
                                                   "seed by seed)."),
    arm: Optional[list[str]] = typer.Option(None, "--arm", help="Only this arm of the "
                                            "file (repeat for several): one arm's trials "
                                            "carried forward or checked again."),
) -> None:
    """Run a benchmark's trials (finished ones are skipped) and print the leaderboard."""
    from cryobench.config import load_benchmark
    from cryobench.data.cache import cache_root
    from cryobench.files import check_writable_folder
    from cryobench.interrupts import interrupts_deferred
    from cryobench.run.driver import run_benchmark, stored_records
    from cryobench.run.executors import make_executor
    from cryobench.run.leaderboard import leaderboard_markdown
    from cryobench.run.results import ResultStore

    registry = make_registry()
    bench = load_benchmark(file, registry, profile=profile)
    store = results_store(results, bench, profile)
    whole = bench  # what the leaderboard and MLflow's summaries show: the whole file
    if seeds is not None:
        bench = only_seeds(bench, seeds, file)
    if arm:
        bench = _only_arms(bench, arm, file)
    # before any training: a result that cannot be stored is training thrown away
    store.check_writable()
    check_writable_folder(cache_root(), "cache folder")
    tracker = tracker_for(bench, tracking_uri) if tracking else None
    settings = worker_settings(bench)
    stem = store.path.with_suffix("")
    ray_options = {"address": address, "log_file": stem.with_name(stem.name + ".ray.log"),
                   "storage": stem.with_name(stem.name + ".ray")}
    tuner = None
    if any(arm.tune for arm in bench.arms):
        from cryobench.run.tuning import TuningOutcome
        from cryobench.run.tuning_phase import Tuning

        tuning_store = ResultStore(stem.with_name(stem.name + ".tuning.jsonl"), TuningOutcome)
        tuner = Tuning(tuning_store, settings.cache_dir, warn=terminal.print_warning)
        tuner.check_writable()
    options: dict[str, Any] = {"registry": registry}
    if executor == "ray":
        options.update(resources=bench.resources, tunes=tuner is not None, **ray_options)
    runner = make_executor(executor, settings, **options)
    with store.lock():
        try:
            if tracker is not None:
                tracker = _start_tracking(tracker, registry, file, store, profile, results)
            records = run_benchmark(bench, store, runner, terminal.console, threads=threads,
                                    rerun=rerun, trackers=[tracker] if tracker else [],
                                    tuner=tuner)
        except KeyboardInterrupt:
            done = stored_records(bench, store, threads)
            unmarked = mark_killed(tracker, bench, done) if tracker is not None else ""
            searches = f", and the tuning configurations that had ended in " \
                f"{tuner.ended.path}" if tuner is not None else ""
            terminal.print_error(f"interrupted; {sum(r.ok for r in done)} finished trial(s) are "
                                 f"saved in {store.path}{searches}: run the same command "
                                 "again to continue" + unmarked)
            raise typer.Exit(130) from None
        ran = records
        if bench is not whole:  # some seeds or arms ran: the file's other trials count too
            records = stored_records(whole, store, threads)
        tables = registry.result_tables(whole, records)
        if tracker is not None:
            with interrupts_deferred(deliver=False):  # every trial is done and saved
                tracker.finish(records, leaderboard_markdown(whole, records, tables))
    print_leaderboard(whole, records, tables)
    failed = [r for r in ran if not r.ok]
    terminal.console.print(Text(f"results: {store.path}"),
                  Text(f"; {len(failed)} failed", style="red") if failed else "", sep="")
    if tracker is not None and tracker.failed is None:
        terminal.console.print(Text(f"MLflow leaderboard: {tracker.tracker.runs_url(MLFLOW_UI)} "
                           "(after `cryobench ui`)"), soft_wrap=True)
    elif tracker is not None:
        terminal.print_warning(f"not all of this run is in MLflow ({tracker.failed}); {tracker.later}")
    if failed:
        raise typer.Exit(1)


def _start_tracking(tracker: Any, registry: Any, file: Path, store: Any,
                    profile: Optional[str], results: Path) -> Any:
    """The invocation's run started (what a killed run left RUNNING ended first), and
    the tracker guarded: from here on, MLflow failing costs no training. A store that
    fails now, before any training, is one line and exit 2."""
    from cryobench.tracking.guard import TrackingGuard
    from cryobench.tracking.values import first_line
    from cryobench.tracking.store import StoreError

    plugins = {f"{i.kind}.{i.name}": f"{i.distribution} {i.version}".strip()
               for i in registry.components()}
    try:
        tracker.start(file.read_text(encoding="utf-8", errors="replace"), plugins,
                      results=store.path)
    except Exception as exc:  # MLflow raises many types; each means "not usable now"
        raise StoreError(tracker.uri, f"cannot be written to ({first_line(exc)})",
                         "check it") from None
    say_abandoned(tracker, store)
    sync = f"cryobench sync {shlex.quote(str(file))}" + (
        f" --profile {shlex.quote(profile)}" if profile else "") + (
        f" --results {shlex.quote(str(results))}" if results != Path("cryobench-results")
        else "") + f" --tracking-uri {shlex.quote(tracker.uri)}"
    return TrackingGuard(tracker, terminal.print_warning, f"run `{sync}` when it works again")


def _only_arms(bench: Any, names: list[str], file: Path) -> Any:
    """The benchmark with some of its arms (every point of a swept one): keys do not
    depend on the other arms, so the trials are the same."""
    families = list(dict.fromkeys(a.family for a in bench.arms))
    for name in names:
        if name not in families:
            raise CryobenchError(f"--arm: {file}: " + unknown_name_message("arm", name, families))
    return dataclasses.replace(bench, arms=tuple(a for a in bench.arms if a.family in names))
