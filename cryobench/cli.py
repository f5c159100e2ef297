"""The ``cryobench`` command. Heavy libraries (torch, ray, mlflow) are imported lazily."""

from __future__ import annotations

import dataclasses
import functools
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cryobench import __version__
from cryobench.errors import CryobenchError

app = typer.Typer(
    name="cryobench",
    help="Benchmark imbalance strategies for cryo-ET subtomogram classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Redirected to a log file, rich would assume 80 columns and squeeze a leaderboard's arm
# names out; a log has room (COLUMNS, when set, still decides).
LOG_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
console = Console(width=LOG_WIDTH)
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn user-caused errors into one red line and exit status 2 (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cryobench.errors import CryobenchError

        try:
            return fn(*args, **kwargs)
        except CryobenchError as exc:
            if _debug():
                raise
            print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except MemoryError:
            if _debug():
                raise
            print_error("out of memory; lower train.batch_size or eval_batch_size, bin the "
                        "subtomograms to a smaller box, or use fewer particles")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def print_error(message: str) -> None:
    """One line on stderr; the message is text (brackets in names are shown, not markup)."""
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False,
                      soft_wrap=True)


def _debug() -> bool:
    return os.environ.get("CRYOBENCH_DEBUG", "") not in ("", "0")


def _version(value: bool) -> None:
    if value:
        console.print(f"cryobench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    if debug:
        os.environ["CRYOBENCH_DEBUG"] = "1"


def make_registry() -> Any:
    from cryobench.registry import Registry

    return Registry()


@app.command()
@user_errors
def plugins(
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help="Only this kind of component."),
    params: bool = typer.Option(False, "--params", help="Show each component's parameters."),
    output: str = typer.Option("table", "--format", help="table, or json for scripts."),
) -> None:
    """List the registered components: kind, name, summary, distribution, version."""
    from cryobench.errors import CryobenchError
    from cryobench.listing import component_rows, print_components

    if output not in ("table", "json"):
        raise CryobenchError(f"--format: got {output!r}, expected 'table' or 'json'")
    rows = component_rows(make_registry(), kind)
    if output == "json":
        import json

        print(json.dumps(rows, indent=2))
    else:
        print_components(console, rows, with_params=params)


@app.command()
@user_errors
def validate(
    file: Path = typer.Argument(..., help="Benchmark file (TOML)."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile to apply."),
    results: Path = typer.Option(Path("cryobench-results"), help="Folder of earlier result "
                                                                 "files: the cost estimate "
                                                                 "is measured there."),
    measure: bool = typer.Option(False, "--measure", help="Train two epochs of each arm that "
                                                          "no earlier result measures, to "
                                                          "estimate the cost (kept in "
                                                          "RESULTS/<name>.measured.jsonl)."),
) -> None:
    """Check a benchmark file and show its arms, resolved parameters, trial count, tuning
    budget, and what the run will cost on this machine (--measure: measured first)."""
    from cryobench.config import load_benchmark
    from cryobench.run.plan import expand_trials

    bench = load_benchmark(file, make_registry(), profile=profile)
    trials = expand_trials(bench)
    console.print(f"[bold]{escape(bench.name)}[/]: {escape(bench.description)}")
    console.print(Text(f"data set: {bench.dataset.source.name} {bench.dataset.source.params}"
                       f"; classes: {', '.join(bench.dataset.classes or ['all'])}"))
    whole = ", whole tomograms" if bench.split.group == "tomogram" else ""
    console.print(Text(f"split: {bench.split.method}{whole}, test {bench.split.test_fraction}, "
                       f"validation {bench.split.val_fraction}; seeds {list(bench.seeds)}; "
                       f"{trials[0].threads} CPU thread(s) per trial"))
    if bench.split.group == "tomogram" and bench.split.method == "holdout":
        _print_test_shares(bench)
    table = Table(title=f"{len(bench.arms)} arms, {len(trials)} trials")
    for column in ("arm", "component", "plugin", "parameters"):
        table.add_column(column, overflow="fold")
    for arm in bench.arms:
        rows = [("model", arm.model), ("sampler", arm.sampler), ("loss", arm.loss),
                *[("augment", a) for a in arm.augment], ("ensemble", arm.ensemble),
                *[("train.augment", a) for a in arm.batch_recipe]]
        for i, (what, spec) in enumerate(rows):
            params = ", ".join(f"{k}={v!r}" for k, v in spec.params.items())
            table.add_row(Text(arm.name if i == 0 else ""), what, Text(spec.name), Text(params))
        subsets = "; ".join(",".join(d.classes) if d.classes else "all" for d in arm.datasets)
        table.add_row("", "classes", Text(subsets), "", end_section=True)
    console.print(table)
    if measure:
        _measure_costs(bench, trials, results, profile)
    _print_costs(trials, results)
    console.print(f"[green]valid[/]: {len(trials)} trials")


def _measure_costs(bench: Any, trials: list[Any], results: Path,
                   profile: Optional[str]) -> None:
    """Two epochs of each arm not measured yet, its record kept beside the results."""
    from cryobench.data.cache import cache_root
    from cryobench.files import check_writable_folder
    from cryobench.run.estimate import measure, measured_records, unmeasured_arms
    from cryobench.run.results import ResultStore

    todo = unmeasured_arms(trials, measured_records(results))
    if not todo:
        return
    store = ResultStore(_results_store(results, bench, profile).path.with_suffix(
        ".measured.jsonl"))
    store.check_writable()
    check_writable_folder(cache_root(), "cache folder")
    settings = _worker_settings(bench)
    env = settings.environment(make_registry())
    with console.status("") as status:
        env.progress = lambda phase, done, total: status.update(
            Text(f"{phase}: {done}/{total}" if total else f"{phase}: {done}"))
        records = measure(todo, env, store, lambda t: status.update(
            Text(f"measuring {t.arm}: two epochs, seed {t.seed}")), settings.debug)
    for record in records:
        if not record.ok:
            console.print(Text(f"{record.arm}: could not be measured ({record.error})"),
                          soft_wrap=True)


def _print_costs(trials: list[Any], results: Path) -> None:
    """Each arm's epochs (tuning and training, every member's, at most) and their cost,
    measured from earlier trials of the same arm in ``results``; the stage that every arm
    of a split shares (the multi-path CNN's stage 1) once per split."""
    from cryobench.run.estimate import arm_costs, duration, measured_records, shared_cost
    from cryobench.run.fitted import fits_reach_trials

    records = measured_records(results)
    # a cluster is known here only by $RAY_ADDRESS (validate has no --address)
    costs = arm_costs(trials, records,
                      fits_reach_trials(bool(os.environ.get("RAY_ADDRESS")), os.environ))
    shared = shared_cost(trials, records)
    tuned = {t.arm: t.tune for t in trials if t.tune}
    table = Table(title="budget and cost on this machine (at most: early stopping and "
                        "ASHA end some sooner)")
    for column in ("arm", "trials", "members", "tuning", "epochs", "s/epoch", "cost"):
        table.add_column(column, justify="left" if column in ("arm", "tuning") else "right",
                         overflow="fold")
    for cost in costs:
        spec = tuned.get(cost.arm)
        search = (f"{spec.configurations} configurations x {spec.max_epochs} epochs "
                  f"({spec.scheduler}) over {', '.join(d.target for d in spec.space)}"
                  + ("; the file's values first" if spec.first else "") if spec else "–")
        table.add_row(Text(cost.arm), str(cost.trials),
                      str(cost.members) if cost.members else "–", Text(search),
                      str(cost.tuning_epochs + cost.training_epochs),
                      f"{cost.seconds_per_epoch:.1f}" if cost.seconds_per_epoch else "–",
                      duration(cost.seconds) if cost.seconds is not None else "–")
    if shared.splits:
        table.add_row(Text("shared by every arm of a split (stage 1)"), "", "",
                      Text(f"once for each of {shared.splits} splits"), "", "",
                      duration(shared.seconds) if shared.seconds is not None else "–")
    console.print(table)
    known = [c.seconds for c in costs if c.seconds is not None]
    if len(known) == len(costs):
        total = sum(known) + (shared.seconds or 0.0)
        console.print(Text(f"estimated: at most {duration(total)} one trial at a time"))
    else:
        console.print(Text(f"not measured yet for {len(costs) - len(known)} arm(s): no "
                           f"finished trial of the same arm on the same data in {results} "
                           "(a profile with other data, such as quick, measures only "
                           "itself); --measure trains two epochs of each to measure it"),
                      soft_wrap=True)


TRACKING_HELP = "MLflow tracking URI (default: a SQLite file mlflow.db here)."
MLFLOW_UI = "http://127.0.0.1:5000"


def _worker_settings(bench: Any) -> Any:
    """What every trial's worker needs: where the file's relative paths resolve, the
    cache, the plugins blocked, --debug."""
    from cryobench.data.cache import cache_root
    from cryobench.registry import BLOCK_ENV
    from cryobench.run.trial import WorkerSettings

    blocked = tuple(b.strip() for b in os.environ.get(BLOCK_ENV, "").split(",") if b.strip())
    return WorkerSettings(bench.path.parent.resolve() if bench.path else Path.cwd(),
                          cache_root().resolve(), blocked, _debug())


def _mark_killed(tracker: Any, bench: Any, records: list[Any]) -> str:
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


def _results_store(results: Path, bench: Any, profile: Optional[str]) -> Any:
    from cryobench.run.results import ResultStore

    suffix = f".{profile}" if profile else ""
    return ResultStore(results / f"{bench.name}{suffix}.jsonl")


def _tracker(bench: Any, tracking_uri: Optional[str]) -> Any:
    """The MLflow tracker, checked before any work: a store that does not answer is one
    line for the user, not a failure after hours of training."""
    from cryobench.tracking.mlflow import MlflowTracker, default_tracking_uri
    from cryobench.tracking.store import check_store

    uri = tracking_uri or default_tracking_uri()
    check_store(uri)  # before MLflow opens it: its own failures are minutes of retries
    tracker = MlflowTracker(uri, bench)
    tracker.check()
    return tracker


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
    store = _results_store(results, bench, profile)
    if seeds is not None:
        bench = _only_seeds(bench, seeds, file)
    # before any training: a result that cannot be stored is training thrown away
    store.check_writable()
    check_writable_folder(cache_root(), "cache folder")
    tracker = _tracker(bench, tracking_uri) if tracking else None
    settings = _worker_settings(bench)
    stem = store.path.with_suffix("")
    ray_options = {"address": address, "log_file": stem.with_name(stem.name + ".ray.log"),
                   "storage": stem.with_name(stem.name + ".ray")}
    options: dict[str, Any] = {"registry": registry}
    if executor == "ray":
        options.update(resources=bench.resources, **ray_options)
    runner = make_executor(executor, settings, **options)
    tuner = None
    if any(arm.tune for arm in bench.arms):
        from cryobench.run.ray.search import Tuning
        from cryobench.run.tuning import TuningOutcome

        tuning_store = ResultStore(stem.with_name(stem.name + ".tuning.jsonl"), TuningOutcome)
        tuner = Tuning(settings, bench.resources, tuning_store, registry=registry,
                       **ray_options)
        tuner.check_writable()
    with store.lock():
        try:
            if tracker is not None:
                tracker = _start_tracking(tracker, registry, file, store, profile, results)
            with _ray_if(tuner is not None, ray_options):
                records = run_benchmark(bench, store, runner, console, threads=threads,
                                        rerun=rerun, trackers=[tracker] if tracker else [],
                                        tuner=tuner)
        except KeyboardInterrupt:
            done = stored_records(bench, store, threads)
            unmarked = _mark_killed(tracker, bench, done) if tracker is not None else ""
            print_error(f"interrupted; {sum(r.ok for r in done)} finished trial(s) are "
                        f"saved in {store.path}: run the same command again to continue"
                        + unmarked)
            raise typer.Exit(130) from None
        tables = registry.result_tables(bench, records)
        if tracker is not None:
            with interrupts_deferred(deliver=False):  # every trial is done and saved
                tracker.finish(records, leaderboard_markdown(bench, records, tables))
    _print_leaderboard(bench, records, tables)
    failed = [r for r in records if not r.ok]
    console.print(Text(f"results: {store.path}"),
                  Text(f"; {len(failed)} failed", style="red") if failed else "", sep="")
    if tracker is not None and tracker.failed is None:
        console.print(Text(f"MLflow leaderboard: {tracker.tracker.runs_url(MLFLOW_UI)} "
                           "(after `cryobench ui`)"), soft_wrap=True)
    elif tracker is not None:
        print_warning(f"not all of this run is in MLflow ({tracker.failed}); {tracker.later}")
    if failed:
        raise typer.Exit(1)


def _start_tracking(tracker: Any, registry: Any, file: Path, store: Any,
                    profile: Optional[str], results: Path) -> Any:
    """The invocation's run started (what a killed run left RUNNING ended first), and
    the tracker guarded: from here on, MLflow failing costs no training. A store that
    fails now, before any training, is one line and exit 2."""
    from cryobench.tracking.guard import TrackingGuard
    from cryobench.tracking.mlflow import first_line
    from cryobench.tracking.store import StoreError

    plugins = {f"{i.kind}.{i.name}": f"{i.distribution} {i.version}".strip()
               for i in registry.components()}
    try:
        tracker.start(file.read_text(encoding="utf-8", errors="replace"), plugins,
                      results=store.path)
    except Exception as exc:  # MLflow raises many types; each means "not usable now"
        raise StoreError(tracker.uri, f"cannot be written to ({first_line(exc)})",
                         "check it") from None
    _say_abandoned(tracker, store)
    sync = f"cryobench sync {shlex.quote(str(file))}" + (
        f" --profile {shlex.quote(profile)}" if profile else "") + (
        f" --results {shlex.quote(str(results))}" if results != Path("cryobench-results")
        else "") + f" --tracking-uri {shlex.quote(tracker.uri)}"
    return TrackingGuard(tracker, print_warning, f"run `{sync}` when it works again")


def print_warning(message: str) -> None:
    """One line on stderr that does not stop the command."""
    err_console.print(Text.assemble(("warning: ", "bold yellow"), message), highlight=False,
                      soft_wrap=True)


def _only_seeds(bench: Any, seeds: str, file: Path) -> Any:
    """The benchmark with some of its seeds: the same trials, so the same keys."""
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


@contextmanager
def _ray_if(needed: bool, options: dict[str, Any]) -> Iterator[None]:
    """One Ray session for tuning and the trials after it (not two starts of Ray)."""
    if not needed:
        yield
        return
    from cryobench.run.ray.session import ray_session

    with ray_session(options["address"], options["log_file"]):
        yield


def _print_leaderboard(bench: Any, records: list[Any], tables: list[Any]) -> None:
    """The plugins' result tables (Table III), then the leaderboard, last on screen."""
    from cryobench.run.leaderboard import leaderboard_table
    from cryobench.run.result_tables import rich_table

    for table in tables:
        console.print(rich_table(table))
    console.print(leaderboard_table(bench, records))


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
    store = _results_store(results, bench, profile)
    records, warning = stored_records_noting(bench, store,
                                             consequence="left out of the leaderboard")
    if warning:  # on stderr: the table, CSV or JSON on stdout stays whole
        print_warning(warning)
    if not any(r.ok for r in records):
        raise CryobenchError(f"{store.path}: no finished trial of {bench.name!r} yet; run "
                             f"`cryobench run {file}` first")
    tables = registry.result_tables(bench, records)
    if output == "table":
        _print_leaderboard(bench, records, tables)
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
) -> None:
    """Write the report of the finished trials (statistics, figures); trains nothing."""
    from cryobench.errors import ConfigError, CryobenchError
    from cryobench.report import check_report_folder, write_report

    registry = make_registry()
    bench, records, store = _finished(file, registry, profile, results)
    folder = out or store.path.with_suffix(".report")
    check_report_folder(folder)
    others = []
    for name in dict.fromkeys(beside):
        if (name or None) == profile:
            raise CryobenchError(f"--beside {name!r}: that is the report's own profile; name "
                                 "another one")
        try:
            other, other_records, _ = _finished(file, registry, name or None, results)
        except ConfigError as exc:  # an unknown profile: say which option named it
            raise ConfigError(exc.file, f"--beside {name!r}", exc.message) from None
        others.append((other, other_records))
    written = write_report(bench, records, folder, baseline, others,
                           registry.result_tables(bench, records))
    console.print(Text(f"report: {written.markdown} and {written.html}"), soft_wrap=True)
    if tracking:
        logged = _log_report(bench, tracking_uri, folder)
        console.print(Text(logged), soft_wrap=True)


def _finished(file: Path, registry: Any, profile: Optional[str], results: Path
              ) -> tuple[Any, list[Any], Any]:
    """A profile of the file, its stored records and their store; at least one finished."""
    from cryobench.config import load_benchmark
    from cryobench.errors import CryobenchError
    from cryobench.run.driver import stored_records_noting

    bench = load_benchmark(file, registry, profile=profile, inspect_data=False)
    store = _results_store(results, bench, profile)
    records, warning = stored_records_noting(bench, store,
                                             consequence="left out of the report")
    if warning:
        print_warning(warning)
    if not any(r.ok for r in records):
        run = f"cryobench run {shlex.quote(str(file))}" + (
            f" --profile {shlex.quote(profile)}" if profile else "")
        raise CryobenchError(f"{store.path}: no finished trial of {bench.name!r}"
                             f"{' profile ' + repr(profile) if profile else ''} yet; run "
                             f"`{run}` first")
    return bench, records, store


def _log_report(bench: Any, tracking_uri: Optional[str], folder: Path) -> str:
    """Log the report where the benchmark's runs are, if they are anywhere."""
    from cryobench.tracking.mlflow import default_tracking_uri

    uri = tracking_uri or default_tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return f"not logged to MLflow: no store at {uri} (the run was not tracked)"
    tracker = _tracker(bench, uri)
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
    store = _results_store(results, bench, profile)
    _check_results_exist(store.path, results, file, profile)
    records = stored_records(bench, store)
    tracker = _tracker(bench, tracking_uri)
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
        _say_abandoned(tracker, store)
        for record in missing:  # each run whole; after Ctrl-C, a second sync logs the rest
            with interrupts_deferred():
                tracker.log_trial(record, tracker.parent_id)
                synced += 1
    except KeyboardInterrupt:
        unmarked = _mark_killed(tracker, bench, records)
        print_error(f"interrupted; logged {synced} of the {len(missing)} trial(s) MLflow "
                    "lacked: run the same command again to log the rest" + unmarked)
        raise typer.Exit(130) from None
    with interrupts_deferred(deliver=False):  # every trial is logged
        tracker.finish(records, leaderboard_markdown(bench, records, tables))
    console.print(Text(f"logged {len(missing)} trial(s) MLflow lacked "
                       f"({len(records) - len(missing)} were there or not finished)"))


def _say_abandoned(tracker: Any, store: Any) -> None:
    if tracker.abandoned:
        console.print(Text(f"ended {tracker.abandoned} MLflow run(s) that an earlier run on "
                           f"{store.path} left RUNNING (it was killed, or its store failed) "
                           "as KILLED"), soft_wrap=True)


def _check_results_exist(path: Path, results: Path, file: Path,
                         profile: Optional[str]) -> None:
    """A command that reads results (sync) needs them: a folder or file that is not
    there is a mistyped --results or a run not made yet, not "nothing to do"."""
    from cryobench.errors import CryobenchError

    if not results.is_dir():
        raise CryobenchError(f"--results {results}: no such folder; give the folder "
                             "`cryobench run` wrote the results to (default: "
                             "cryobench-results, in the folder it ran in)")
    if not path.is_file():
        run = f"cryobench run {shlex.quote(str(file))}" + (
            f" --profile {shlex.quote(profile)}" if profile else "")
        raise CryobenchError(f"{path}: no result file of this benchmark"
                             f"{' and profile' if profile else ''} here; run `{run}` first, "
                             "or give the --results folder it wrote to")


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
    console.print(Text(f"MLflow UI for {uri}: open http://127.0.0.1:{port} (Ctrl-C stops it)"))
    process = subprocess.Popen(command)
    try:
        raise typer.Exit(process.wait())
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        raise typer.Exit(0) from None


def _parse_mapping(text: Optional[str], what: str) -> Optional[dict[str, str]]:
    """"a=1,b=2" -> {"a": "1", "b": "2"} for command-line options."""
    from cryobench.errors import CryobenchError

    if text is None:
        return None
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() for p in pairs):
        raise CryobenchError(f"{what}: expected NAME=VALUE[,NAME=VALUE...], got {text!r}")
    names = [k.strip() for k, _ in pairs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise CryobenchError(f"{what}: {name!r} is given twice in {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


@app.command()
@user_errors
def simulate(
    out: Path = typer.Argument(..., help="Folder to create (MRC files, labels.csv, metadata.json)."),
    preset: str = typer.Option("neuron-polyga", help="Imaging and class counts to start from."),
    snr: Optional[float] = typer.Option(None, help="Mean signal variance / noise variance "
                                                   "(default: the calibrated one)."),
    scale: float = typer.Option(1.0, help="Multiply every class count."),
    seed: int = typer.Option(0, help="Data-set seed."),
    counts: Optional[str] = typer.Option(None, help="Class counts, e.g. 'ribosome=80,TRiC=125'."),
    box: Optional[int] = typer.Option(None, help="Box edge in voxels."),
    crowding: Optional[float] = typer.Option(None, help="Share of particles with a neighbour "
                                                        "at the edge (default 0.5)."),
    tomograms: int = typer.Option(0, min=0, help="Write this many whole tomograms with the "
                                                 "particles placed in them (RELION 5 STAR and "
                                                 "copick project beside them) instead."),
    tomogram_size: str = typer.Option("400x400x150", help="Tomogram size X x Y x Z in voxels."),
    copick: bool = typer.Option(True, help="With --tomograms: also write a copick project."),
) -> None:
    """Simulate a labelled data set of subtomograms as MRC files (or, with --tomograms,
    whole tomograms with their particle lists)."""
    import time

    from cryobench.contract.components import DataContext
    from cryobench.data.cache import cache_root
    from cryobench.data.export import check_output_folder, write_dataset
    from cryobench.errors import CryobenchError
    from cryobench.progress import phase_progress

    registry = make_registry()
    given = {"preset": preset, "scale": scale, "seed": seed, "box": box}
    given.update({k: v for k, v in (("snr", snr), ("crowding", crowding)) if v is not None})
    mapping = _parse_mapping(counts, "--counts")
    if mapping:
        try:
            given["class_counts"] = {k: int(v) for k, v in mapping.items()}
        except ValueError:
            raise CryobenchError(f"--counts: counts must be integers, got {counts!r}") from None
    info = registry.require("data_source", "synthetic", "simulator's")
    source = registry.create("data_source", info.name, given)
    check_output_folder(out)
    if tomograms:
        _simulate_tomograms(out, source.spec(), tomograms, tomogram_size, copick)
        return
    start = time.perf_counter()
    with phase_progress(console) as progress:
        data = source.load(DataContext(Path.cwd(), cache_root(), progress))
        write_dataset(out, data, {"source": info.name, "parameters": source.config,
                                  "code": info.code}, progress=progress)
    seconds = time.perf_counter() - start
    console.print(Text(f"wrote {len(data)} particles to {out} in {seconds:.1f} s"))


def _simulate_tomograms(out: Path, spec: Any, count: int, size: str, copick: bool) -> None:
    import time

    from cryobench.data.simulator.tomograms import TomogramSet, class_numbers, write_tomogram_set
    from cryobench.errors import CryobenchError
    from cryobench.progress import phase_progress

    try:
        x, y, z = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise CryobenchError(f"--tomogram-size: expected X x Y x Z in voxels, e.g. "
                             f"400x400x150, got {size!r}") from None
    if min(x, y, z) < 2:
        raise CryobenchError(f"--tomogram-size: {size!r} is not a 3D size")
    start = time.perf_counter()
    with phase_progress(console) as progress:
        write_tomogram_set(out, TomogramSet(spec, count, (z, y, x)), copick=copick,
                           progress=progress)
    numbers = ", ".join(f"{k}={v}" for k, v in class_numbers(TomogramSet(spec)).items())
    console.print(Text(f"wrote {spec.total} particles in {count} tomograms of {x} x {y} x {z} "
                       f"voxels to {out} in {time.perf_counter() - start:.1f} s: "
                       f"particles.star (RELION 5), tomograms.star"
                       f"{', copick/copick.json' if copick else ''}; class numbers {numbers}"))


@app.command()
@user_errors
def inspect(
    path: Path = typer.Argument(..., help="Label file (.csv/.star), a folder with one, a .mrcs "
                                          "stack, a coordinate list (with --tomograms) or a "
                                          "copick project (copick.json)."),
    labels: Optional[Path] = typer.Option(None, help="CSV (index,label) for a stack."),
    class_names: Optional[str] = typer.Option(None, help="Label -> name, e.g. '1=ribosome,2=TRiC'."),
    label_column: Optional[str] = typer.Option(None, help="Column holding the label "
                                                          "(default _rlnClassNumber; label in "
                                                          "a coordinate CSV)."),
    tomograms: Optional[Path] = typer.Option(None, help="Folder of the tomograms a coordinate "
                                                        "list names: cut its particles."),
    tomograms_star: Optional[Path] = typer.Option(None, help="RELION 5 tomograms STAR with "
                                                             "the pixel sizes."),
    box: Optional[int] = typer.Option(None, help="Box edge in voxels, for a coordinate list "
                                                 "or a copick project."),
    voxel_spacing: Optional[float] = typer.Option(None, help="copick: voxel spacing (A)."),
    tomogram_type: str = typer.Option("wbp", help="copick: tomogram type."),
    objects: Optional[str] = typer.Option(None, help="copick: objects that are classes, "
                                                     "e.g. 'ribosome,TRiC'."),
    user_id: Optional[str] = typer.Option(None, help="copick: only this user's picks."),
) -> None:
    """Read and validate every particle; print classes, box, voxel size and value
    statistics (and, for particles cut from tomograms, the counts per tomogram)."""
    import numpy as np

    from cryobench.data.loading import load_dataset
    from cryobench.progress import phase_progress

    names = _parse_mapping(class_names, "--class-names")
    cut = _cut_source(path, tomograms, tomograms_star, box, voxel_spacing, tomogram_type,
                      objects, user_id, names, label_column)
    with phase_progress(console) as progress:
        if cut is not None:
            data = _load_cut(cut, progress)
        else:
            data = load_dataset(path, labels=labels, class_names=names,
                                label_column=label_column or "_rlnClassNumber",
                                progress=progress)
    table = Table(title=Text(f"{path}: {len(data)} particles"))
    for column, justify in (("class", "left"), ("count", "right"), ("share %", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, count, share in data.summary():
        table.add_row(Text(name), str(count), f"{share:.2f}")
    console.print(table)
    if data.tomograms is not None:
        _print_tomograms(data)
    v = data.volumes
    console.print(f"box {data.box}^3 voxels, voxel size {data.voxel_size:.4f} nm "
                  f"(box edge {data.box * data.voxel_size:.1f} nm)")
    # float64: float32 sums of values near its largest overflow to inf
    console.print(f"values: mean {v.mean(dtype=np.float64):.4g}, std "
                  f"{v.std(dtype=np.float64):.4g}, min {v.min():.4g}, max {v.max():.4g}")


def _print_test_shares(bench: Any) -> None:
    """Whole tomograms make the test part's share what they allow: say it when it is not
    test_fraction."""
    from cryobench.config.preflight import grouped_test_shares
    from cryobench.contract.components import DataContext
    from cryobench.data.cache import cache_root

    source = bench.dataset.source.build(make_registry())
    found = source.count_tomograms(DataContext(Path(bench.path).parent, cache_root()))
    keep = set(bench.dataset.classes or ()) or None
    found = {t: {c: n for c, n in by_class.items() if keep is None or c in keep}
             for t, by_class in found.items()}
    shares = grouped_test_shares(found, bench.split, bench.seeds)
    if any(abs(v - bench.split.test_fraction) > 0.005 for v in shares.values()):
        listed = ", ".join(f"{v:.2f} (seed {s})" for s, v in shares.items())
        console.print(Text(f"test part: whole tomograms make its share of the particles "
                           f"{listed}, not {bench.split.test_fraction}"))


def _cut_source(path: Path, tomograms: Optional[Path], tomograms_star: Optional[Path],
                box: Optional[int], voxel_spacing: Optional[float], tomogram_type: str,
                objects: Optional[str], user_id: Optional[str],
                names: Optional[dict[str, str]], label_column: Optional[str]) -> Any:
    """The ``tomograms`` or ``copick`` source the options describe (None: pre-cut
    particles), built and checked as a benchmark file's would be."""
    from cryobench.errors import CryobenchError

    if path.suffix.lower() == ".json":
        given: dict[str, Any] = {"project": str(path), "voxel_spacing": voxel_spacing,
                                 "tomogram_type": tomogram_type, "box": box,
                                 "user_id": user_id}
        if objects:
            given["objects"] = [o.strip() for o in objects.split(",") if o.strip()]
        kind, needed = "copick", (("--voxel-spacing", voxel_spacing), ("--box", box))
    elif tomograms is not None:
        copick_only = [o for o, v in (("--voxel-spacing", voxel_spacing),
                                      ("--objects", objects), ("--user-id", user_id)) if v]
        if copick_only:
            raise CryobenchError(f"{path}: {', '.join(copick_only)} "
                                 f"{'is' if len(copick_only) == 1 else 'are'} for a copick "
                                 "project (copick.json), not a coordinate list; leave "
                                 f"{'it' if len(copick_only) == 1 else 'them'} out")
        given = {"coordinates": str(path), "tomograms": str(tomograms), "box": box,
                 "class_names": names, "label_column": label_column,
                 "tomograms_star": str(tomograms_star) if tomograms_star else None}
        kind, needed = "tomograms", (("--box", box),)
    elif _is_coordinate_list(path, label_column):
        raise CryobenchError(f"{path}: a list of particles in tomograms; give --tomograms "
                             "DIR (the folder of the tomograms) and --box N to cut them")
    else:
        return None
    for option, value in needed:
        if value is None:
            raise CryobenchError(f"{path}: give {option} to cut its particles")
    return make_registry().create("data_source", kind, given)


def _is_coordinate_list(path: Path, label_column: Optional[str]) -> bool:
    """A STAR or CSV that places particles in tomograms (not a label file of pre-cut
    particles)."""
    from cryobench.data.coordinates import read_picks
    from cryobench.errors import DataError

    if path.suffix.lower() not in (".star", ".csv") or not path.is_file():
        return False
    try:
        read_picks(path, label_column)
    except DataError:
        return False
    return True


def _load_cut(source: Any, progress: Callable[[str, int, int], None]) -> Any:
    from cryobench.contract.components import DataContext
    from cryobench.data.cache import cache_root

    return source.load(DataContext(Path.cwd(), cache_root(), progress))


def _print_tomograms(data: Any) -> None:
    import numpy as np

    table = Table(title=Text(f"{len(set(data.tomograms))} tomograms"))
    table.add_column("tomogram")
    for name in data.class_names:
        table.add_column(Text(name), justify="right")
    table.add_column("all", justify="right")
    for tomo in dict.fromkeys(data.tomograms):
        at = data.tomograms == tomo
        counts = np.bincount(data.labels[at], minlength=data.num_classes)
        table.add_row(Text(str(tomo)), *map(str, counts), str(int(at.sum())))
    console.print(table)
    meta = data.metadata
    console.print(Text(f"{meta.get('edge_particles', 0)} particles cross a tomogram's edge, "
                       f"padded with the {meta.get('padding', 'mean')}"))


def main() -> None:
    """Console-script entry point. Command-line mistakes (an unknown option, a value of the
    wrong type, a missing argument) are one line, exit 2, like every other user error."""
    from typer.exceptions import Abort, TyperException

    try:
        code = app(standalone_mode=False)
    except TyperException as exc:  # typer's click usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # `cryobench` alone: the help
            console.print(exc.format_message(), markup=False, highlight=False)  # type: ignore
        else:
            context = getattr(exc, "ctx", None)
            command = f" {context.info_name}" if context and context.parent else ""
            print_error(f"{exc.format_message()} (see cryobench{command} --help)")  # type: ignore
        sys.exit(getattr(exc, "exit_code", 2))
    except (Abort, KeyboardInterrupt):  # a command that has nothing of its own to say
        print_error("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
