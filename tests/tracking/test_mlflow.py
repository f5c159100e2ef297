"""MLflow mirrors the result file: experiment, parent, children, summaries, artifacts;
the leaderboard read back from MLflow equals the one from the result file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.test_cli import cli, cli_process

BENCH = """\
[benchmark]
name = "tracked"
seeds = [0, 1]
[dataset]
source = "synthetic"
box = 12
voxel_size = 4.0
snr = 5.0
class_counts = {{ TRiC = 12, ribosome = 12 }}
[train]
max_epochs = {epochs}
batch_size = 8
[[arm]]
name = "cnn"
model = {{ name = "cnn", widths = [4, 4, 4] }}
[[arm]]
name = "cnn + focal"
model = {{ name = "cnn", widths = [4, 4, 4] }}
loss = "focal"
[reference.arms]
"cnn" = {{ macro_f1 = 68.1 }}
"""


LONG_SECOND_ARM = BENCH.format(epochs=2).replace(
    'loss = "focal"', 'loss = "focal"\ntrain = { max_epochs = 40 }')


def write(tmp_path: Path, epochs: int = 2) -> Path:
    path = tmp_path / "tracked.toml"
    path.write_text(BENCH.format(epochs=epochs))
    return path


def env(tmp_path: Path) -> dict[str, str]:
    return {"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}


def client(tmp_path: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


def runs(tmp_path: Path, kind: str):
    c = client(tmp_path)
    experiment = c.get_experiment_by_name("tracked")
    return c.search_runs([experiment.experiment_id], f"tags.cryobench_kind = '{kind}'")


@pytest.mark.slow
def test_every_trial_is_recorded_and_the_leaderboards_agree(tmp_path):
    bench = write(tmp_path)
    result = cli("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"),
                 env=env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    c = client(tmp_path)
    experiment = c.get_experiment_by_name("tracked")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    (parent,) = runs(tmp_path, "invocation")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["plugin.model.cnn"].startswith("cryobench ")
    children = runs(tmp_path, "trial")
    assert len(children) == 4 and {r.info.status for r in children} == {"FINISHED"}
    child = next(r for r in children if r.data.tags["arm"] == "cnn + focal")
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.params["loss.name"] == "focal" and child.data.params["loss.gamma"] == "2.0"
    assert child.data.tags["machine.cpu_isa"] and child.data.tags["machine.torch"]
    assert {"macro_f1", "macro_gmean", "f1_TRiC", "recall_ribosome", "fit_seconds"} <= \
        set(child.data.metrics)
    history = c.get_metric_history(child.info.run_id, "train_loss")
    assert [m.step for m in history] == [1, 2]
    artifacts = {a.path for a in c.list_artifacts(child.info.run_id)}
    assert {"confusion.png", "learning_curve.png", "per_class.md", "record.json"} <= artifacts
    assert {a.path for a in c.list_artifacts(parent.info.run_id)} >= {"leaderboard.md",
                                                                     "benchmark.toml"}

    summaries = {r.data.tags["arm"]: r.data.metrics for r in runs(tmp_path, "summary")}
    board = json.loads(cli("leaderboard", str(bench), "--results", str(tmp_path / "res"),
                           "--format", "json", env=env(tmp_path)).stdout)
    for row in board:
        from_children = [r.data.metrics["macro_f1"] for r in children
                         if r.data.tags["arm"] == row["arm"]]
        assert sum(from_children) / 2 == pytest.approx(row["macro_f1_mean"])
        assert summaries[row["arm"]]["macro_f1_mean"] == pytest.approx(row["macro_f1_mean"])
        assert summaries[row["arm"]]["macro_f1_ci_low"] == pytest.approx(row["macro_f1_ci_low"])
    assert summaries["cnn"]["paper_macro_f1"] == pytest.approx(0.681)
    assert (f"#/experiments/{experiment.experiment_id}/runs?viewStateShareKey="
            "cryobench-leaderboard-macro_f1&workflowType=machine_learning") in result.stdout
    view = json.loads(c.get_experiment(experiment.experiment_id).tags[
        "mlflow.sharedViewState.cryobench-leaderboard-macro_f1"])
    assert view["searchFilter"] == "tags.cryobench_kind = 'summary'"
    assert view["orderByKey"] == "metrics.`macro_f1_mean`" and view["orderByAsc"] is False
    assert view["selectedColumns"] == [
        "metrics.`macro_f1_mean`", "metrics.`macro_f1_std`", "metrics.`macro_gmean_mean`",
        "metrics.`macro_gmean_std`", "metrics.`n`"]

    # the report goes to the invocation's run, beside the leaderboard
    made = cli("report", str(bench), "--results", str(tmp_path / "res"), env=env(tmp_path),
               cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"logged to MLflow run {parent.info.run_id}" in made.stdout
    logged = {a.path for a in c.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html", "report/figures"} <= logged


def test_a_tracking_server_that_does_not_answer_is_one_line_before_any_work(tmp_path):
    bench = write(tmp_path)
    result = cli("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"),
                 "--tracking-uri", "http://127.0.0.1:9", env=env(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: MLflow store http://127.0.0.1:9: cannot be used (")
    assert not list((tmp_path / "cache").glob("synthetic-*"))


@pytest.mark.slow
def test_ctrl_c_leaves_nothing_running_and_a_rerun_completes_the_rest(tmp_path):
    # the first arm's trials are short, the second's long: Ctrl-C lands while a trial
    # is running, not after the last one, however loaded the machine is
    bench = tmp_path / "tracked.toml"
    bench.write_text(LONG_SECOND_ARM)
    results = tmp_path / "res" / "tracked.jsonl"
    with interruptible("run", str(bench), "--executor", "local", "--results",
                       str(tmp_path / "res"), env=env(tmp_path), cwd=tmp_path) as process:
        wait_for(lambda: results.exists() and results.read_text().strip(), process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted; " in err and "run the same command again" in err
    c = client(tmp_path)
    experiment = c.get_experiment_by_name("tracked")
    statuses = [r.info.status for r in c.search_runs([experiment.experiment_id])]
    assert "RUNNING" not in statuses and "KILLED" in statuses
    # the leaderboard link worked from the start, not only after a run that ended
    assert "mlflow.sharedViewState.cryobench-leaderboard-macro_f1" in experiment.tags
    saved = len(results.read_text().splitlines())
    assert 1 <= saved < 4

    again = cli("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"),
                env={**env(tmp_path), "COLUMNS": "200"}, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"{saved} of 4 trials already finished" in again.stdout
    assert len(results.read_text().splitlines()) == 4
    # a run resumed many times: the leaderboard view shows each arm once, the earlier
    # invocations' summaries kept under another kind
    once_more = cli("run", str(bench), "--executor", "local", "--results",
                    str(tmp_path / "res"), env=env(tmp_path), cwd=tmp_path)
    assert once_more.returncode == 0, once_more.stderr
    shown = runs(tmp_path, "summary")
    assert sorted(r.data.tags["arm"] for r in shown) == ["cnn", "cnn + focal"]
    assert all(r.data.tags["seeds"] == "0,1" for r in shown)
    assert len(runs(tmp_path, "superseded summary")) >= 3


def descendants(pid: int) -> set[int]:
    """The processes started by ``pid`` and by those (Linux: read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def still_running(pids: set[int], timeout: float) -> set[int]:
    """Those of ``pids`` alive after up to ``timeout`` seconds (a zombie has ended)."""
    deadline = time.time() + timeout
    while True:
        alive = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.add(pid)
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.5)


@contextmanager
def interruptible(*args: str, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen]:
    """``cryobench ARGS`` in a process that Ctrl-C reaches, as from a terminal; it and
    what it started are killed if the test ends first. A shell started in the background
    (CI scripts, ``cmd &``) hands its children SIGINT ignored, and Python then never
    raises KeyboardInterrupt; a handled signal is reset to its default in a new program,
    so handling it here while the child starts is enough."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen([sys.executable, "-m", "cryobench.cli", *args],
                                   env={**os.environ, **env}, cwd=cwd, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        yield process
    finally:
        if process.poll() is None:
            for pid in descendants(process.pid) | {process.pid}:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.communicate(timeout=60)


def wait_for(ready: Callable[[], object], process: subprocess.Popen,
             timeout: float = 120) -> None:
    """Until ``ready()``; the test fails at once if the process ends first."""
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, process.communicate()[1]
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sync_logs_what_mlflow_lacks_and_the_ui_serves_it(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from cryobench.tracking.mlflow import MlflowTracker

    bench = write(tmp_path, epochs=1)
    result = cli("run", str(bench), "--executor", "local", "--no-tracking", "--results",
                 str(tmp_path / "res"), env=env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # Ctrl-C after two trials are logged: status 130, the sync's own run marked KILLED
    log_trial, logged = MlflowTracker.log_trial, []

    def interrupted_after_two(self, *args, **kwargs):
        if len(logged) == 2:
            raise KeyboardInterrupt
        logged.append(log_trial(self, *args, **kwargs))

    with monkeypatch.context() as patch:
        patch.setattr(MlflowTracker, "log_trial", interrupted_after_two)
        stopped = cli("sync", str(bench), "--results", str(tmp_path / "res"),
                      env=env(tmp_path))
    assert stopped.returncode == 130
    assert "interrupted; logged 2 of the 4 trial(s) MLflow lacked" in stopped.stderr
    client = MlflowClient(env(tmp_path)["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("tracked").experiment_id
    assert "RUNNING" not in {r.info.status for r in client.search_runs([experiment])}
    assert len(client.search_runs([experiment], "attributes.status = 'KILLED'")) == 1
    synced = cli("sync", str(bench), "--results", str(tmp_path / "res"), env=env(tmp_path))
    assert "logged 2 trial(s) MLflow lacked" in synced.stdout, synced.stderr
    again = cli("sync", str(bench), "--results", str(tmp_path / "res"), env=env(tmp_path))
    assert "logged 0 trial(s)" in again.stdout

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "cryobench.cli", "ui", "--port",
                                str(port)], env={**os.environ, **env(tmp_path)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name" \
              "?experiment_name=tracked"
        deadline, answer = time.time() + 90, None
        while time.time() < deadline and answer is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    answer = json.loads(response.read())
            except OSError:
                time.sleep(1)
        assert answer is not None, process.stderr.read() if process.poll() else "no answer"
        experiment_id = answer["experiment"]["experiment_id"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
            data=json.dumps({"experiment_ids": [experiment_id]}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            found = json.loads(response.read())["runs"]
        assert sum(r["data"]["tags"][0] is not None for r in found) >= 4 + 2
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    time.sleep(1)
    with pytest.raises(OSError):  # stopped: nothing listens there any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


@pytest.mark.slow
def test_a_tiny_tuned_benchmark_end_to_end_through_ray_and_mlflow(tmp_path):
    """Interrupted while tuning, then run to the end: Ray's and Tune's output stays off
    the terminal, and MLflow holds each arm's tuning under its summary."""
    bench = write(tmp_path, epochs=2)
    bench.write_text(bench.read_text().replace("seeds = [0, 1]", "seeds = [0]") + (
        "[resources]\ncpus_per_trial = 1\n"
        "[tune]\nconfigurations = 2\nscheduler = \"fifo\"\nseed = 3\n"
        "space = { \"train.lr\" = { loguniform = [1e-3, 1e-2] }, "
        "\"loss.gamma\" = { choice = [1.0, 2.0] } }\n"))
    # Ctrl-C while tuning the second arm: status 130, and Ray's processes (the driver's
    # children) end
    tuning = tmp_path / "res" / "tracked.tuning.jsonl"
    with interruptible("run", str(bench), "--results", str(tmp_path / "res"),
                       "--no-tracking", env=env(tmp_path), cwd=tmp_path) as process:
        wait_for(lambda: tuning.exists() and tuning.read_text().strip(), process)
        ray_processes = descendants(process.pid)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted; 0 finished trial(s)" in err and "Traceback" not in err
    assert ray_processes and not still_running(ray_processes, timeout=30)
    tuned_before = tuning.read_text().splitlines()
    assert len(tuned_before) == 1  # the first arm's outcome, kept

    # run again: what was tuned is not tuned again; Ray and Tune say nothing on the terminal
    result = cli_process("run", str(bench), "--results", str(tmp_path / "res"),
                         env=env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Token authentication" not in result.stdout and "Tune" not in result.stdout
    assert "cnn (tuned)" in result.stdout and "cnn + focal (tuned)" in result.stdout
    assert (tmp_path / "res" / "tracked.ray.log").read_text()
    records = [json.loads(line) for line in (tmp_path / "res" / "tracked.jsonl").read_text()
               .splitlines()]
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)
    for r in records:
        chosen = r["tuning"]["chosen"]
        assert r["config"]["tuned"] == chosen and 1e-3 <= chosen["train.lr"] <= 1e-2
        assert len(r["tuning"]["configurations"]) == 2  # the same budget for every arm
        assert ("loss.gamma" in chosen) == (r["arm"] == "cnn + focal")
    outcomes = (tmp_path / "res" / "tracked.tuning.jsonl").read_text().splitlines()
    assert len(outcomes) == 2 and outcomes[:len(tuned_before)] == tuned_before  # per arm, seed

    c = client(tmp_path)
    summaries = {r.data.tags["arm"]: r for r in runs(tmp_path, "summary")}
    tuning = runs(tmp_path, "tuning")
    assert len(tuning) == 2 * 2  # arms x configurations
    for run in tuning:
        summary = summaries[run.data.tags["arm"]]
        assert run.data.tags["mlflow.parentRunId"] == summary.info.run_id
        assert "train.lr" in run.data.params
        assert [m.step for m in c.get_metric_history(run.info.run_id, "val_macro_f1")] == [1, 2]
    focal = summaries["cnn + focal"]
    assert focal.data.tags["tuned"] == "true"
    assert {"seed0.train.lr", "seed0.loss.gamma"} <= set(focal.data.params)
    assert "tuning_curves.png" in {a.path for a in c.list_artifacts(focal.info.run_id)}
    board = json.loads(cli("leaderboard", str(bench), "--results", str(tmp_path / "res"),
                           "--format", "json", env=env(tmp_path)).stdout)
    assert [row["tuned"] for row in board] == [True, True]

    # validate measures the cost from these results (that nothing is tuned twice on a
    # second run: tests/run/test_tuning.py)
    shown = cli("validate", str(bench), "--results", str(tmp_path / "res"), env=env(tmp_path))
    assert "2 configurations x 2 epochs (fifo) over train.lr" in shown.stdout
    assert "estimated: at most" in shown.stdout


@pytest.mark.parametrize("profile", [None, "quick", "it's"])
def test_the_report_goes_to_the_newest_run_of_its_profile(tmp_path, minimal_doc, registry,
                                                          profile):
    import dataclasses

    from cryobench.config import parse_benchmark
    from cryobench.tracking.mlflow import MlflowTracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    bench = dataclasses.replace(parse_benchmark(minimal_doc, registry), profile=profile)
    other = dataclasses.replace(bench, profile="other")
    ids = []
    for b in (bench, bench, other):  # two invocations of this profile, one of another
        tracker = MlflowTracker(uri, b)
        tracker.start("", {})
        ids.append(tracker.parent_id)
        tracker.finish([], "")
    folder = tmp_path / "report"
    (folder / "figures").mkdir(parents=True)
    for name in ("report.md", "report.html", "figures/a.png", "unrelated.txt"):
        (folder / name).write_text("x")
    assert MlflowTracker(uri, bench).log_report(folder) == ids[1]
    c = client(tmp_path)
    logged = {a.path for a in c.list_artifacts(ids[1], "report")}
    assert logged == {"report/report.md", "report/report.html", "report/figures"}
    assert not c.list_artifacts(ids[0], "report") and not c.list_artifacts(ids[2], "report")
    assert MlflowTracker(uri, dataclasses.replace(bench, name="never")).log_report(folder) \
        is None
