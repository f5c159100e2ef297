"""The Ray Tune executor, through real Ray: trials at once, the local executor's numbers."""

from __future__ import annotations

import pytest

from cryobench.config import parse_benchmark
from cryobench.data.cache import cache_root
from cryobench.registry import Registry
from cryobench.run.trial import WorkerSettings
from cryobench.run.local import LocalExecutor
from cryobench.run.ray.executor import RayExecutor
from cryobench.run.results import ResultStore
from tests.test_cli import cli

DOC = {
    "benchmark": {"name": "ray", "seeds": [0, 1]},
    "dataset": {"source": "synthetic", "box": 12, "voxel_size": 4.0, "snr": 5.0,
                "class_counts": {"TRiC": 12, "ribosome": 12}},
    "train": {"max_epochs": 2, "batch_size": 8},
    "resources": {"cpus_per_trial": 1},
    "arm": [{"name": "cnn", "model": {"name": "cnn", "widths": [4, 4, 4]}}],
}


class Events:
    """A sink that remembers what the executor reported, in order."""

    def __init__(self):
        self.log, self.records = [], {}

    def phase(self, phase, done, total):
        pass

    def started(self, trial):
        self.log.append(("started", trial.seed))

    def epoch(self, trial, record):
        self.log.append(("epoch", trial.seed, record.epoch))

    def finished(self, trial, record):
        self.log.append(("finished", trial.seed))
        self.records[trial.key] = record


@pytest.mark.slow
def test_two_trials_at_once_through_ray_give_the_local_executors_numbers(tmp_path,
                                                                         monkeypatch):
    from cryobench.run.plan import expand_trials

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    bench = parse_benchmark(DOC, Registry())
    trials = expand_trials(bench)
    settings = WorkerSettings(tmp_path, cache_root())
    through_ray = Events()
    RayExecutor(settings, resources=bench.resources, log_file=tmp_path / "ray.log",
                storage=tmp_path / "tune").run(trials, through_ray)
    local = Events()
    LocalExecutor(settings).run(trials, local)

    starts = [i for i, e in enumerate(through_ray.log) if e[0] == "started"]
    first_finish = next(i for i, e in enumerate(through_ray.log) if e[0] == "finished")
    assert len(starts) == 2 and max(starts) < first_finish  # both ran at once
    assert sum(e[0] == "epoch" for e in through_ray.log) == 2 * 2  # epochs reported live
    for trial in trials:
        ours, theirs = through_ray.records[trial.key], local.records[trial.key]
        assert ours.ok and ours.metrics == theirs.metrics
        assert ours.confusion == theirs.confusion and ours.history == theirs.history
    assert "Started a local Ray instance" in (tmp_path / "ray.log").read_text()


def test_an_address_that_does_not_answer_is_one_line_before_any_work(tmp_path):
    bench = tmp_path / "b.toml"
    bench.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "synthetic"\nbox = 12\n'
                     '[[arm]]\nname = "cnn"\nmodel = "cnn"\n')
    result = cli("run", str(bench), "--results", str(tmp_path / "res"), "--address",
                 "127.0.0.1:9", env={"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --address: nothing answers at 127.0.0.1:9 (Connection refused); check the "
        "address, or start the head node there with `ray start --head`")
    assert not list((tmp_path / "cache").glob("synthetic-*"))  # nothing was simulated
    assert ResultStore(tmp_path / "res" / "b.jsonl").read().records == {}


@pytest.mark.slow
def test_a_worker_that_dies_is_retried_once_then_recorded_as_failed(tmp_path, monkeypatch):
    from cryobench.run.plan import expand_trials
    from tests.plugins import crash_plugin

    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    doc = dict(DOC, benchmark={"name": "crash", "seeds": [0]},
               arm=[{"name": "crash", "model": "crash"}])
    registry = Registry(plugins=[crash_plugin])
    trials = expand_trials(parse_benchmark(doc, registry))
    settings = WorkerSettings(tmp_path, cache_root(),
                              plugin_modules=("tests.plugins.crash_plugin",))
    events = Events()
    RayExecutor(settings, resources=parse_benchmark(doc, registry).resources,
                log_file=tmp_path / "ray.log", storage=tmp_path / "tune",
                registry=registry).run(trials, events)
    (record,) = events.records.values()
    assert record.status == "failed"
    assert record.error.startswith("the worker failed twice: ")
    assert [e[0] for e in events.log].count("started") == 2  # the retry started it again


def test_tunes_own_ctrl_c_handler_stays_off_whatever_the_environment_says(
        tmp_path, monkeypatch):
    """With Tune's handler, Ctrl-C would end a search as if it had finished, and its
    partial outcome would be kept; the user's other Ray settings are theirs."""
    import os

    import ray

    from cryobench.run.ray.session import ray_session

    monkeypatch.setenv("TUNE_DISABLE_SIGINT_HANDLER", "0")
    monkeypatch.setenv("RAY_DEDUP_LOGS", "1")
    monkeypatch.setattr(ray, "is_initialized", lambda: True)  # a session already open
    with ray_session(None, tmp_path / "ray.log"):
        assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"
        assert os.environ["RAY_DEDUP_LOGS"] == "1"
