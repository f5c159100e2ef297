"""MLflow failing as it does for users: two runs creating one experiment at once, a run
killed with SIGKILL (the out-of-memory killer), a server that goes down mid-run. Real
MLflow (SQLite, a real server) throughout; the training is never lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from cryobench.run.results import ResultStore
from tests.test_cli import cli, cli_process
from tests.tracking.test_mlflow import (LONG_SECOND_ARM, client, env, free_port, interruptible,
                                        wait_for, write)


@pytest.mark.slow
def test_two_runs_creating_the_same_new_experiment_at_once_both_finish(tmp_path):
    bench = write(tmp_path, epochs=1)
    bench.write_text(bench.read_text().replace("seeds = [0, 1]", "seeds = [0]"))
    outcomes: dict[str, subprocess.CompletedProcess] = {}

    def run(name: str) -> None:  # other result folders, one fresh store
        outcomes[name] = cli_process("run", str(bench), "--executor", "local", "--results",
                                     str(tmp_path / name), env=env(tmp_path))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, outcome in outcomes.items():
        assert outcome.returncode == 0, f"{name}: {outcome.stderr}"
    c = client(tmp_path)
    (experiment,) = c.search_experiments(filter_string="name = 'tracked'")
    invocations = c.search_runs([experiment.experiment_id], "tags.cryobench_kind = 'invocation'")
    assert sorted(r.info.status for r in invocations) == ["FINISHED", "FINISHED"]


RACE = """
import sys, time
from pathlib import Path
from cryobench.config import parse_benchmark
from cryobench.registry import Registry
from cryobench.tracking.mlflow import MlflowTracker

bench = parse_benchmark({"benchmark": {"name": "raced"}, "dataset": {"source": "synthetic"},
                         "arm": [{"name": "cnn", "model": "cnn"}]}, Registry())
while time.time() < float(sys.argv[2]):  # both processes go at the same moment
    time.sleep(0.001)
tracker = MlflowTracker(sys.argv[1], bench)
tracker.check()
tracker.start("", {})
tracker.end_parent("FINISHED")
"""


@pytest.mark.slow
def test_two_processes_opening_one_new_store_at_once_both_succeed(tmp_path):
    """Opening a new SQLite store creates and migrates its tables; two processes doing so
    at the same moment broke each other's migration (a traceback from alembic)."""
    for attempt in range(3):
        uri = f"sqlite:///{tmp_path / f'fresh{attempt}.db'}"
        at = str(time.time() + 8)  # after both have imported MLflow
        both = [subprocess.Popen([sys.executable, "-c", RACE, uri, at],
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for process in both:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err[-2000:]
        from mlflow import MlflowClient

        c = MlflowClient(uri)
        experiment = c.get_experiment_by_name("raced").experiment_id
        assert len(c.search_runs([experiment], "attributes.status = 'FINISHED'")) == 2


@pytest.mark.slow
def test_runs_left_running_by_a_sigkilled_run_are_ended_by_the_resumed_run(tmp_path):
    bench = tmp_path / "tracked.toml"
    bench.write_text(LONG_SECOND_ARM)
    results = tmp_path / "res" / "tracked.jsonl"
    with interruptible("run", str(bench), "--executor", "local", "--results",
                       str(tmp_path / "res"), env=env(tmp_path), cwd=tmp_path) as process:
        # its first trial saved and its MLflow run written whole (not cut short itself)
        wait_for(lambda: results.exists() and results.read_text().strip()
                 and finished_trials(tmp_path), process)
        process.kill()  # SIGKILL, as the out-of-memory killer sends it
        process.communicate(timeout=60)
    c = client(tmp_path)
    experiment = c.get_experiment_by_name("tracked").experiment_id
    # its invocation's run, and a trial's run if the kill cut one short while it was written
    running = c.search_runs([experiment], "attributes.status = 'RUNNING'")
    (killed,) = [r for r in running if r.data.tags["cryobench_kind"] == "invocation"]
    assert {r.data.tags["cryobench_kind"] for r in running} <= {"invocation", "trial"}

    again = cli("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"),
                env=env(tmp_path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (f"ended {len(running)} MLflow run(s) that an earlier run on {results} left "
            "RUNNING (it was killed, or its store failed) as KILLED"
            ) in " ".join(again.stdout.split())
    assert {c.get_run(r.info.run_id).info.status for r in running} == {"KILLED"}
    assert not c.search_runs([experiment], "attributes.status = 'RUNNING'")


def finished_trials(tmp_path: Path) -> int:
    if not (tmp_path / "mlflow.db").exists():
        return 0
    c = client(tmp_path)
    experiment = c.get_experiment_by_name("tracked")
    return experiment is not None and len(c.search_runs(
        [experiment.experiment_id], "tags.cryobench_kind = 'trial' and "
                                    "attributes.status = 'FINISHED'"))


def start_server(store: Path, port: int, log: Path) -> subprocess.Popen:
    """A real MLflow server on 127.0.0.1, in a process group of its own."""
    with open(log, "a") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
             f"sqlite:///{store}", "--default-artifact-root", str(store.parent / "art"),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            assert server.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
    raise AssertionError("the MLflow server did not start")


def stop_server(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait(timeout=60)


@pytest.mark.slow
def test_a_server_that_fails_mid_run_costs_no_training_and_sync_logs_the_rest(tmp_path):
    bench = tmp_path / "tracked.toml"
    bench.write_text(LONG_SECOND_ARM)
    port, store = free_port(), tmp_path / "server.db"
    uri = f"http://127.0.0.1:{port}"
    server = start_server(store, port, tmp_path / "server.log")
    results = tmp_path / "res" / "tracked.jsonl"
    try:
        with interruptible("run", str(bench), "--executor", "local", "--results",
                           str(tmp_path / "res"), "--tracking-uri", uri,
                           env={**env(tmp_path), "COLUMNS": "400"}, cwd=tmp_path) as process:
            # the first arm's two short trials are logged, then the server dies
            wait_for(lambda: results.exists() and len(results.read_text().splitlines()) >= 2,
                     process, timeout=300)
            stop_server(server)
            out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        assert len(ResultStore(results).finished()) == 4  # every trial trained and saved
        warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == 2, err
        assert warnings[0].startswith(f"warning: MLflow store {uri} failed (")
        assert "the run goes on without it and every result is saved" in warnings[0]
        sync = (f"cryobench sync {bench} --results {tmp_path / 'res'} --tracking-uri {uri}")
        assert f"run `{sync}` when it works again" in warnings[1]
        assert "Traceback" not in err and "MLflow leaderboard:" not in out

        server = start_server(store, port, tmp_path / "server.log")
        synced = cli("sync", str(bench), "--results", str(tmp_path / "res"),
                     "--tracking-uri", uri, env=env(tmp_path))
        assert synced.returncode == 0, synced.stderr
        from mlflow import MlflowClient

        c = MlflowClient(uri)
        experiment = c.get_experiment_by_name("tracked").experiment_id
        trials = c.search_runs([experiment], "tags.cryobench_kind = 'trial' and "
                                             "attributes.status = 'FINISHED'")
        assert len({r.data.tags["trial_key"] for r in trials}) == 4
        # the failed run's own run, left RUNNING when its server died, ended by the sync
        assert not c.search_runs([experiment], "attributes.status = 'RUNNING'")
        # its invocation's run (and a trial's, if the server died while it was written)
        assert re.search(r"ended [12] MLflow run\(s\) that an earlier run", synced.stdout)
    finally:
        stop_server(server)
