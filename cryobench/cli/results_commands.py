"""Commands that read results and train nothing: ``leaderboard``, ``report``, ``sync``
and ``ui``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.text import Text

from cryobench.cli import terminal
from cryobench.cli.app import app, make_registry, user_errors
from cryobench.cli.common import (
    TRACKING_HELP, mark_killed, results_store, tracker_for, print_leaderboard,
    finished_records, check_results_exist, say_abandoned,
)


@app.command()
@user_errors
def leaderboard(
    file: Path = typer.Argument(..., help="Benchmark file (TOML)."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile to apply."),
    results: Path = typer.Option(Path("cryobench-results"), help="Folder for result files."),
    metric: Optional[str] = typer.Option(None, help="Metric that ranks the arms (default: "
                                                    "the file's primary_metric)."),
    output: str = typer.Option("table", "--format", help="table, markdown, csv or json."),
) -> None:
    """Print the per-arm table from the trials that have finished; runs nothing."""
    import dataclasses

    from cryobench.config import load_benchmark
    from cryobench.errors import CryobenchError, unknown_name_message
    from cryobench.metrics import METRICS
    from cryobench.run.driver import stored_records_noting
    from cryobench.run.leaderboard import leaderboard_markdown, leaderboard_records

    formats = ("table", "markdown", "csv", "json")
    if output not in formats:
        raise CryobenchError("--format: " + unknown_name_message("format", output, formats))
    if metric is not None and metric not in METRICS:
        raise CryobenchError("--metric: " + unknown_name_message("metric", metric, METRICS))
    registry = make_registry()
    bench = load_benchmark(file, registry, profile=profile, inspect_data=False)
    if metric is not None:
        bench = dataclasses.replace(bench, primary_metric=metric)
    store = results_store(results, bench, profile)
    records, warning = stored_records_noting(bench, store,
                                             consequence="left out of the leaderboard")
    if warning:  # on stderr: the table, CSV or JSON on stdout stays whole
        terminal.print_warning(warning)
    if not any(r.ok for r in records):
        raise CryobenchError(f"{store.path}: no finished trial of {bench.name!r} yet; run "
                             f"`cryobench run {file}` first")
    tables = registry.result_tables(bench, records)
    if output == "table":
        print_leaderboard(bench, records, tables)
    elif output == "markdown":
        print(leaderboard_markdown(bench, records, tables), end="")
    elif output == "json":
        import json

        print(json.dumps(leaderboard_records(bench, records), indent=2))
    else:
        import csv

        rows = leaderboard_records(bench, records)
        writer = csv.DictWriter(sys.stdout, fieldnames=list(dict.fromkeys(
            k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)


@app.command()
@user_errors
def report(
    file: Path = typer.Argument(..., help="Benchmark file (TOML)."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile to apply."),
    results: Path = typer.Option(Path("cryobench-results"), help="Folder for result files."),
    baseline: Optional[str] = typer.Option(None, help="Arm every other is compared with "
                                                      "(default: the plain multi-path CNN "
                                                      "when present, else the first arm)."),
    out: Optional[Path] = typer.Option(None, help="Folder for report.md, report.html and "
                                                  "figures/ (default: beside the result "
                                                  "file, <name>[.<profile>].report)."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI",
                                               help=TRACKING_HELP),
    tracking: bool = typer.Option(True, "--tracking/--no-tracking",
                                  help="Log the report to the benchmark's MLflow run."),
    beside: list[str] = typer.Option([], "--beside", metavar="PROFILE",
                                     help="Another profile of the same file to set beside "
                                     "this one, arm by arm (repeatable; \"\" is the file "
                                     "without a profile)."),
    seeds: Optional[str] = typer.Option(None, help="Only these of the file's seeds, comma "
                                                   "separated (a report of a fixed set of "
                                                   "seeds while more run into the file)."),
) -> None:
    """Write the report of the finished trials (statistics, figures); trains nothing."""
    from cryobench.errors import ConfigError, CryobenchError
    from cryobench.report import check_report_folder, write_report

    registry = make_registry()
    bench, records, store, left_out = finished_records(file, registry, profile, results,
                                                       seeds)
    folder = out or store.path.with_suffix(".report")
    check_report_folder(folder)
    others = []
    for name in dict.fromkeys(beside):
        if (name or None) == profile:
            raise CryobenchError(f"--beside {name!r}: that is the report's own profile; name "
                                 "another one")
        try:
            other, other_records, *_ = finished_records(file, registry, name or None,
                                                          results, seeds)
        except ConfigError as exc:  # an unknown profile: say which option named it
            raise ConfigError(exc.file, f"--beside {name!r}", exc.message) from None
        others.append((other, other_records))
    written = write_report(bench, records, folder, baseline, others,
                           registry.result_tables(bench, records), left_out)
    terminal.console.print(Text(f"report: {written.markdown} and {written.html}"), soft_wrap=True)
    if tracking:
        logged = _log_report(bench, tracking_uri, folder)
        terminal.console.print(Text(logged), soft_wrap=True)


def _log_report(bench: Any, tracking_uri: Optional[str], folder: Path) -> str:
    """Log the report where the benchmark's runs are, if they are anywhere."""
    from cryobench.tracking.mlflow import default_tracking_uri

    uri = tracking_uri or default_tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return f"not logged to MLflow: no store at {uri} (the run was not tracked)"
    tracker = tracker_for(bench, uri)
    run_id = tracker.log_report(folder)
    if run_id is None:
        return (f"not logged to MLflow: {uri} has no run of {bench.name!r}"
                f"{' profile ' + repr(bench.profile) if bench.profile else ''}")
    return f"logged to MLflow run {run_id} (artifacts: report/)"


@app.command()
@user_errors
def sync(
    file: Path = typer.Argument(..., help="Benchmark file (TOML)."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile to apply."),
    results: Path = typer.Option(Path("cryobench-results"), help="Folder for result files."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI",
                                               help=TRACKING_HELP),
) -> None:
    """Log to MLflow the finished trials it lacks (a server that was down), from the
    result file; the summaries are logged anew."""
    from cryobench.config import load_benchmark
    from cryobench.run.driver import stored_records

    registry = make_registry()
    bench = load_benchmark(file, registry, profile=profile, inspect_data=False)
    store = results_store(results, bench, profile)
    check_results_exist(store.path, results, file, profile)
    records = stored_records(bench, store)
    tracker = tracker_for(bench, tracking_uri)
    with store.lock("cryobench sync"):  # a run on these results now would log them too
        _sync(tracker, bench, file, records, store, registry.result_tables(bench, records))


def _sync(tracker: Any, bench: Any, file: Path, records: list[Any], store: Any,
          tables: list[Any]) -> None:
    from cryobench.interrupts import interrupts_deferred
    from cryobench.run.leaderboard import leaderboard_markdown

    logged = tracker.logged_trial_keys()
    missing = [r for r in records if r.ok and r.key not in logged]
    synced = 0
    try:
        tracker.start(file.read_text(encoding="utf-8", errors="replace"), {},
                      results=store.path)
        say_abandoned(tracker, store)
        for record in missing:  # each run whole; after Ctrl-C, a second sync logs the rest
            with interrupts_deferred():
                tracker.log_trial(record, tracker.parent_id)
                synced += 1
    except KeyboardInterrupt:
        unmarked = mark_killed(tracker, bench, records)
        terminal.print_error(f"interrupted; logged {synced} of the {len(missing)} trial(s) MLflow "
                    "lacked: run the same command again to log the rest" + unmarked)
        raise typer.Exit(130) from None
    with interrupts_deferred(deliver=False):  # every trial is logged
        tracker.finish(records, leaderboard_markdown(bench, records, tables))
    terminal.console.print(Text(f"logged {len(missing)} trial(s) MLflow lacked "
                       f"({len(records) - len(missing)} were there or not finished)"))


@app.command()
@user_errors
def ui(
    port: int = typer.Option(5000, min=1, max=65535, help="Port on 127.0.0.1."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI",
                                               help=TRACKING_HELP),
) -> None:
    """Start the MLflow UI on the tracking store, on this machine only; Ctrl-C stops it.

    The same as `mlflow ui --backend-store-uri sqlite:///mlflow.db --workers 1`."""
    import subprocess

    from cryobench.tracking.mlflow import default_tracking_uri

    uri = tracking_uri or default_tracking_uri()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    terminal.console.print(Text(f"MLflow UI for {uri}: open http://127.0.0.1:{port} (Ctrl-C stops it)"))
    process = subprocess.Popen(command)
    try:
        raise typer.Exit(process.wait())
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        raise typer.Exit(0) from None
