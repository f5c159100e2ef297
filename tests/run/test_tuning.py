"""Per-arm tuning: the [tune] table validated, configurations applied, and searches
choosing on the validation part only, on an equal budget, repeatably, the same in this
process (the local executor) and on real Ray Tune."""

from __future__ import annotations

import json

import pytest

from cryobench.config import parse_benchmark
from cryobench.data.cache import cache_root
from cryobench.errors import ConfigError
from cryobench.registry import Registry
from cryobench.run.trial import WorkerSettings
from cryobench.run.plan import expand_trials
from cryobench.run.results import ResultStore
from cryobench.run.tuning import TuningOutcome, choose
from cryobench.run.tuning_phase import Tuning
from cryobench.specs import with_values
from tests.plugins import tuning_plugin

DATASET = {"source": "synthetic", "box": 12, "voxel_size": 4.0, "snr": 5.0,
           "class_counts": {"TRiC": 12, "ribosome": 12}}


def doc(tune=None, arms=None, **extra):
    d = {"benchmark": {"name": "tuned", "seeds": [0]}, "dataset": dict(DATASET),
         "train": {"max_epochs": 3, "batch_size": 8}, "resources": {"cpus_per_trial": 1},
         "arm": arms or [{"name": "plain", "model": "cnn"},
                         {"name": "focal", "model": "cnn", "loss": "focal"}]}
    if tune is not None:
        d["tune"] = tune
    d.update(extra)
    return d


SPACE = {"train.lr": {"loguniform": [1e-4, 1e-2]}, "loss.gamma": {"choice": [0.5, 1.0, 2.0]}}


# --- the [tune] table ----------------------------------------------------------------------

def test_a_benchmark_wide_dimension_applies_to_the_arms_that_declare_it():
    bench = parse_benchmark(doc({"configurations": 3, "space": SPACE}), Registry())
    plain, focal = bench.arms
    assert [d.target for d in plain.tune.space] == ["train.lr"]  # ce has no gamma
    assert [d.target for d in focal.tune.space] == ["loss.gamma", "train.lr"]  # sorted
    assert plain.tune.configurations == focal.tune.configurations == 3  # the same budget
    assert plain.tune.max_epochs == 3  # [train] max_epochs unless [tune] says


@pytest.mark.parametrize("tune, key, message", [
    ({"space": {"train.lr": {"loguniform": [0, 1e-2]}}}, "tune.space.train.lr.loguniform",
     "needs a low bound above 0"),
    ({"space": {"train.lr": {"uniform": [1e-2, 1e-4]}}}, "tune.space.train.lr.uniform",
     "must be below the high bound"),
    ({"space": {"train.momentum": {"uniform": [0.5, 1.5]}}},
     "tune.space.train.momentum.uniform", "got 1.5, expected a number in [0.0, 1.0]"),
    ({"space": {"train.batch_size": {"uniform": [2, 8]}}}, "tune.space.train.batch_size",
     "use randint or choice"),
    ({"space": {"train.optimizer": {"choice": ["adam", "rmsprop"]}}},
     "tune.space.train.optimizer.choice[1]", "got 'rmsprop'"),
    ({"space": {"loss.gama": {"choice": [1.0, 2.0]}}}, "tune.space.loss.gama",
     "no arm declares 'loss.gama'"),
    ({"space": {"train.max_epochs": {"randint": [1, 3]}}}, "tune.space.train.max_epochs",
     "the tuning budget sets it"),
    ({"space": {"train.lr": {"grid": [1e-3, 1e-2]}}}, "tune.space.train.lr",
     "unknown sampler 'grid'"),
    ({"space": {"lr": {"uniform": [0.1, 0.2]}}}, "tune.space.lr", "name a field and one"),
    ({"configurations": 0}, "tune.configurations", "expected an integer in [1, 10000]"),
    ({"grace_period": 3}, "tune.grace_period", "leave ASHA nothing to judge before the last"),
    ({"space": {}}, "tune.space", "no arm has anything to tune"),
    ({"configurations": 4}, "tune.space", "no arm has anything to tune"),
])
def test_search_space_mistakes_name_the_key(tune, key, message):
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc(tune), Registry())
    assert info.value.key == key and message in info.value.message


def test_asha_keys_beside_fifo_are_refused_unless_a_profile_switched_the_scheduler():
    fifo = {"configurations": 3, "scheduler": "fifo", "space": SPACE}
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc({**fifo, "reduction_factor": 2}), Registry())
    assert info.value.key == "tune.reduction_factor" and "only ASHA reads it" in \
        info.value.message
    asha = {"configurations": 3, "grace_period": 1, "space": SPACE}
    switched = doc(asha, profile={"fifo": {"tune": {"scheduler": "fifo"}}})
    assert parse_benchmark(switched, Registry(), profile="fifo").arms[1].tune is not None
    for body, key in (({"tune": {"scheduler": "fifo", "grace_period": 1}},
                       "profile.wrong.tune.grace_period"),  # written beside it
                      ({"tune": {"grace_period": 1}}, "profile.wrong.tune.grace_period")):
        base = asha if "scheduler" in body["tune"] else fifo  # inherited: the file's fifo
        with pytest.raises(ConfigError) as info:
            parse_benchmark(doc(base, profile={"wrong": body}), Registry(), profile="wrong")
        assert info.value.key == key


def test_an_arm_adds_to_the_space_but_not_to_the_budget():
    arms = [{"name": "focal", "model": "cnn", "loss": "focal",
             "tune": {"space": {"loss.gamma": {"choice": [1.0, 2.0]}}}},
            {"name": "plain", "model": "cnn", "tune": False}]
    bench = parse_benchmark(doc({"space": {"train.lr": {"uniform": [1e-3, 1e-2]}}}, arms),
                            Registry())
    assert [d.target for d in bench.arms[0].tune.space] == ["loss.gamma", "train.lr"]
    assert bench.arms[1].tune is None
    arms[0]["tune"]["configurations"] = 50
    with pytest.raises(ConfigError, match="every arm gets the same budget"):
        parse_benchmark(doc({}, arms), Registry())
    del arms[0]["tune"]["configurations"]
    arms[0]["tune"]["space"] = {"loss.gama": {"choice": [1.0, 2.0]}}
    with pytest.raises(ConfigError) as info:  # the arm's own space must apply to it
        parse_benchmark(doc({}, arms), Registry())
    assert info.value.key == "arm[0].tune.space.loss.gama"
    assert "'gama'; did you mean 'gamma'?" in info.value.message
    with pytest.raises(ConfigError, match=r"needs a \[tune\] table"):
        parse_benchmark(doc(None, [{"name": "a", "model": "cnn", "tune": {"space": {}}}]),
                        Registry())


def test_tuning_needs_a_validation_part_and_a_model_that_uses_what_is_tuned():
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc({"space": {"train.lr": {"uniform": [1e-3, 1e-2]}}},
                            split={"val_fraction": 0.0}), Registry())
    assert info.value.key == "split.val_fraction"
    arms = [{"name": "svm", "model": "svm",
             "tune": {"space": {"train.lr": {"uniform": [1e-3, 1e-2]}}}}]
    with pytest.raises(ConfigError, match="does not train with \\[train\\] settings"):
        parse_benchmark(doc({}, arms), Registry())


def test_a_profile_can_bring_the_tuning(tmp_path):
    raw = doc(profile={"tuned": {"tune": {"configurations": 2, "space": SPACE}}})
    assert parse_benchmark(raw, Registry()).arms[0].tune is None
    tuned = parse_benchmark(raw, Registry(), profile="tuned")
    assert tuned.arms[1].tune.configurations == 2
    raw["profile"]["tuned"]["tune"]["space"] = {"train.lr": {"uniform": [1.0, 0.1]}}
    with pytest.raises(ConfigError) as info:
        parse_benchmark(raw, Registry())  # every profile is validated
    assert info.value.key.startswith("profile.tuned.tune.space.train.lr")


def test_search_space_errors_are_one_line_and_exit_2(tmp_path):
    from tests.test_cli import cli

    path = tmp_path / "b.toml"
    path.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "synthetic"\n'
                    '[tune]\nspace = { "train.lr" = { loguniform = [-1.0, 0.1] } }\n'
                    '[[arm]]\nname = "a"\nmodel = "cnn"\n')
    result = cli("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "tune.space.train.lr.loguniform" in result.stderr


def test_a_range_that_reaches_a_value_a_component_refuses_is_found_before_any_work():
    arms = [{"name": "gp", "model": "cnn", "ensemble": {"name": "gp", "mutation": 0.2}}]
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc({"space": {"ensemble.crossover": {"uniform": [0.5, 0.95]}}},
                            arms), Registry())
    assert info.value.key == "tune.space.ensemble.crossover"
    assert "ensemble.crossover = 0.95 is refused" in info.value.message
    assert "exceeds 1" in info.value.message


def test_the_same_space_in_another_order_is_the_same_search():
    a = parse_benchmark(doc({"space": SPACE}), Registry()).arms[1]
    b = parse_benchmark(doc({"space": dict(reversed(list(SPACE.items())))}), Registry()).arms[1]
    assert a.tune == b.tune and [d.target for d in a.tune.space] == ["loss.gamma", "train.lr"]


def test_every_arm_trains_its_configurations_for_the_same_epochs():
    arms = [{"name": "plain", "model": "cnn"},
            {"name": "long", "model": "cnn", "train": {"max_epochs": 9}}]
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc({"space": {"train.lr": {"uniform": [1e-3, 1e-2]}}}, arms),
                        Registry())
    assert info.value.key == "arm[1].tune" and "set [tune] max_epochs" in info.value.message
    bench = parse_benchmark(doc({"max_epochs": 4, "grace_period": 1,
                                 "space": {"train.lr": {"uniform": [1e-3, 1e-2]}}}, arms),
                            Registry())
    assert {a.tune.max_epochs for a in bench.arms} == {4}


def test_the_files_own_values_are_the_first_configuration_unless_turned_off():
    """Tuning that samples every configuration can choose one that scored below the
    file's own values on validation (8 draws of a learning rate over 1.5 decades)."""
    registry = Registry()
    raw = doc({"space": SPACE}, train={"max_epochs": 3, "batch_size": 8, "lr": 0.002})
    raw["arm"][1]["loss"] = {"name": "focal", "gamma": 1.0}
    arms = parse_benchmark(raw, registry).arms
    assert dict(arms[0].tune.first) == {"train.lr": 0.002}
    assert dict(arms[1].tune.first) == {"loss.gamma": 1.0, "train.lr": 0.002}
    assert with_values(arms[1], dict(arms[1].tune.first)) == arms[1]  # the arm itself
    off = parse_benchmark(doc({"include_file_values": False, "space": SPACE}), registry)
    assert off.arms[1].tune.first == () and "first" not in off.arms[1].tune.identity()
    on = parse_benchmark(doc({"space": SPACE}), registry)
    assert expand_trials(on)[1].key != expand_trials(off)[1].key
    raw = doc({"space": SPACE})
    raw["arm"][0]["tune"] = {"include_file_values": False}
    with pytest.raises(ConfigError) as info:
        parse_benchmark(raw, registry)
    assert info.value.key == "arm[0].tune.include_file_values"
    assert "every arm gets the same budget" in info.value.message
    with pytest.raises(ConfigError, match="nothing would be tuned") as info:
        parse_benchmark(doc({"configurations": 1, "space": SPACE}), registry)
    assert info.value.key == "tune.configurations"


def test_a_profile_that_picks_arms_may_leave_a_dimension_without_its_arm():
    raw = doc({"space": SPACE}, profile={"plain": {"arms": ["plain"]}})
    bench = parse_benchmark(raw, Registry(), profile="plain")
    assert [d.target for d in bench.arms[0].tune.space] == ["train.lr"]


def test_a_small_space_of_choices_is_tried_whole_once():
    from cryobench.search_space import sample_configurations

    bench = parse_benchmark(doc({"configurations": 8, "space": {
        "loss.gamma": {"choice": [1.0, 2.0]}, "train.lr": {"choice": [1e-3, 1e-2]}}}),
        Registry())
    assert sample_configurations(bench.arms[1].tune) == [
        {"loss.gamma": g, "train.lr": lr} for lr in (1e-3, 1e-2) for g in (1.0, 2.0)]
    assert bench.arms[1].tune.first == ()  # the grid as written, the file's value or not
    bench = parse_benchmark(doc({"configurations": 8, "space": SPACE}), Registry())
    drawn = sample_configurations(bench.arms[1].tune)
    assert len(drawn) == 8 and drawn[0] == {"loss.gamma": 2.0, "train.lr": 0.001}
    assert len({json.dumps(c) for c in drawn}) == 8


SPACES = [
    ({"augment.alpha": {"uniform": [0.05, 0.4]}, "loss.gamma": {"choice": [0.5, 1.0, 2.0]},
      "train.lr": {"loguniform": [3e-4, 1e-2]}}, 8, 0, True),
    ({"train.lr": {"loguniform": [1e-3, 1e-2]}}, 3, 5, True),
    ({"model.width": {"randint": [2, 9]}, "train.lr": {"uniform": [1e-3, 1e-2]}}, 6, 7, False),
    ({"model.x": {"choice": [1, 2, 3]}, "loss.y": {"choice": ["p", "q"]}}, 8, 0, False),
    ({"loss.gamma": {"choice": [0.5, 1.0, 2.0]}}, 5, 3, False),
]


@pytest.mark.parametrize("space, configurations, seed, first", SPACES)
def test_searches_sample_what_ray_tune_samples_from_the_same_space_and_seed(
        space, configurations, seed, first):
    """Every executor runs cryobench's own samples; they are Tune's, draw for draw, so a
    search recorded when Tune drew them tries the same configurations now."""
    import os

    os.environ.setdefault("TUNE_DISABLE_AUTO_INIT", "1")
    from ray import tune
    from ray.tune.experiment import Experiment
    from ray.tune.search import BasicVariantGenerator

    from cryobench.run.ray.search import tune_sampler
    from cryobench.search_space import is_whole_grid, parse_space, sample_configurations
    from cryobench.specs import TuneSpec

    def fail(key, message):
        raise AssertionError(f"{key}: {message}")

    dims = tuple(sorted(parse_space("tune.space", space, fail).values(),
                        key=lambda d: d.target))
    values = {d.target: d.values[0] if d.kind == "choice" else d.values[0] * 1.5
              for d in dims}
    spec = TuneSpec(dims, configurations, 4, "asha", 1, 2, seed,
                    tuple(values.items()) if first else ())
    grid = is_whole_grid(dims, configurations)
    generator = BasicVariantGenerator(random_state=seed,
                                      points_to_evaluate=[values] if first else None)
    generator.add_configurations([Experiment(
        "space", lambda config: None,
        config={d.target: tune.grid_search(list(d.values)) if grid else tune_sampler(d)
                for d in dims},
        num_samples=1 if grid else configurations)])
    tunes = []
    while (trial := generator.next_trial()) is not None:
        tunes.append(dict(trial.config))
    assert sample_configurations(spec) == tunes and tunes


@pytest.mark.parametrize("seed", range(6))
def test_the_local_searchs_rungs_decide_as_ray_tunes_asha(seed):
    """Configurations reporting in any interleaving (several at once): each report gets
    the same decision from :class:`Rungs` as from Tune's ASHAScheduler."""
    import numpy as np
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    from cryobench.run.search import Rungs

    rng = np.random.default_rng(seed)
    max_epochs, grace, factor = int(rng.integers(4, 12)), int(rng.integers(1, 3)), \
        int(rng.integers(2, 4))
    ray_asha = ASHAScheduler(time_attr="step", metric="score", mode="max",
                             max_t=max_epochs - 1, grace_period=grace,
                             reduction_factor=factor, stop_last_trials=False)
    ours = Rungs(grace, max_epochs - 1, factor)
    trials = [type("Trial", (), {"trial_id": f"t_{n:05d}"})() for n in range(9)]
    for trial in trials:
        ray_asha.on_trial_add(None, trial)
    curves = {n: iter(np.round(rng.uniform(0, 1, max_epochs), 1)) for n in range(9)}
    steps = dict.fromkeys(range(9), 0)
    live = list(range(9))
    decisions = 0
    while live:
        n = live[int(rng.integers(len(live)))]
        steps[n] += 1
        score = float(next(curves[n]))
        theirs = ray_asha.on_trial_result(None, trials[n], {"step": steps[n], "score": score})
        assert ours.goes_on(n, steps[n], score) == (theirs == TrialScheduler.CONTINUE)
        decisions += theirs == TrialScheduler.STOP
        if theirs == TrialScheduler.STOP or steps[n] == max_epochs - 1:
            live.remove(n)
    assert ours.rungs and decisions  # rungs to judge at, and some stopped


def test_tuning_through_a_ray_client_address_is_refused(tmp_path):
    from cryobench.errors import CryobenchError
    from cryobench.run.ray.executor import RayExecutor

    bench = parse_benchmark(doc({"space": SPACE}), Registry())
    with pytest.raises(CryobenchError, match="Ray Client"):
        RayExecutor(WorkerSettings(tmp_path, tmp_path), resources=bench.resources,
                    log_file=tmp_path / "l", storage=tmp_path / "s",
                    address="ray://10.0.0.5:10001", tunes=True)


def test_the_stopping_rules_at_their_defaults_keep_earlier_trial_keys():
    registry = Registry()
    plain = expand_trials(parse_benchmark(doc(), registry))[0]
    written = expand_trials(parse_benchmark(doc(train={"max_epochs": 3, "batch_size": 8,
                                                       "monitor": "val_macro_f1",
                                                       "restore": "best"}), registry))[0]
    other = expand_trials(parse_benchmark(doc(train={"max_epochs": 3, "batch_size": 8,
                                                     "monitor": "val_loss"}), registry))[0]
    assert plain.key == written.key != other.key
    assert "monitor" not in plain.config()["train"] and other.config()["train"]["monitor"]


# --- planning ------------------------------------------------------------------------------

def test_a_tuned_trial_has_its_own_key_and_applies_the_chosen_values():
    registry = Registry()
    untuned = expand_trials(parse_benchmark(doc(), registry))[1]
    trial = expand_trials(parse_benchmark(doc({"space": SPACE}), registry))[1]
    assert trial.key != untuned.key  # a tuned result is not an untuned one
    chosen = trial.with_values({"train.lr": 0.005, "loss.gamma": 0.5})
    assert chosen.train.lr == 0.005 and chosen.loss.params["gamma"] == 0.5
    assert chosen.train.max_epochs == trial.train.max_epochs
    from dataclasses import replace

    done = replace(trial, tuning={"chosen": {"train.lr": 0.005}, "configurations": []})
    assert done.key == trial.key  # the search, not its outcome, identifies the trial
    assert done.applied().train.lr == 0.005 and trial.applied().train.lr == trial.train.lr
    assert done.record_config()["tuned"] == {"train.lr": 0.005}


def test_the_best_finished_configuration_wins_and_a_tie_goes_to_the_first():
    rows = [{"values": {"a": 1}, "status": "finished", "score": 0.7},
            {"values": {"a": 2}, "status": "stopped", "score": None},
            {"values": {"a": 3}, "status": "finished", "score": 0.9},
            {"values": {"a": 4}, "status": "finished", "score": 0.9}]
    outcome = choose("k", "arm", 0, rows)
    assert outcome.ok and outcome.chosen == {"a": 3} and outcome.score == 0.9
    failed = choose("k", "arm", 0, [{"values": {}, "status": "failed", "error": "boom"}])
    assert not failed.ok and "boom" in failed.error
    assert TuningOutcome.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome


# --- through real Ray Tune -----------------------------------------------------------------

class Phases:
    def __init__(self):
        self.seen = []

    def __call__(self, phase, done, total):
        self.seen.append((phase, done, total))


class Tuner:
    """Tuning through one executor, as the driver runs it."""

    def __init__(self, tuning, executor):
        self.tuning, self.executor, self.ended = tuning, executor, tuning.ended

    def resolve(self, trials, phase, rerun=False):
        return self.tuning.resolve(trials, self.executor, phase, rerun)


def tuner(tmp_path, bench, name="tuning", executor="local", registry=None, warn=None):
    from cryobench.run.local import LocalExecutor
    from cryobench.run.ray.executor import RayExecutor

    settings = WorkerSettings(tmp_path, cache_root(),
                              plugin_modules=("tests.plugins.tuning_plugin",))
    registry = registry or Registry(plugins=[tuning_plugin])
    runner = LocalExecutor(settings, registry=registry) if executor == "local" else \
        RayExecutor(settings, resources=bench.resources, log_file=tmp_path / f"{name}.log",
                    storage=tmp_path / name, registry=registry, tunes=True)
    store = ResultStore(tmp_path / f"{name}.jsonl", TuningOutcome)
    return Tuner(Tuning(store, settings.cache_dir, warn), runner), store


@pytest.mark.slow
def test_asha_stops_poor_configurations_and_a_seeded_search_repeats(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    raw = doc({"configurations": 6, "max_epochs": 4, "grace_period": 1,
               "reduction_factor": 2, "seed": 7,
               "space": {"model.quality": {"uniform": [0.0, 1.0]}}},
              [{"name": "scripted", "model": "scripted"}],
              resources={"cpus_per_trial": 1, "max_concurrent": 1})
    bench = parse_benchmark(raw, Registry(plugins=[tuning_plugin]))
    from cryobench.run.ray.session import ray_session

    trials = expand_trials(bench)
    outcomes = []
    with ray_session(None, tmp_path / "ray.log"):  # one Ray start for every search
        for run, executor in (("first", "ray"), ("second", "local"), ("cut-off", "local"),
                              ("cut-off-ray", "ray")):
            if run.startswith("cut-off"):  # the first search as if stopped after three ended
                ended = (tmp_path / "first-configurations.jsonl").read_text().splitlines()
                assert len(ended) == 6
                (tmp_path / f"{run}-configurations.jsonl").write_text(
                    "\n".join(ended[:3]) + "\n")
            runner, store = tuner(tmp_path, bench, run, executor)
            phases = Phases()
            ready, failed = runner.resolve(trials, phases)
            assert not failed and len(ready) == 1
            outcomes.append(store.finished()[trials[0].key])
            assert ("tuning scripted / seed 0", 0, 6) in phases.seen
            assert phases.seen[-1] == ("tuning scripted / seed 0", 6, 6)
            assert len((tmp_path / f"{run}-configurations.jsonl").read_text().splitlines()) == 6
    # Ray Tune's search and the local one, replayed or not: the same decisions
    assert all(o.configurations == outcomes[0].configurations for o in outcomes)
    outcomes = outcomes[:3]
    first, second, resumed = outcomes
    # the file's own value first, one of the budget
    assert first.configurations[0]["values"] == {"model.quality": 0.5}
    # the three replayed, the scheduler shown the same and deciding the same
    assert resumed.configurations == first.configurations and resumed.chosen == first.chosen
    assert len(first.configurations) == 6  # the whole budget, no more
    stopped = [c for c in first.configurations if c["status"] == "stopped"]
    finished = [c for c in first.configurations if c["status"] == "finished"]
    assert stopped and all(len(c["curve"]) < 4 for c in stopped)
    assert finished and all(len(c["curve"]) == 4 for c in finished)
    best_finished = max(c["values"]["model.quality"] for c in finished)
    assert all(c["values"]["model.quality"] < best_finished for c in stopped)
    assert first.configurations == second.configurations  # the same seed, the same search
    assert first.chosen == second.chosen
    assert ready[0].tuned == first.chosen


@pytest.mark.slow
def test_tuning_never_sees_the_test_split_and_is_not_repeated(tmp_path, monkeypatch):
    from rich.console import Console

    from cryobench.data.splits import holdout_split
    from cryobench.run.driver import run_benchmark
    from cryobench.run.trial import load_data
    from cryobench.run.local import LocalExecutor

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    seen = tmp_path / "seen"
    seen.mkdir()
    registry = Registry(plugins=[tuning_plugin])
    raw = doc({"configurations": 3, "scheduler": "fifo",
               "space": {"model.shrink": {"uniform": [0.0, 1.0]}}},
              [{"name": "a", "model": {"name": "recording", "log_dir": str(seen)}}],
              benchmark={"name": "leak", "seeds": [0, 1]})
    bench = parse_benchmark(raw, registry)
    runner, tuning_store = tuner(tmp_path, bench)
    store = ResultStore(tmp_path / "leak.jsonl")
    settings = WorkerSettings(tmp_path, cache_root())
    records = run_benchmark(bench, store, LocalExecutor(settings, registry=registry),
                            Console(record=True), tuner=runner.tuning)
    assert [r.ok and r.tuned for r in records] == [True] * 2

    trials = expand_trials(bench)
    data = load_data(trials[0].dataset, settings.environment(registry))
    logs = [json.loads(p.read_text()) for p in sorted(seen.iterdir())]
    for seed in (0, 1):
        split = holdout_split(data.labels, 0.2, 0.1, seed, data.class_names)
        test = set(tuning_plugin.particle_hashes(data.volumes[split.test]))
        mine = [log for log in logs if log["seed"] == seed]
        fits = [set(log["hashes"]) for log in mine if log["phase"] == "fit"]
        predicted = [set(log["hashes"]) for log in mine if log["phase"] == "predict"]
        # three configurations; the trial takes the chosen one's fit (the same epochs)
        assert len(fits) == 3
        assert not any(test & f for f in fits)  # nothing fitted on this seed's test split
        # the test split is predicted once per trial, by the trained model; tuning
        # predicted the validation part only
        assert sum(p == test for p in predicted) == 1
        assert not any(test & p for p in predicted if p != test)
        assert sum(len(p) == len(split.val) for p in predicted) == 3

    outcomes = tuning_store.finished()
    assert {len(o.configurations) for o in outcomes.values()} == {3}  # an equal budget
    for record in records:
        assert record.tuning["reused_fit"] is True
        assert 0.0 <= record.tuning["chosen"]["model.shrink"] <= 1.0
        assert record.config["tuned"] == record.tuning["chosen"]
    before = len(list(seen.iterdir()))
    store.path.unlink()  # the trials run again, but their tuning is read back
    run_benchmark(bench, store, LocalExecutor(settings, registry=registry),
                  Console(record=True), tuner=runner.tuning)
    # 2 fits + 2 predictions, no tuning: a kept fit is used once
    assert len(list(seen.iterdir())) == before + 2 * 2
    assert not list((tmp_path / "cache" / "fitted").iterdir())  # the others dropped


@pytest.mark.slow
def test_the_trial_that_takes_tunings_fit_scores_as_one_trained_again(tmp_path, monkeypatch):
    """The chosen configuration trained by the search for the trial's whole budget is
    the trial's training: taking it gives the record that training it again gives."""
    from rich.console import Console

    from cryobench.run.driver import run_benchmark
    from cryobench.run.local import LocalExecutor

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    registry = Registry()
    raw = doc({"configurations": 2, "scheduler": "fifo",
               "space": {"train.lr": {"loguniform": [1e-3, 1e-2]}}},
              [{"name": "cnn", "model": "cnn"}], train={"max_epochs": 2, "batch_size": 8})
    bench = parse_benchmark(raw, registry)
    runner, _ = tuner(tmp_path, bench)
    settings = WorkerSettings(tmp_path, cache_root())
    store = ResultStore(tmp_path / "reuse.jsonl")
    run = lambda: run_benchmark(bench, store, LocalExecutor(settings, registry=registry),  # noqa: E731
                                Console(record=True), tuner=runner.tuning)
    taken, = run()
    assert taken.ok and taken.tuning["reused_fit"] is True
    store.path.unlink()  # tuning is read back; its kept fit was used, so it trains
    again, = run()
    assert again.ok and "reused_fit" not in again.tuning
    assert taken.metrics == again.metrics and taken.confusion == again.confusion
    assert taken.fit["history"] == again.fit["history"]
    assert taken.machine == again.machine and taken.machine["cpu_isa"]  # the search's

    # a search shorter than the trial's budget keeps nothing: the trial trains
    short = parse_benchmark({**raw, "tune": {**raw["tune"], "max_epochs": 1}}, registry)
    runner, _ = tuner(tmp_path, short, "short")
    record, = run_benchmark(short, ResultStore(tmp_path / "short.jsonl"),
                            LocalExecutor(settings, registry=registry), Console(record=True),
                            tuner=runner.tuning)
    assert record.ok and "reused_fit" not in record.tuning
    assert not list((tmp_path / "cache" / "fitted").iterdir())


@pytest.mark.slow
def test_a_search_cut_off_replays_the_configurations_that_ended(tmp_path, monkeypatch):
    from cryobench.run.ray.session import ray_session

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    seen = tmp_path / "seen"
    seen.mkdir()
    # a grid of three (tried once each, not once per sample)
    raw = doc({"configurations": 3, "scheduler": "fifo",
               "space": {"model.shrink": {"choice": [0.0, 0.5, 1.0]}}},
              [{"name": "a", "model": {"name": "recording", "log_dir": str(seen)}}],
              resources={"cpus_per_trial": 1, "max_concurrent": 1})
    bench = parse_benchmark(raw, Registry(plugins=[tuning_plugin]))
    trials = expand_trials(bench)
    fits = lambda: len(list(seen.glob("*.fit-*.json")))  # noqa: E731
    with ray_session(None, tmp_path / "ray.log"):
        runner, store = tuner(tmp_path, bench, "whole", "ray")
        runner.resolve(trials, Phases())
        assert fits() == 3
        ended = runner.ended.path.read_text().splitlines()
        # cut off after two ended: a line half written is skipped, the third trains again
        resumed_file = tmp_path / "resumed-configurations.jsonl"
        resumed_file.write_text("\n".join(ended[:2]) + "\n" + ended[2][:40])
        runner, resumed = tuner(tmp_path, bench, "resumed", "ray")
        runner.resolve(trials, Phases())
        assert fits() == 4
        again, _ = tuner(tmp_path, bench, "again", "ray")  # --rerun: the search is run whole
        (tmp_path / "again-configurations.jsonl").write_text(resumed_file.read_text())
        again.resolve(trials, Phases(), rerun=True)
        assert fits() == 7
        # kept by a search whose configurations reported in another order, where the
        # scheduler stopped sample 0 after its first epoch; this one lets it go on
        lines = [json.loads(line) for line in again.ended.path.read_text().splitlines()
                 if line.endswith("}")]  # not the half-written line left as it was
        for line in lines:
            if line["sample"] == 0:
                line["reports"] = line["reports"][:1]
        (tmp_path / "reordered-configurations.jsonl").write_text(
            "".join(json.dumps(line) + "\n" for line in lines))
        runner, reordered = tuner(tmp_path, bench, "reordered", "ray")
        runner.resolve(trials, Phases())
        assert fits() == 8  # sample 0 trained again and reported on; the others replayed
    kept = again.ended.read().records.values()
    assert sorted(r.sample for r in kept) == [0, 1, 2]  # the old search's forgotten
    whole = store.finished()[trials[0].key]
    assert resumed.finished()[trials[0].key].configurations == whole.configurations
    assert reordered.finished()[trials[0].key].configurations == whole.configurations
    assert [c["status"] for c in whole.configurations] == ["finished"] * 3
    assert [c["values"]["model.shrink"] for c in whole.configurations] == [0.0, 0.5, 1.0]


class FakeTrial:
    def __init__(self, number, config, error=None):
        self.trial_id, self.config, self.error = f"abcde_{number:05d}", config, error

    def get_error(self):
        return self.error


def test_what_a_configuration_ends_with_is_kept_for_replay_unless_its_worker_failed():
    """Finished, stopped and failed as it would fail again (diverged, refused: it
    reports so) are kept, with their sample number. A worker that failed twice (memory,
    a node lost) may not fail a third time: a later search tries it again. A worker
    tried again reports from the start, so its first attempt's reports are dropped."""
    from cryobench.run.ray.search import collect_callback
    from cryobench.run.search import SearchLog

    kept = []
    log = SearchLog(lambda done: None, lambda *args: kept.append(args))
    collect = collect_callback(log)
    diverged = "the training loss is nan in epoch 2: training diverged"
    runs = {0: [{"val_macro_f1": 0.4, "tuning_step": 1}, {"val_macro_f1": 0.5,
                                                           "selection": 0.5}],
            1: [{"val_macro_f1": 0.0, "error": diverged}],
            2: [{"val_macro_f1": 0.1, "tuning_step": 1}],  # then stopped by ASHA
            3: [{"val_macro_f1": 0.2, "tuning_step": 1}],  # then its worker dies twice
            4: [{"val_macro_f1": 0.3, "tuning_step": 1}]}  # dies, then is trained whole
    for number, results in runs.items():
        trial = FakeTrial(number, {"train.lr": 0.001 * (number + 1)},
                          "Traceback (most recent call last):\n  ...\nMemoryError: out")
        collect.on_trial_start(0, [], trial)
        for result in results:
            collect.on_trial_result(0, [], trial, {**result, "time_total_s": 1.0})
        if number == 3:
            collect.on_trial_error(0, [], trial)
            continue
        if number == 4:
            collect.on_trial_recover(0, [], trial)
            for result in runs[0]:
                collect.on_trial_result(0, [], trial, {**result, "time_total_s": 1.0})
        collect.on_trial_complete(0, [], trial)
    assert [n for n, _, _ in kept] == [0, 1, 2, 4]
    assert [r for _, _, r in kept] == [runs[0], runs[1], runs[2], runs[0]]
    rows = log.configurations()
    assert [c["status"] for c in rows] == ["finished", "failed", "stopped", "failed",
                                           "finished"]
    assert rows[1]["error"] == diverged
    assert rows[3]["error"] == "the worker failed twice: MemoryError: out"
    assert rows[4]["curve"] == [0.4] and rows[4]["score"] == 0.5


def test_forgetting_a_search_keeps_every_other_line(tmp_path):
    from cryobench.run.tuning import EndedConfiguration, configurations_store, forget_search

    store = configurations_store(ResultStore(tmp_path / "b.tuning.jsonl", TuningOutcome))
    for trial, sample in (("t1", 0), ("t2", 0), ("t1", 1)):
        store.append(EndedConfiguration(f"{trial}/{sample}", trial, sample, {"a": 1}, []))
    with open(store.path, "ab") as handle:
        handle.write(b"not json")  # a line cut short: left as it is
    forget_search(store, "t1")
    assert [r.trial for r in store.read().records.values()] == ["t2"]
    assert store.path.read_bytes().endswith(b"not json\n")
    assert store.path.name == "b.tuning-configurations.jsonl"


def test_a_replayed_configuration_that_goes_on_reports_only_what_was_not_replayed(
        tmp_path, monkeypatch):
    """Stopped at step 2 by an earlier search: trained again, its deferred epochs and
    steps 1-2 are not reported twice; the rest, later members included, are. The
    budget's last epoch is never a step (deferred epochs are not counted, so a rung
    could fall on it): a configuration trained whole is judged by its selection score."""
    from cryobench.api import EpochRecord
    from cryobench.run import search
    from cryobench.run.tuning import values_key

    script = [{"epoch": 1, "val_macro_f1": 0.1, "deferred": True},
              {"epoch": 2, "val_macro_f1": 0.2, "deferred": True},
              {"epoch": 3, "val_macro_f1": 0.3}, {"epoch": 4, "val_macro_f1": 0.4},
              {"epoch": 5, "val_macro_f1": 0.5}, {"epoch": 6, "val_macro_f1": 0.55},
              {"epoch": 1, "val_macro_f1": 0.6, "member": 2}]

    def fit(trial, env, config, fits=None):
        for record in script:
            env.on_epoch(EpochRecord.from_dict(record))
        return 0.9

    reported = []
    monkeypatch.setattr(search, "validation_score", fit)
    monkeypatch.setattr(search, "check_candidate", lambda trial, env: None)
    trial = expand_trials(parse_benchmark(doc({"space": SPACE, "max_epochs": 6,
                                               "grace_period": 1}), Registry()))[0]
    config = {"train.lr": 0.001}
    earlier = [{"val_macro_f1": 0.1}, {"val_macro_f1": 0.2},
               {"tuning_step": 1, "val_macro_f1": 0.3}, {"tuning_step": 2, "val_macro_f1": 0.4}]
    env = WorkerSettings(tmp_path, tmp_path).environment(Registry())
    search.train_configuration(trial, config, env, reported.append,
                               (values_key(config), earlier))
    rest = [{"val_macro_f1": 0.55}, {"val_macro_f1": 0.6},
            {"val_macro_f1": 0.9, "selection": 0.9}]
    assert reported == earlier + [{"tuning_step": 3, "val_macro_f1": 0.5}] + rest
    reported.clear()  # stopped at its last step: the last epoch, never a step, goes on
    stopped_last = earlier + [{"tuning_step": 3, "val_macro_f1": 0.5}]
    search.train_configuration(trial, config, env, reported.append,
                               (values_key(config), stopped_last))
    assert reported == stopped_last + rest
    reported.clear()  # not replayed: everything
    search.train_configuration(trial, config, env, reported.append)
    assert [r.get("tuning_step") for r in reported] == [None, None, 1, 2, 3, None, None,
                                                        None]


def test_a_local_run_tunes_in_its_own_process_without_ray(tmp_path):
    """`--executor local` runs the searches too: no Ray is imported or started, and the
    tuned trials take what the search chose."""
    import os
    import subprocess
    import sys
    import textwrap

    from tests.run.test_ray_cluster import BENCH

    bench = tmp_path / "local.toml"  # the tiny benchmark, tuned
    bench.write_text(BENCH.replace('name = "tiny"', 'name = "local"') + textwrap.dedent("""
        [tune]
        configurations = 2
        scheduler = "fifo"
        space = { "train.lr" = { loguniform = [1e-3, 1e-2] } }
    """))
    script = ("import sys; from cryobench.cli.app import main\n"
              "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
              "print('ray imported' if 'ray' in sys.modules else 'no ray')\n"
              "sys.exit(code)\n")
    env = {**os.environ, "CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", script, "run", str(bench), "--executor", "local",
         "--no-tracking", "--results", str(tmp_path / "res")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("no ray")
    outcome, = [json.loads(line) for line in
                (tmp_path / "res" / "local.tuning.jsonl").read_text().splitlines()]
    record, = [json.loads(line) for line in
               (tmp_path / "res" / "local.jsonl").read_text().splitlines()]
    assert outcome["status"] == "ok" and len(outcome["configurations"]) == 2
    assert record["config"]["tuned"] == outcome["chosen"]
    assert not (tmp_path / "res" / "local.ray.log").exists()


def test_asha_judges_the_first_network_of_an_ensemble_that_does_not_tag_its_members(
        tmp_path, monkeypatch):
    """The documented example ensemble (two members, untagged) under ASHA, end to end:
    the core numbers its networks, the scheduler judges the first one's epochs only, so
    what ASHA lets through trains both members whole, and one of those is chosen."""
    from tests.plugins import docs_contract_plugin

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    registry = Registry(plugins=[tuning_plugin, docs_contract_plugin])
    raw = doc({"configurations": 6, "max_epochs": 4, "grace_period": 1,
               "reduction_factor": 2, "seed": 1,
               "space": {"model.quality": {"uniform": [0.0, 1.0]}}},
              [{"name": "twice", "model": "scripted", "ensemble": "twice"}])
    bench = parse_benchmark(raw, registry)
    runner, store = tuner(tmp_path, bench, registry=registry)
    ready, failed = runner.resolve(expand_trials(bench), Phases())
    assert not failed
    outcome = store.finished()[ready[0].key]
    rows = outcome.configurations
    finished = [c for c in rows if c["status"] == "finished"]
    stopped = [c for c in rows if c["status"] == "stopped"]
    assert finished and stopped  # ASHA stopped some, within the first member
    assert all(len(c["curve"]) == 2 * 4 for c in finished)  # both members, every epoch
    assert all(len(c["curve"]) < 4 for c in stopped)
    steps = [r.get("tuning_step") for line in runner.ended.read().records.values()
             for r in line.reports]
    assert max(s for s in steps if s is not None) == 3  # the first network's, not the last
    assert outcome.chosen in [c["values"] for c in finished]


def test_a_local_search_stops_whatever_a_plugin_catches_and_retries_a_failure_once(
        tmp_path, monkeypatch):
    """ASHA's stop ends a configuration even when the plugin catches every exception or
    turns it into its own error (as Ray's scheduler stops the worker); a configuration
    that raises is tried once more, then recorded as failed and not kept."""
    from cryobench.api import EpochRecord
    from cryobench.errors import CryobenchError
    from cryobench.run import search
    from cryobench.run.search import Search, SearchLog, search_here

    calls = {}

    def fit(trial, env, values, keep=None):
        lr = values["train.lr"]
        calls[lr] = calls.get(lr, 0) + 1
        for epoch in range(1, 5):
            record = EpochRecord(epoch, {"val_macro_f1": 0.1 if lr in (2e-3, 3e-3) else 0.9})
            if lr == 2e-3:  # turns everything into its own error
                try:
                    env.on_epoch(record)
                except BaseException as exc:
                    raise CryobenchError("the plugin's own error") from exc
            elif lr == 3e-3:  # swallows everything
                try:
                    env.on_epoch(record)
                except BaseException:
                    pass
            else:
                env.on_epoch(record)
        if lr == 5e-3 or (lr == 4e-3 and calls[lr] == 1):
            raise RuntimeError("a plugin's bug")
        return 0.5

    monkeypatch.setattr(search, "validation_score", fit)
    monkeypatch.setattr(search, "check_candidate", lambda trial, env: None)
    trial = expand_trials(parse_benchmark(doc({
        "space": {"train.lr": {"loguniform": [1e-4, 1e-2]}}, "max_epochs": 4,
        "grace_period": 1, "reduction_factor": 2}), Registry()))[0]
    kept = []
    log = SearchLog(None, lambda sample, values, reports: kept.append(sample))
    lrs = [1e-3, 2e-3, 3e-3, 4e-3, 5e-3]
    search_here(Search(trial, [{"train.lr": lr} for lr in lrs], {}, log, "t",
                       lambda: None, lambda: None),
                WorkerSettings(tmp_path, tmp_path).environment(Registry()), None)
    rows = log.configurations()
    assert [r["status"] for r in rows] == ["finished", "stopped", "stopped", "finished",
                                           "failed"]
    assert rows[4]["error"] == "it failed twice: RuntimeError: a plugin's bug"
    assert calls == {1e-3: 1, 2e-3: 1, 3e-3: 1, 4e-3: 2, 5e-3: 2}
    assert kept == [0, 1, 2, 3]  # the failed one is tried again by a later search
    assert [len(r["curve"]) for r in rows[1:3]] == [1, 1]  # stopped at the first rung
    assert len(rows[3]["curve"]) == 4  # tried again from its start: reported once


def test_damaged_tuning_files_are_said_and_a_full_disk_stops_the_search_at_once(
        tmp_path, monkeypatch):
    """A cut line in the file of ended configurations is one warning (and trains again);
    a configuration that cannot be kept stops the search before it trains the others,
    which could not be kept either."""
    from cryobench.errors import CryobenchError
    from cryobench.run import search

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    raw = doc({"configurations": 4, "scheduler": "fifo", "seed": 2,
               "space": {"model.quality": {"uniform": [0.0, 1.0]}}},
              [{"name": "scripted", "model": "scripted"}])
    bench = parse_benchmark(raw, Registry(plugins=[tuning_plugin]))
    trials = expand_trials(bench)
    runner, _ = tuner(tmp_path, bench, "whole")
    runner.resolve(trials, Phases())
    ended = (tmp_path / "whole-configurations.jsonl").read_text().splitlines()
    (tmp_path / "cut-configurations.jsonl").write_text("\n".join(ended[:2]) + "\n{\"key\": ")
    said = []
    runner, store = tuner(tmp_path, bench, "cut", warn=said.append)
    runner.resolve(trials, Phases())
    assert len(said) == 1 and "cut-configurations.jsonl: skipped unreadable line 3" in said[0]
    assert "trained again" in said[0]
    assert store.finished()[trials[0].key].configurations == \
        json.loads((tmp_path / "whole.jsonl").read_text())["configurations"]

    trained = []
    score = search.validation_score
    monkeypatch.setattr(search, "validation_score",
                        lambda *args, **kw: trained.append(1) or score(*args, **kw))
    runner, store = tuner(tmp_path, bench, "full")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cryobench.run.results.os.fsync", full)
    with pytest.raises(CryobenchError, match="cannot save the result of the tuning "
                                             "configuration .*/0 \\(No space left"):
        runner.resolve(trials, Phases())
    assert len(trained) == 1 and not store.path.exists()
