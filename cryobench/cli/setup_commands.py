"""``cryobench plugins`` and ``cryobench validate``: what is installed, and whether a
benchmark file can run (and what it costs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cryobench.cli import terminal
from cryobench.cli.app import app, make_registry, user_errors
from cryobench.cli.common import worker_settings, results_store


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
        print_components(terminal.console, rows, with_params=params)


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
    terminal.console.print(f"[bold]{escape(bench.name)}[/]: {escape(bench.description)}")
    terminal.console.print(Text(f"data set: {bench.dataset.source.name} {bench.dataset.source.params}"
                       f"; classes: {', '.join(bench.dataset.classes or ['all'])}"))
    whole = ", whole tomograms" if bench.split.group == "tomogram" else ""
    terminal.console.print(Text(f"split: {bench.split.method}{whole}, test {bench.split.test_fraction}, "
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
    terminal.console.print(table)
    if measure:
        _measure_costs(bench, trials, results, profile)
    _print_costs(trials, results)
    terminal.console.print(f"[green]valid[/]: {len(trials)} trials")


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
    store = ResultStore(results_store(results, bench, profile).path.with_suffix(
        ".measured.jsonl"))
    store.check_writable()
    check_writable_folder(cache_root(), "cache folder")
    settings = worker_settings(bench)
    env = settings.environment(make_registry())
    with terminal.console.status("") as status:
        env.progress = lambda phase, done, total: status.update(
            Text(f"{phase}: {done}/{total}" if total else f"{phase}: {done}"))
        records = measure(todo, env, store, lambda t: status.update(
            Text(f"measuring {t.arm}: two epochs, seed {t.seed}")), settings.debug)
    for record in records:
        if not record.ok:
            terminal.console.print(Text(f"{record.arm}: could not be measured ({record.error})"),
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
        about = "~" if cost.composed else ""
        table.add_row(Text(cost.arm), str(cost.trials),
                      str(cost.members) if cost.members else "–", Text(search),
                      str(cost.tuning_epochs + cost.training_epochs),
                      f"{about}{cost.seconds_per_epoch:.1f}" if cost.seconds_per_epoch
                      else "–",
                      about + duration(cost.seconds) if cost.seconds is not None else "–")
    if shared.splits:
        table.add_row(Text("shared by every arm of a split (stage 1)"), "", "",
                      Text(f"once for each of {shared.splits} splits"), "", "",
                      duration(shared.seconds) if shared.seconds is not None else "–")
    terminal.console.print(table)
    known = [c.seconds for c in costs if c.seconds is not None]
    composed = [c.arm for c in costs if c.composed]
    if composed:
        terminal.console.print(Text(
            f"~: {len(composed)} arm(s) not measured yet, costed from the measured arms "
            "they share components with (--measure trains two epochs of each to measure "
            "it)"), soft_wrap=True)
    if len(known) == len(costs):
        total = sum(known) + (shared.seconds or 0.0)
        terminal.console.print(Text(f"estimated: at most {'~' if composed else ''}"
                                    f"{duration(total)} one trial at a time"))
    else:
        terminal.console.print(Text(f"not measured yet for {len(costs) - len(known)} arm(s): no "
                           f"finished trial of the same arm on the same data in {results} "
                           "(a profile with other data, such as quick, measures only "
                           "itself); --measure trains two epochs of each to measure it"),
                      soft_wrap=True)


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
        terminal.console.print(Text(f"test part: whole tomograms make its share of the particles "
                           f"{listed}, not {bench.split.test_fraction}"))
