"""What `cryobench validate` estimates: the per-epoch cost of a trial is taken only from
earlier trials of the same arm on the same data, whatever their seed or budget."""

from __future__ import annotations

import copy

import pytest

from cryobench.config import parse_benchmark
from cryobench.run.estimate import arm_costs, seconds_per_epoch
from cryobench.run.plan import expand_trials
from cryobench.run.records import TrialRecord


def measured(trial, seconds: float) -> TrialRecord:
    return TrialRecord(key=trial.key, benchmark="mini", arm=trial.arm, seed=trial.seed,
                       fold=trial.fold, status="ok", config=trial.config(),
                       timings={"fit_seconds": seconds})


def test_a_trial_of_the_same_arm_and_data_measures_the_others(minimal_doc, registry):
    trials = expand_trials(parse_benchmark(minimal_doc, registry))
    plain = [t for t in trials if t.arm == "plain"]
    records = [measured(plain[0], 4.0)]
    assert seconds_per_epoch(plain[1], records) == 4.0  # another seed: the same cost
    assert seconds_per_epoch(next(t for t in trials if t.arm == "warm"), records) is None
    costs = {c.arm: c for c in arm_costs(trials, records)}
    assert costs["plain"].seconds == 2 * 4.0  # two seeds, one "epoch" each (no training)
    assert not costs["plain"].composed
    # not measured: costed from the measured arm it is nearest to (the same model)
    assert costs["warm"].composed and costs["warm"].seconds == 2 * 4.0


def test_other_data_does_not_measure_a_trial(minimal_doc, registry):
    """A quick profile's smaller data set would understate the cost of the full one."""
    smaller = copy.deepcopy(minimal_doc)
    smaller["dataset"]["n"] = 10
    small = expand_trials(parse_benchmark(smaller, registry))
    full = expand_trials(parse_benchmark(minimal_doc, registry))
    records = [measured(t, 1.0) for t in small]
    assert all(seconds_per_epoch(t, records) is None for t in full)


def test_the_budget_and_learning_rate_do_not_change_the_cost_but_the_batch_does():
    from cryobench.registry import Registry

    def trial(**train):
        doc = {"benchmark": {"name": "b", "seeds": [0]},
               "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0},
               "train": {"max_epochs": 2, "lr": 0.003, **train},
               "arm": [{"name": "cnn", "model": "cnn"}]}
        return expand_trials(parse_benchmark(doc, Registry()))[0]

    records = [measured(trial(), 6.0)]
    records[0].fit["epochs_run"] = 2
    assert seconds_per_epoch(trial(max_epochs=30, lr=0.01, patience=4), records) == 3.0
    assert seconds_per_epoch(trial(batch_size=8), records) is None
    assert seconds_per_epoch(trial(device="cuda"), records) is None


def test_a_tuned_trial_costs_its_search_and_only_trains_when_the_search_was_shorter():
    """The trial takes its search's fit of the chosen configuration when the search
    trained it for the whole budget (cryobench.run.fitted)."""
    from cryobench.registry import Registry

    def costs(tune_epochs):
        doc = {"benchmark": {"name": "b", "seeds": [0, 1]},
               "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0},
               "train": {"max_epochs": 4},
               "tune": {"configurations": 3, "max_epochs": tune_epochs, "grace_period": 1,
                        "space": {"train.lr": {"loguniform": [1e-3, 1e-2]}}},
               "arm": [{"name": "cnn", "model": "cnn"}]}
        cost, = arm_costs(expand_trials(parse_benchmark(doc, Registry())), [])
        return cost.tuning_epochs, cost.training_epochs

    assert costs(4) == (2 * 3 * 4, 0)
    assert costs(2) == (2 * 3 * 2, 2 * 4)


def test_a_search_costs_what_it_trains():
    """A grid tried whole trains its own size; a model that fits on its own fits once a
    configuration, whatever the epoch budget; without kept fits the trial trains again."""
    from cryobench.registry import Registry

    def cost(model, space, configurations=8, fits_kept=True):
        doc = {"benchmark": {"name": "b", "seeds": [0]},
               "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0},
               "train": {"max_epochs": 5},
               "tune": {"configurations": configurations, "max_epochs": 5,
                        "grace_period": 1, "space": space},
               "arm": [{"name": "a", "model": model}]}
        found, = arm_costs(expand_trials(parse_benchmark(doc, Registry())), [], fits_kept)
        return found.tuning_epochs, found.training_epochs

    lr = {"train.lr": {"loguniform": [1e-3, 1e-2]}}
    assert cost("cnn", {"train.lr": {"choice": [1e-3, 1e-2]}}) == (2 * 5, 0)
    assert cost("cnn", {"train.lr": {"choice": [1e-3, 3e-3, 1e-2]}}, 2) == (2 * 5, 0)
    assert cost("svm", {"model.C": {"loguniform": [0.1, 10.0]}}, 4) == (4, 0)
    assert cost("cnn", lr, 3, fits_kept=False) == (3 * 5, 5)


def _ensemble_trials(seeds=(0, 1, 2)):
    from cryobench.registry import Registry

    doc = {"benchmark": {"name": "b", "seeds": list(seeds)},
           "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0},
           "train": {"max_epochs": 30},
           "arm": [{"name": "plain", "model": "multipath"},
                   {"name": "bagging", "model": "multipath",
                    "ensemble": {"name": "bagging", "members": 5}}]}
    return expand_trials(parse_benchmark(doc, Registry()))


def test_every_members_epochs_count_and_the_shared_stage_once_per_split():
    """An ensemble of five trains five networks: 5 x 30 epochs a trial, at one member's
    epoch cost; stage 1 is trained once per split for every arm (not per arm, not per
    member), from what the first trial of a split spent on it."""
    from cryobench.run.estimate import shared_cost

    trials = _ensemble_trials()
    plain, bagging = trials[0], next(t for t in trials if t.arm == "bagging")
    stage1 = {"epochs_run": 6, "fit_seconds": 10.0, "shared": "split"}
    first = measured(plain, 100.0)  # stage 2 (30 epochs, 60 s) after stage 1 (2 x 10 s)
    first.fit.update({"epochs_run": 30, "fit_seconds": 60.0,
                      "parts": {"stage1 a conv3": stage1, "stage1 b conv5": stage1}})
    member = {"epochs_run": 30, "fit_seconds": 90.0, "parts": {}}  # stage 1 from the cache
    ensemble = measured(bagging, 450.0)
    ensemble.fit.update({"members": 5,
                         "parts": {f"member {i}": member for i in range(1, 6)}})
    costs = {c.arm: c for c in arm_costs(trials, [first, ensemble])}
    assert (costs["plain"].members, costs["plain"].training_epochs) == (1, 3 * 30)
    assert costs["plain"].seconds_per_epoch == 2.0
    assert (costs["bagging"].members, costs["bagging"].training_epochs) == (5, 3 * 5 * 30)
    assert costs["bagging"].seconds == 3 * 5 * 30 * 3.0
    shared = shared_cost(trials, [first, ensemble])
    assert (shared.splits, shared.seconds_per_split, shared.seconds) == (3, 20.0, 60.0)


def test_a_measured_record_gives_a_members_epoch_and_its_members():
    from cryobench.run.estimate import MEMBER_EPOCH_SECONDS, MEMBERS

    trials = _ensemble_trials(seeds=(0,))
    bagging = next(t for t in trials if t.arm == "bagging")
    record = measured(bagging, 30.0)
    record.timings.update({MEMBER_EPOCH_SECONDS: 2.5, MEMBERS: 5})
    cost = {c.arm: c for c in arm_costs(trials, [record])}["bagging"]
    assert (cost.members, cost.seconds_per_epoch, cost.seconds) == (5, 2.5, 5 * 30 * 2.5)


def test_older_measurements_of_every_member_at_once_mix_with_newer_ones():
    """An older measured record kept an epoch of all the members; a newer one keeps one
    member's epoch and how many there were: both give the same arm cost."""
    from cryobench.run.estimate import EPOCH_SECONDS, MEMBER_EPOCH_SECONDS, MEMBERS

    trials = _ensemble_trials(seeds=(0, 1))
    bagging = [t for t in trials if t.arm == "bagging"]
    old, new = measured(bagging[0], 30.0), measured(bagging[1], 30.0)
    old.timings[EPOCH_SECONDS] = 12.5
    new.timings.update({MEMBER_EPOCH_SECONDS: 2.5, MEMBERS: 5})
    cost = {c.arm: c for c in arm_costs(trials, [old, new])}["bagging"]
    assert (cost.members, cost.seconds_per_epoch) == (5, 2.5)


def test_an_unmeasured_combination_is_costed_from_the_arms_it_shares_parts_with():
    """SMOTE + bagging, never run: SMOTE's epoch, times what bagging's members cost the
    plain network's; its five members from its file. A model that fits on its own is
    never costed from networks."""
    from cryobench.registry import Registry

    doc = {"benchmark": {"name": "b", "seeds": [0]},
           "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0},
           "train": {"max_epochs": 30},
           "arm": [{"name": "plain", "model": "cnn"},
                   {"name": "smote", "model": "cnn", "sampler": "smote"},
                   {"name": "bagging", "model": "cnn",
                    "ensemble": {"name": "bagging", "members": 5}},
                   {"name": "smote + bagging", "model": "cnn", "sampler": "smote",
                    "ensemble": {"name": "bagging", "members": 5}},
                   {"name": "svm", "model": "svm"}]}
    trials = {t.arm: t for t in expand_trials(parse_benchmark(doc, Registry()))}
    records = []
    for arm, epoch, members in (("plain", 2.0, 1), ("smote", 6.0, 1), ("bagging", 2.4, 5)):
        record = measured(trials[arm], 1.0)
        record.fit["epochs_run"] = 30
        record.fit["fit_seconds"] = 30 * epoch * members
        if members > 1:
            part = {"epochs_run": 30, "fit_seconds": 30 * epoch}
            record.fit.update({"members": members, "parts": {
                f"member {i}": part for i in range(members)}})
            del record.fit["epochs_run"], record.fit["fit_seconds"]
        records.append(record)
    costs = {c.arm: c for c in arm_costs(list(trials.values()), records)}
    both = costs["smote + bagging"]
    assert both.composed and both.members == 5 and both.training_epochs == 5 * 30
    assert both.seconds_per_epoch == pytest.approx(6.0 * 2.4 / 2.0)
    assert costs["svm"].seconds is None and not costs["svm"].composed
