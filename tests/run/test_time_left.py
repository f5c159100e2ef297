"""The run's time left weighs each trial by its arm's cost: arms differ a hundredfold."""

from __future__ import annotations

import pytest

from cryobench.config import parse_benchmark
from cryobench.registry import Registry
from cryobench.run.plan import expand_trials
from cryobench.run.records import TrialRecord
from cryobench.run.cost_model import work
from cryobench.run.time_left import TimeLeft

DOC = {
    "benchmark": {"name": "cost", "seeds": [0, 1]},
    "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0, "snr": 5.0,
                "class_counts": {"TRiC": 12, "ribosome": 12}},
    "train": {"max_epochs": 4, "batch_size": 8},
    "arm": [{"name": "plain", "model": "cnn"},
            {"name": "+ bagging", "model": "cnn",
             "ensemble": {"name": "bagging", "members": 5}}],
}


@pytest.fixture
def trials():
    return {(t.arm, t.seed): t for t in expand_trials(parse_benchmark(DOC, Registry()))}


def _done(trial, seconds=None):
    timings = {} if seconds is None else {"data_seconds": 1.0, "fit_seconds": seconds - 1.0}
    return TrialRecord(key=trial.key, benchmark="cost", arm=trial.arm, seed=trial.seed,
                       fold=None, status="ok", timings=timings,
                       metrics={"macro_f1": 0.5, "macro_gmean": 0.5})


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_an_arm_no_trial_has_finished_counts_its_members_and_epochs(trials):
    clock = Clock()
    left = TimeLeft(trials.values(), clock=clock)
    assert left.seconds() is None  # nothing to go by yet
    plain = trials["plain", 0]
    assert work(plain) == 4 and work(trials["+ bagging", 0]) == 20
    left.started(plain)
    clock.now = 10.0
    left.finished(plain, _done(plain, 10.0))
    # plain seed 1 at its arm's 10 s; each bagging trial five networks' worth: 50 s
    assert left.seconds() == pytest.approx(10 + 2 * 50)


def test_an_arm_the_file_has_finished_counts_at_what_it_took(trials):
    clock = Clock()
    earlier = [(trials["+ bagging", 0], _done(trials["+ bagging", 0], 300.0))]
    pending = [t for k, t in trials.items() if k != ("+ bagging", 0)]
    left = TimeLeft(pending, earlier, clock=clock)
    plain = trials["plain", 0]
    left.started(plain)
    clock.now = 10.0
    left.finished(plain, _done(plain))  # no timings: the view's own clock counts
    assert left.seconds() == pytest.approx(10 + 300)
    # a running trial counts what it has still to go
    left.started(trials["+ bagging", 1])
    clock.now = 110.0
    assert left.seconds() == pytest.approx(10 + 200)


def test_trials_side_by_side_share_what_is_left(trials):
    """Ray: two slots, four trials of 10 s; the run lasts at least its longest trial."""
    doc = {**DOC, "benchmark": {"name": "cost", "seeds": [0, 1, 2, 3]}}
    plain = [t for t in expand_trials(parse_benchmark(doc, Registry())) if t.arm == "plain"]
    clock = Clock()
    left = TimeLeft(plain, clock=clock)
    left.started(plain[0])
    left.started(plain[1])
    clock.now = 10.0
    left.finished(plain[0], _done(plain[0], 10.0))
    # two ran at once: the two waiting share two slots (the running one is due now)
    assert left.seconds() == pytest.approx(10.0)
    left.finished(plain[1], _done(plain[1], 10.0))
    left.started(plain[2])
    left.started(plain[3])
    clock.now = 15.0
    assert left.seconds() == pytest.approx(5.0)
    # one long trial left to go: never less than it
    clock.now = 0.0
    long_one = TimeLeft([plain[2], trials["+ bagging", 0]], clock=clock)
    long_one.started(plain[0])
    long_one.started(plain[1])
    clock.now = 10.0
    long_one.finished(plain[0], _done(plain[0], 10.0))
    long_one.finished(plain[1], _done(plain[1], 10.0))
    assert long_one.seconds() == pytest.approx(50.0)  # not (10 + 50) / 2


def test_an_odd_members_parameter_counts_one_network(trials):
    import dataclasses

    from cryobench.run.cost_model import member_count

    bag = trials["+ bagging", 0]
    for odd in ("five", [1, 2], True, 0, -3, 2.5):
        ensemble = dataclasses.replace(bag.ensemble, params={"members": odd})
        assert member_count(dataclasses.replace(bag, ensemble=ensemble)) == 1


def test_a_run_says_its_time_left(minimal_doc, registry, tmp_path):
    """The driver gives the view its estimate: every trial line but the last has one."""
    from rich.console import Console

    from cryobench.run.results import ResultStore
    from tests.conftest import run_locally

    console = Console(record=True, width=200)
    run_locally(parse_benchmark(minimal_doc, registry), registry,
                ResultStore(tmp_path / "mini.jsonl"), console)
    lines = [line for line in console.export_text().splitlines() if line.startswith("trial ")]
    assert len(lines) == 4
    assert all(", about " in line and line.endswith(" left") for line in lines[:3])
    assert "left" not in lines[3]


def test_a_failed_trial_teaches_nothing_about_its_arm(trials):
    clock = Clock()
    left = TimeLeft(trials.values(), clock=clock)
    plain, bag = trials["plain", 0], trials["+ bagging", 0]
    left.started(bag)
    clock.now = 1.0
    left.finished(bag, TrialRecord.failure(bag, "diverged"))
    left.started(plain)
    clock.now = 11.0
    left.finished(plain, _done(plain, 10.0))
    assert left.seconds() == pytest.approx(10 + 50)


def test_the_live_view_shows_the_weighted_estimate(trials):
    """On a terminal the overall bar says the estimate, not rich's count-based one."""
    import io

    from rich.console import Console

    from cryobench.run.views import make_view

    clock = Clock()
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    pending = list(trials.values())
    with make_view(console, len(pending), TimeLeft(pending, clock=clock)) as view:
        plain = trials["plain", 0]
        view.started(plain)
        clock.now = 10.0
        view.finished(plain, _done(plain, 10.0))
        view.bars.refresh()
    last = screen.getvalue().rpartition("trials")[2]
    assert "1/4" in last and ("~1 min 50 s" in last or "~1 min 49 s" in last)


def test_a_combination_not_yet_run_is_costed_from_its_parts(trials):
    """SMOTE + bagging: SMOTE's rate, times what bagging cost the plain network."""
    doc = {**DOC, "benchmark": {"name": "cost", "seeds": [0]}, "arm": DOC["arm"] + [
        {"name": "+ SMOTE", "model": "cnn", "sampler": "smote"},
        {"name": "+ SMOTE + bagging", "model": "cnn", "sampler": "smote",
         "ensemble": {"name": "bagging", "members": 5}}]}
    by_arm = {t.arm: t for t in expand_trials(parse_benchmark(doc, Registry()))}
    clock = Clock()
    left = TimeLeft(by_arm.values(), clock=clock)
    for arm, seconds in (("plain", 10.0), ("+ SMOTE", 30.0), ("+ bagging", 60.0)):
        left.started(by_arm[arm])
        clock.now += seconds
        left.finished(by_arm[arm], _done(by_arm[arm], seconds))
    # per member-epoch: plain 2.5, SMOTE 7.5 (x3), bagging 3.0 (x1.2): 9.0 x 20
    assert left.seconds() == pytest.approx(9.0 * 20)


def test_a_tuned_trial_that_takes_its_searchs_fit_costs_no_training():
    """Its record's fit seconds were spent by the search, before: the trials left of its
    kind cost what such a trial took, not a whole training."""
    import dataclasses

    doc = {**DOC, "benchmark": {"name": "cost", "seeds": [0, 1, 2]},
           "tune": {"configurations": 3, "max_epochs": 4, "grace_period": 1,
                    "space": {"train.lr": {"loguniform": [1e-3, 1e-2]}}},
           "arm": [{"name": "plain", "model": "cnn"}]}
    tuned = expand_trials(parse_benchmark(doc, Registry()))
    reused = {"tuning": {"reused_fit": True},
              "timings": {"data_seconds": 2.0, "fit_seconds": 300.0}}
    earlier = dataclasses.replace(_done(tuned[0]), **reused)
    clock = Clock()
    left = TimeLeft(tuned[1:], [(tuned[0], earlier)], clock=clock)
    left.started(tuned[1])
    clock.now = 3.0
    left.finished(tuned[1], dataclasses.replace(_done(tuned[1]), **reused))
    # seed 2 at the median of 2 s (the file's, its fit left out) and 3 s (this run's)
    assert left.seconds() == pytest.approx(2.5)
