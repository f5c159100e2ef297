"""The driver loop alone, with a scripted executor: what it hands out, what it stores
and in which order, what it tells trackers, and what a tuner's failures become."""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import replace

import pytest
from rich.console import Console

from cryobench.api import EpochRecord
from cryobench.config import parse_benchmark
from cryobench.run.driver import run_benchmark, stored_records
from cryobench.run.plan import expand_trials
from cryobench.run.results import ResultStore
from tests.report.test_analysis import records_for


class ScriptedExecutor:
    """Finishes each trial with a made-up record after one epoch; remembers its order."""

    def __init__(self, bench):
        self.made = {r.key: r for r in records_for(bench, lambda arm, seed: 0.5 + seed / 10)}
        self.given = []
        self.sessions = 0

    @contextlib.contextmanager
    def session(self):
        self.sessions += 1
        yield

    def run(self, trials, sink):
        for trial in trials:
            self.given.append(trial.key)
            sink.started(trial)
            sink.epoch(trial, EpochRecord(1, {"train_loss": 0.3}, member=1))
            sink.finished(trial, self.made[trial.key])


class StoreReadingTracker:
    """Sees a record only after it is durable in the result file."""

    def __init__(self, store):
        self.store, self.seen = store, []

    def trial_finished(self, trial, record):
        keys = [json.loads(line)["key"] for line in self.store.path.read_text().splitlines()]
        assert record.key in keys, "a tracker saw a record before it was stored"
        self.seen.append(record.key)


@pytest.fixture
def bench(minimal_doc, registry):
    return parse_benchmark(minimal_doc, registry)


def quiet() -> Console:
    return Console(record=True, width=120)


def test_only_pending_trials_are_run_and_every_record_comes_back(bench, tmp_path):
    store = ResultStore(tmp_path / "r.jsonl")
    trials = expand_trials(bench)
    first = ScriptedExecutor(bench)
    store.append(first.made[trials[1].key])  # finished by an earlier run
    tracker = StoreReadingTracker(store)
    console = quiet()
    records = run_benchmark(bench, store, first, console, trackers=[tracker])
    assert first.given == [t.key for t in trials if t is not trials[1]]
    assert [r.key for r in records] == [t.key for t in trials]  # the file's order
    assert tracker.seen == first.given
    assert "1 of 4 trials already finished" in console.export_text()
    again = ScriptedExecutor(bench)
    assert [r.key for r in run_benchmark(bench, store, again, quiet())] == \
        [t.key for t in trials] and again.given == []
    rerun = ScriptedExecutor(bench)
    run_benchmark(bench, store, rerun, quiet(), rerun=True)
    assert rerun.given == [t.key for t in trials]


def test_records_come_back_under_the_names_the_file_gives_now(bench, minimal_doc,
                                                              registry, tmp_path):
    store = ResultStore(tmp_path / "r.jsonl")
    run_benchmark(bench, store, ScriptedExecutor(bench), quiet())
    renamed = copy.deepcopy(minimal_doc)
    renamed["arm"][0]["name"] = "plain, renamed"
    later = parse_benchmark(renamed, registry)
    assert {r.arm for r in stored_records(later, store)} == {"plain, renamed", "warm"}


def test_a_tuners_failures_are_recorded_and_the_rest_runs(bench, tmp_path):
    from cryobench.specs import TuneSpec

    store = ResultStore(tmp_path / "r.jsonl")
    trials = expand_trials(bench)
    spec = TuneSpec(space=(), configurations=2, max_epochs=2, scheduler="fifo",
                    grace_period=1, reduction_factor=2, seed=0)
    tuned = replace(bench, arms=tuple(replace(a, tune=spec) for a in bench.arms))

    class Tuner:
        def resolve(self, pending, executor, phase, rerun=False):
            assert executor.sessions == 1  # inside the executor's session, before the run
            return pending[1:], [(pending[0], "no configuration finished")]

    executor = ScriptedExecutor(bench)
    executor.made = {t.key: executor.made[k] for t, k in
                     zip(expand_trials(tuned), [t.key for t in trials])}
    records = run_benchmark(tuned, store, executor, quiet(), tuner=Tuner())
    assert [r.status for r in records] == ["failed", "ok", "ok", "ok"]
    assert records[0].error == "no configuration finished"
    with pytest.raises(ValueError, match="pass a tuner"):
        run_benchmark(tuned, ResultStore(tmp_path / "other.jsonl"), executor, quiet())
