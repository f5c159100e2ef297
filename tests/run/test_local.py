"""`cryobench run` end to end through the local executor: progress, results, resume."""

from __future__ import annotations

import json

from cryobench.config import parse_benchmark
from cryobench.registry import Registry
from cryobench.run.leaderboard import summarise
from tests.conftest import run_locally
from cryobench.run.results import ResultStore
from rich.console import Console

DOC = {
    "benchmark": {"name": "local", "seeds": [0, 1]},
    "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0, "snr": 5.0,
                "class_counts": {"TRiC": 12, "ribosome": 12}},
    "train": {"max_epochs": 1, "batch_size": 8},
    "arm": [{"name": "cnn", "model": "cnn"},
            {"name": "broken", "model": "cnn", "sampler": "smote",
             "dataset": {"class_counts": {"TRiC": 12, "ribosome": 12, "proteasome_s": 2}}}],
    "reference": {"arms": {"cnn": {"macro_f1": 68.1}}},
}


def test_run_records_resumes_and_isolates_failures(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    bench = parse_benchmark(DOC, Registry())
    store = ResultStore(tmp_path / "results.jsonl")
    console = Console(record=True, width=150)
    records = run_locally(bench, Registry(), store, console)
    assert [r.status for r in records] == ["ok", "ok", "failed", "failed"]
    assert "class 'proteasome_s' has 2 particles" in records[2].error
    lines = store.path.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["arm"] == "cnn"
    summary = {s.arm: s for s in summarise(records, ("macro_f1",))}
    assert summary["cnn"].n == 2

    again = run_locally(bench, Registry(), store, Console(record=True, width=150))
    text = len(store.path.read_text().splitlines())
    assert text == 6  # only the two failed trials ran again
    assert [r.key for r in again[:2]] == [r.key for r in records[:2]]

    renamed = dict(DOC, arm=[{**DOC["arm"][0], "name": "plain cnn"}], reference={})
    relabelled = run_locally(parse_benchmark(renamed, Registry()), Registry(), store,
                           Console(record=True, width=150))
    assert len(store.path.read_text().splitlines()) == 6  # same content: nothing re-ran
    assert {r.arm for r in relabelled} == {"plain cnn"}


def _record(arm, classes, seed, f1, **more):
    from cryobench.run.records import TrialRecord

    return TrialRecord(key=f"{arm}{classes}{seed}", benchmark="local", arm=arm, seed=seed,
                       fold=None, status="ok", classes=classes,
                       metrics={"macro_f1": f1, "macro_gmean": f1, "balanced_accuracy": f1},
                       **more)


def test_leaderboard_has_a_row_per_class_subset_and_hides_a_constant_classes_column():
    from cryobench.run.leaderboard import leaderboard_table

    bench = parse_benchmark(DOC, Registry())

    def render(records):
        console = Console(record=True, width=200)
        console.print(leaderboard_table(bench, records))
        return console.export_text()

    two_sets = render([_record("cnn", ["TRiC", "ribosome"], 0, 0.5),
                       _record("cnn", ["TRiC", "ribosome", "proteasome_s"], 0, 0.25),
                       _record("cnn", ["TRiC", "ribosome", "proteasome_s"], 1, 0.35)])
    assert "classes" in two_sets
    assert "30.0 ± 7.1 │  0.0–93.5" in two_sets  # the interval within [0, 100]
    one_seed = next(line for line in two_sets.splitlines() if "TRiC,ribosome " in line)
    assert "50.0 │" in one_seed and "±" not in one_seed and "–" in one_seed  # unknown spread
    one_set = render([_record("cnn", ["TRiC", "ribosome"], 0, 0.5)])
    assert "classes" not in one_set and "50.0" in one_set and "68.1" in one_set


def test_an_arm_with_several_subsets_shows_their_mean_beside_the_paper():
    from cryobench.run.leaderboard import leaderboard_table

    doc = dict(DOC, arm=[{"name": "cnn", "model": "cnn", "dataset": {
        "classes": [["TRiC", "ribosome"], ["ribosome", "TRiC"]]}}])
    bench = parse_benchmark(doc, Registry())
    console = Console(record=True, width=200)
    console.print(leaderboard_table(bench, [_record("cnn", ["TRiC", "ribosome"], 0, 0.5),
                                            _record("cnn", ["ribosome", "TRiC"], 0, 0.7)]))
    text = console.export_text()
    mean_row = next(line for line in text.splitlines() if "mean over 2 subsets" in line)
    assert "60.0 ± 14.1" in mean_row and "68.1" in mean_row


def test_the_paths_grid_stands_beside_the_papers_table3():
    """The model plugin's result table, rendered on a terminal by the core."""
    from cryobench.run.result_tables import rich_table

    doc = dict(DOC, reference={"paths": {"TRiC": [[70.0, 80.0], [71.0, 81.0]]}})
    registry = Registry()
    bench = parse_benchmark(doc, registry)
    rows = [{"class": "TRiC", "path": p, "f1": f, "gmean": g, "chosen": p == "conv5"}
            for p, f, g in (("conv3", 0.5, 0.6), ("conv5", 0.7, 0.8))]
    records = [_record("cnn", ["TRiC", "ribosome"], s, 0.5, report={"stage1": rows})
               for s in (0, 1)]
    (table,) = registry.result_tables(bench, records)
    console = Console(record=True, width=80)
    console.print(rich_table(table))
    lines = console.export_text().splitlines()
    conv5 = next(line for line in lines if "conv5" in line)
    assert "70.0" in conv5 and "80.0" in conv5 and "71.0" in conv5 and "*" in conv5
    assert registry.result_tables(bench, [_record("cnn", ["TRiC"], 0, 0.5)]) == []


def test_the_time_left_counts_from_the_first_trial_not_from_data_and_tuning(
        minimal_doc, registry, monkeypatch):
    """An hour of tuning before the first trial must not make a 10 s trial look like an
    hour each."""
    from cryobench.run import views
    from cryobench.run.plan import expand_trials
    from cryobench.run.records import TrialRecord
    from cryobench.run.time_left import TimeLeft

    now = [0.0]
    monkeypatch.setattr(views.time, "monotonic", lambda: now[0])
    trials = expand_trials(parse_benchmark(minimal_doc, registry))  # 4 trials
    console = Console(record=True, width=200)
    view = views.LineView(console, len(trials), TimeLeft(trials, clock=lambda: now[0]))
    now[0] = 3600.0  # data and tuning
    for trial in trials[:2]:
        view.started(trial)
        now[0] += 10.0
        view.finished(trial, TrialRecord(key=trial.key, benchmark="mini", arm=trial.arm,
                                         seed=trial.seed, fold=None, status="ok",
                                         metrics={"macro_f1": 0.5, "macro_gmean": 0.5}))
    lines = console.export_text().splitlines()
    assert lines[0].endswith("1/4 done, about 0 min 30 s left")
    assert lines[1].endswith("2/4 done, about 0 min 20 s left")
