"""Which Ray a run uses, and what a killed run left of it: a stale cluster file on disk,
a head started by ``ray start --head`` with Ray's token authentication, leftovers of a
SIGKILLed driver. Real Ray throughout, in temporary folders of its own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cryobench.run.ray.cluster import _start_time, end_leftovers, init_address
from cryobench.run.results import ResultStore
from tests.test_cli import cli_process

BENCH = """\
[benchmark]
name = "tiny"
seeds = [0]
[dataset]
source = "synthetic"
box = 12
voxel_size = 4.0
snr = 5.0
class_counts = { TRiC = 12, ribosome = 12 }
[train]
max_epochs = 2
batch_size = 8
[resources]
cpus_per_trial = 1
[[arm]]
name = "cnn"
model = { name = "cnn", widths = [4, 4, 4] }
"""


@pytest.fixture
def ray_tmp():
    """A short temporary folder for Ray (its socket paths must stay under 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="cbray", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_without_an_address_a_run_starts_its_own_ray(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert init_address(None) == "local"  # never "the cluster in ray_current_cluster"
    assert init_address("10.0.0.5:6379") == "10.0.0.5:6379"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.6:6379")
    assert init_address(None) == "10.0.0.6:6379"


@pytest.mark.slow
def test_a_stale_ray_current_cluster_file_is_not_joined(tmp_path, ray_tmp):
    """A head killed long ago leaves its address on disk; ray.init() would wait minutes
    on it. The run starts its own Ray at once."""
    (ray_tmp / "ray").mkdir()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{dead}")
    (tmp_path / "b.toml").write_text(BENCH)
    start = time.monotonic()
    result = cli_process("run", str(tmp_path / "b.toml"), "--results", str(tmp_path / "res"),
                         "--no-tracking", env={"RAY_TMPDIR": str(ray_tmp),
                                               "CRYOBENCH_CACHE_DIR": str(tmp_path / "c")})
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 240
    assert "Started a local Ray instance" in (tmp_path / "res" / "tiny.ray.log").read_text()
    assert "GCS" not in result.stderr  # none of Ray's retries on the terminal
    assert len(ResultStore(tmp_path / "res" / "tiny.jsonl").finished()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_address_joins_a_head_started_with_rays_default_token_auth(tmp_path, ray_tmp,
                                                                   monkeypatch):
    """``ray start --head`` where a token is on disk (Ray writes one on first use) turns
    token authentication on; ``--address`` finds the token as Ray would, and says in one
    line when it is missing or wrong."""
    ray = Path(sys.executable).with_name("ray")
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)  # the user's own Ray settings: not here
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("a1" * 32)
    port = _free_port()
    head_env = {**os.environ, "HOME": str(home), "RAY_TMPDIR": str(ray_tmp)}
    log = tmp_path / "head.log"
    with open(log, "w") as out:  # a file: the head's processes keep what they inherit
        head = subprocess.Popen([str(ray), "start", "--head", "--node-ip-address",
                                 "127.0.0.1", "--port", str(port), "--num-cpus", "2",
                                 "--include-dashboard", "false", "--disable-usage-stats"],
                                env=head_env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group, stopped below
    try:
        assert head.wait(timeout=120) == 0, log.read_text()
        assert "Token authentication is enabled" in log.read_text()
        (tmp_path / "b.toml").write_text(BENCH)
        args = ("run", str(tmp_path / "b.toml"), "--results", str(tmp_path / "res"),
                "--no-tracking", "--address", f"127.0.0.1:{port}")
        env = {"CRYOBENCH_CACHE_DIR": str(tmp_path / "c"), "RAY_TMPDIR": str(ray_tmp)}

        missing = cli_process(*args, env={**env, "HOME": str(tmp_path / "nobody")})
        assert missing.returncode == 2
        assert missing.stderr.strip() == (
            f"error: --address: the Ray cluster at 127.0.0.1:{port} requires a token (token "
            "authentication) and none was found here; copy the head's token (`ray "
            "get-auth-token` on the head prints it) to ~/.ray/auth_token here, or set "
            "RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
        wrong = cli_process(*args, env={**env, "HOME": str(home), "RAY_AUTH_TOKEN": "b2" * 32})
        assert wrong.returncode == 2
        assert "refused the token from RAY_AUTH_TOKEN" in wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1

        joined = cli_process(*args, env={**env, "HOME": str(home)})
        assert joined.returncode == 0, joined.stderr
        assert "Connected to Ray cluster" in (tmp_path / "res" / "tiny.ray.log").read_text()
        assert len(ResultStore(tmp_path / "res" / "tiny.jsonl").finished()) == 1
    finally:
        try:
            os.killpg(head.pid, signal.SIGKILL)  # the head's processes, by its group
        except ProcessLookupError:
            pass


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_the_ray_processes_a_killed_driver_listed_are_ended_by_the_next_run(tmp_path):
    dead_driver = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_driver.wait()
    left, other = _sleeper(), _sleeper()
    try:
        listing = tmp_path / "b.ray.pids"
        # ``other`` is listed with another start time: its number was reused, it is not
        # the process the driver started, and is left alone
        listing.write_text(json.dumps({
            "driver": [dead_driver.pid, 1],
            "processes": [[left.pid, _start_time(left.pid)],
                          [other.pid, _start_time(other.pid) + 1]]}))
        assert end_leftovers(listing) == 1
        assert left.wait(timeout=10) == -signal.SIGKILL
        assert other.poll() is None
        assert not listing.exists()
    finally:
        for process in (left, other):
            process.kill()
            process.wait()


def test_a_live_drivers_ray_processes_are_left_alone(tmp_path):
    child = _sleeper()
    try:
        listing = tmp_path / "b.ray.pids"
        listing.write_text(json.dumps({
            "driver": [os.getpid(), _start_time(os.getpid())],
            "processes": [[child.pid, _start_time(child.pid)]]}))
        assert end_leftovers(listing) == 0
        assert child.poll() is None and listing.exists()
        listing.write_text("{not json")  # a damaged list ends nothing
        assert end_leftovers(listing) == 0 and child.poll() is None
    finally:
        child.kill()
        child.wait()
