"""A hostile probe of Ray clusters, MLflow stores, result files and inputs as users have
them (issue 25): each case runs ``cryobench`` as a user would, in a process of its own,
and checks what the user sees. Not part of the test suite (it takes minutes and mounts a
read-only file system, so it wants root); the suite has a test for each kind.

    python scripts/probe_faults.py [--only SUBSTRING] [--keep]

Prints one line per case and, at the end, how many cases there are and how many passed.
Everything it starts (Ray heads, MLflow servers, runs) lives in a temporary folder and is
stopped by its process group; nothing else on the machine is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager, suppress
from pathlib import Path

BENCH = """\
[benchmark]
name = "probe"
seeds = [0, 1]
[dataset]
source = "synthetic"
box = 12
voxel_size = 4.0
snr = 5.0
class_counts = {{ TRiC = 12, ribosome = 12 }}
[train]
max_epochs = {epochs}
patience = {epochs}
batch_size = 8
[resources]
cpus_per_trial = 1
[[arm]]
name = "cnn"
model = {{ name = "cnn", widths = [4, 4, 4] }}
[[arm]]
name = "cnn + focal"
model = {{ name = "cnn", widths = [4, 4, 4] }}
loss = "focal"
{extra}"""
CASES: list[tuple[str, Callable[[Path], str | None]]] = []


def case(name: str) -> Callable:
    """Register a probe: it returns None when the behaviour is right, else what was seen."""
    def register(fn: Callable[[Path], str | None]) -> Callable:
        CASES.append((name, fn))
        return fn
    return register


class Probe:
    """Where a probe runs: a temporary root, a shared data cache, a short Ray folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = root / "cache"
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="pr", dir="/tmp"))
        self.home = root / "home"  # no Ray token unless a case puts one there
        self.home.mkdir(exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RAY_AUTH", "MLFLOW_", "RAY_ADDRESS"))}
        env.update({"CRYOBENCH_CACHE_DIR": str(self.cache), "RAY_TMPDIR": str(self.ray_tmp),
                    "HOME": str(self.home), "COLUMNS": "300"})
        env.update(extra)
        return env

    def bench(self, folder: Path, epochs: int = 1, extra: str = "") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "probe.toml"
        path.write_text(BENCH.format(epochs=epochs, extra=extra))
        return path

    def cryobench(self, *args: str, cwd: Path, timeout: float = 600,
                  **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cryobench.cli", *args], cwd=cwd,
                              env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout)

    def popen(self, *args: str, cwd: Path, **env: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "cryobench.cli", *args], cwd=cwd,
                                env=self.env(**env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)


PROBE: Probe


def one_line(done: subprocess.CompletedProcess, *must: str) -> str | None:
    """None when the command failed as a user error should: one line, exit 2."""
    lines = done.stderr.strip().splitlines()
    if done.returncode != 2 or len(lines) != 1 or not lines[0].startswith("error: "):
        return f"exit {done.returncode}, stderr: {done.stderr.strip()[-600:]!r}"
    missing = [m for m in must if m not in lines[0]]
    return f"message lacks {missing}: {lines[0]!r}" if missing else None


def finished(folder: Path, name: str = "probe") -> int:
    path = folder / "res" / f"{name}.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines()
               if line.strip().startswith("{") and '"status": "ok"' in line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(process: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(Exception):
        process.wait(timeout=60)


def wait_until(ready: Callable[[], object], timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready():
            return True
        time.sleep(0.5)
    return False


# -- Ray ---------------------------------------------------------------------------------


@case("ray: a stale ray_current_cluster file is not joined (run finishes, no GCS noise)")
def _(root: Path) -> str | None:
    folder = root / "stale"
    bench = PROBE.bench(folder)
    (PROBE.ray_tmp / "ray").mkdir(exist_ok=True)
    (PROBE.ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{free_port()}")
    start = time.time()
    done = PROBE.cryobench("run", str(bench), "--no-tracking", "--results", "res",
                           cwd=folder, timeout=400)
    took = time.time() - start
    (PROBE.ray_tmp / "ray" / "ray_current_cluster").unlink()
    if done.returncode != 0 or finished(folder) != 4:
        return f"exit {done.returncode}: {done.stderr[-500:]}"
    if "GCS" in done.stderr or took > 300:
        return f"took {took:.0f} s; stderr {done.stderr[-300:]!r}"
    return None


@case("ray: --address where nothing answers is one line")
def _(root: Path) -> str | None:
    bench = PROBE.bench(root / "dead")
    return one_line(PROBE.cryobench("run", str(bench), "--results", "res", "--address",
                                    f"127.0.0.1:{free_port()}", cwd=root / "dead",
                                    timeout=60), "nothing answers")


@case("ray: RAY_ADDRESS where nothing answers is one line")
def _(root: Path) -> str | None:
    bench = PROBE.bench(root / "deadenv")
    return one_line(PROBE.cryobench("run", str(bench), "--results", "res",
                                    cwd=root / "deadenv", timeout=60,
                                    RAY_ADDRESS=f"127.0.0.1:{free_port()}"), "nothing answers")


@case("ray: --address that is not HOST:PORT is one line")
def _(root: Path) -> str | None:
    bench = PROBE.bench(root / "badaddr")
    return one_line(PROBE.cryobench("run", str(bench), "--results", "res", "--address",
                                    "headnode:ray", cwd=root / "badaddr", timeout=60),
                    "not HOST:PORT")


@contextmanager
def ray_head(root: Path, token: str | None):
    """``ray start --head`` as a user runs it (token auth on when a token is on disk)."""
    home = root / ("head-home-token" if token else "head-home-none")
    (home / ".ray").mkdir(parents=True, exist_ok=True)
    if token:
        (home / ".ray" / "auth_token").write_text(token)
    port = free_port()
    log = root / f"head-{port}.log"
    env = {**PROBE.env(HOME=str(home))}
    with open(log, "w") as out:
        head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head",
                                 "--node-ip-address", "127.0.0.1", "--port", str(port),
                                 "--num-cpus", "2", "--include-dashboard", "false",
                                 "--disable-usage-stats"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if head.wait(timeout=180) != 0:
            raise RuntimeError(log.read_text()[-1000:])
        yield f"127.0.0.1:{port}", home, log.read_text()
    finally:
        kill_group(head)


def _join(root: Path, name: str, address: str, **env: str) -> subprocess.CompletedProcess:
    folder = root / name
    bench = PROBE.bench(folder)
    return PROBE.cryobench("run", str(bench), "--no-tracking", "--results", "res",
                           "--address", address, cwd=folder, timeout=400, **env)


def _token_cases(root: Path) -> dict[str, str | None]:
    token = "c3" * 32
    out: dict[str, str | None] = {}
    with ray_head(root, token) as (address, home, log):
        if "Token authentication is enabled" not in log:
            return {k: f"the head did not turn token auth on: {log[-300:]}" for k in
                    ("home", "missing", "own", "wrong", "path")}
        done = _join(root, "join-home", address, HOME=str(home))
        out["home"] = None if done.returncode == 0 and finished(root / "join-home") == 4 \
            else f"exit {done.returncode}: {done.stderr[-500:]}"
        # a home that never ran Ray (one that did holds a token of its own, refused)
        (root / "home-never-ray").mkdir(exist_ok=True)
        out["missing"] = one_line(_join(root, "join-missing", address,
                                        HOME=str(root / "home-never-ray")),
                                  "requires a token", "ray get-auth-token")
        own = PROBE.home / ".ray" / "auth_token"  # as a local ray.init here writes it
        if not own.exists():
            own.parent.mkdir(exist_ok=True)
            own.write_text("e5" * 32)
        out["own"] = one_line(_join(root, "join-own", address), "refused the token from")
        out["wrong"] = one_line(_join(root, "join-wrong", address, HOME=str(home),
                                      RAY_AUTH_TOKEN="d4" * 32), "refused the token")
        token_file = root / "copied_token"
        token_file.write_text(token + "\n")
        done = _join(root, "join-path", address, RAY_AUTH_TOKEN_PATH=str(token_file))
        out["path"] = None if done.returncode == 0 and finished(root / "join-path") == 4 \
            else f"exit {done.returncode}: {done.stderr[-500:]}"
    return out


_TOKEN: dict[str, str | None] = {}


def _token(root: Path, key: str) -> str | None:
    if not _TOKEN:
        _TOKEN.update(_token_cases(root))
    return _TOKEN[key]


@case("ray: --address joins `ray start --head` with Ray's token auth (token in ~/.ray)")
def _(root: Path) -> str | None:
    return _token(root, "home")


@case("ray: --address with no token here is one line saying what to copy")
def _(root: Path) -> str | None:
    return _token(root, "missing")


@case("ray: --address from a home whose own local Ray made another token is one line")
def _(root: Path) -> str | None:
    return _token(root, "own")


@case("ray: --address with a wrong RAY_AUTH_TOKEN is one line")
def _(root: Path) -> str | None:
    return _token(root, "wrong")


@case("ray: --address with RAY_AUTH_TOKEN_PATH naming the head's token joins")
def _(root: Path) -> str | None:
    return _token(root, "path")


@case("ray: --address joins a head without token auth")
def _(root: Path) -> str | None:
    with ray_head(root, None) as (address, _, log):
        done = _join(root, "join-open", address)
        if done.returncode != 0 or finished(root / "join-open") != 4:
            return f"exit {done.returncode}: {done.stderr[-500:]}"
    return None


def _alive(pid: int, started: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return stat[0] != "Z" and int(stat[19]) == started


@case("ray: what a SIGKILLed driver left of its Ray is ended by the next run")
def _(root: Path) -> str | None:
    folder = root / "sigkill-ray"
    bench = PROBE.bench(folder, epochs=3000)
    listing = folder / "res" / "probe.ray.pids"
    run = PROBE.popen("run", str(bench), "--no-tracking", "--results", "res", cwd=folder)
    ok = wait_until(lambda: listing.exists() and
                    len(json.loads(listing.read_text() or "{}").get("processes", [])) > 4
                    and (folder / "res" / "probe.ray").exists(), 240)
    if not ok:
        kill_group(run)
        return "the run never listed its Ray processes"
    time.sleep(8)  # trials training
    os.kill(run.pid, signal.SIGKILL)  # the driver alone, as the out-of-memory killer does
    run.wait(timeout=30)
    listed = json.loads(listing.read_text())["processes"]
    PROBE.bench(folder, epochs=1)
    done = PROBE.cryobench("run", str(bench), "--no-tracking", "--results", "res",
                           cwd=folder, timeout=400)
    alive = [p for p, t in listed if _alive(p, t)]
    for pid in alive:  # the probe leaves nothing behind, whatever it found
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if done.returncode != 0 or alive:
        return f"exit {done.returncode}; still alive {alive}; {done.stderr[-300:]}"
    if "left by a run that was killed" not in (folder / "res" / "probe.ray.log").read_text():
        return "the next run did not end anything the killed one left"
    return None if finished(folder) == 4 else "the rerun did not finish the trials"


# -- MLflow ------------------------------------------------------------------------------


def _mlflow_store(folder: Path) -> Path:
    """A store MLflow made, with a run in it (in a process of its own, closed after)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mlflow.db"
    subprocess.run([sys.executable, "-c", "import sys; from mlflow import MlflowClient; "
                    "c = MlflowClient(sys.argv[1]); e = c.create_experiment('made'); "
                    "c.set_terminated(c.create_run(e).info.run_id)", f"sqlite:///{path}"],
                   check=True, capture_output=True, env=PROBE.env())
    return path


def _refused(root: Path, name: str, uri: str, *must: str) -> str | None:
    folder = root / name
    bench = PROBE.bench(folder)
    start = time.time()
    problem = one_line(PROBE.cryobench("run", str(bench), "--executor", "local", "--results",
                                       "res", "--tracking-uri", uri, cwd=folder, timeout=120),
                       f"MLflow store {uri}", "--no-tracking", "cryobench sync", *must)
    if problem is None and time.time() - start > 60:
        return f"took {time.time() - start:.0f} s"
    if problem is None and finished(folder):
        return "it trained before refusing the store"
    return problem


@case("mlflow: a truncated SQLite store is one line before training")
def _(root: Path) -> str | None:
    path = _mlflow_store(root / "trunc")
    os.truncate(path, path.stat().st_size // 2)
    return _refused(root, "trunc", f"sqlite:///{path}", "damaged")


@case("mlflow: a SQLite store that is not a database is one line")
def _(root: Path) -> str | None:
    (root / "junk").mkdir()
    (root / "junk" / "mlflow.db").write_bytes(os.urandom(9000))
    return _refused(root, "junk", f"sqlite:///{root / 'junk' / 'mlflow.db'}", "damaged")


@case("mlflow: a SQLite path that is a folder is one line")
def _(root: Path) -> str | None:
    (root / "isdir" / "mlflow.db").mkdir(parents=True)
    return _refused(root, "isdir", f"sqlite:///{root / 'isdir' / 'mlflow.db'}", "not a file")


@case("mlflow: a SQLite store whose folder does not exist is one line")
def _(root: Path) -> str | None:
    return _refused(root, "nofolder", f"sqlite:///{root / 'nowhere' / 'mlflow.db'}",
                    "does not exist")


@contextmanager
def read_only(folder: Path, store: Path | None):
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], check=True)
    try:
        if store is not None:
            shutil.copy(store, folder / "mlflow.db")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@case("mlflow: a store in a read-only folder is one line, at once")
def _(root: Path) -> str | None:
    made = _mlflow_store(root / "ro-made")
    with read_only(root / "ro", made) as folder:
        return _refused(root, "ro-run", f"sqlite:///{folder / 'mlflow.db'}", "read-only")


@case("mlflow: a new store in a read-only folder is one line")
def _(root: Path) -> str | None:
    with read_only(root / "ro2", None) as folder:
        return _refused(root, "ro2-run", f"sqlite:///{folder / 'new.db'}", "read-only")


@case("mlflow: a file: URI (MLflow's file store) is one line")
def _(root: Path) -> str | None:
    return _refused(root, "fileuri", f"file://{root / 'mlruns'}", "migrate-filestore")


@case("mlflow: a plain folder as tracking URI is one line")
def _(root: Path) -> str | None:
    return _refused(root, "plainpath", str(root / "mlruns"), "file store")


@case("mlflow: a server that does not answer is one line")
def _(root: Path) -> str | None:
    return _refused(root, "deadserver", f"http://127.0.0.1:{free_port()}", "cannot be used")


@case("mlflow: an empty (0-byte) SQLite file is a new store, and the run is tracked")
def _(root: Path) -> str | None:
    folder = root / "empty"
    bench = PROBE.bench(folder)
    (folder / "mlflow.db").touch()
    done = PROBE.cryobench("run", str(bench), "--executor", "local", "--results", "res",
                           "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}", cwd=folder)
    return None if done.returncode == 0 and "MLflow leaderboard" in done.stdout \
        else f"exit {done.returncode}: {done.stderr[-400:]}"


@contextmanager
def mlflow_server(store: Path, port: int):
    log = store.with_suffix(".log")
    with open(log, "a") as out:
        server = subprocess.Popen([sys.executable, "-m", "mlflow", "server",
                                   "--backend-store-uri", f"sqlite:///{store}",
                                   "--default-artifact-root", str(store.parent / "art"),
                                   "--host", "127.0.0.1", "--port", str(port), "--workers",
                                   "1"], stdout=out, stderr=subprocess.STDOUT,
                                  env=PROBE.env(), start_new_session=True)
    try:
        def up() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                return True
            except OSError:
                return False
        if not wait_until(up, 120):
            raise RuntimeError(log.read_text()[-800:])
        yield server
    finally:
        kill_group(server)


_SERVER: dict[str, str | None] = {}


def _server_cases(root: Path) -> None:
    folder = root / "server"
    bench = PROBE.bench(folder, extra='[arm.train]\nmax_epochs = 40\npatience = 40\n')
    port, store = free_port(), folder / "server.db"
    uri = f"http://127.0.0.1:{port}"
    with mlflow_server(store, port) as server:
        run = PROBE.popen("run", str(bench), "--executor", "local", "--results", "res",
                          "--tracking-uri", uri, cwd=folder)
        wait_until(lambda: finished(folder) >= 2, 400)
        kill_group(server)  # the server dies mid-run
        out, err = run.communicate(timeout=900)
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    if run.returncode != 0 or finished(folder) != 4 or "Traceback" in err or \
            len(warnings) != 2 or "cryobench sync" not in warnings[-1]:
        _SERVER["mid"] = f"exit {run.returncode}, {finished(folder)} saved; {err[-700:]!r}"
    else:
        _SERVER["mid"] = None
    with mlflow_server(store, port):
        done = PROBE.cryobench("sync", str(bench), "--results", "res", "--tracking-uri", uri,
                               cwd=folder)
        from mlflow import MlflowClient

        c = MlflowClient(uri)
        experiment = c.get_experiment_by_name("probe").experiment_id
        keys = {r.data.tags["trial_key"] for r in c.search_runs(
            [experiment], "tags.cryobench_kind = 'trial' and attributes.status = 'FINISHED'")}
        running = c.search_runs([experiment], "attributes.status = 'RUNNING'")
    _SERVER["sync"] = None if done.returncode == 0 and len(keys) == 4 and not running else \
        f"exit {done.returncode}, {len(keys)} trials, {len(running)} RUNNING: {done.stderr[-300:]}"


@case("mlflow: a server failing mid-run costs no training (two warnings, 4 trials saved)")
def _(root: Path) -> str | None:
    if not _SERVER:
        _server_cases(root)
    return _SERVER["mid"]


@case("mlflow: then `cryobench sync` logs every trial and leaves nothing RUNNING")
def _(root: Path) -> str | None:
    if not _SERVER:
        _server_cases(root)
    return _SERVER["sync"]


@case("mlflow: two runs creating the same new experiment at once both finish")
def _(root: Path) -> str | None:
    folder = root / "race"
    bench = PROBE.bench(folder)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    outcomes: dict[str, subprocess.CompletedProcess] = {}

    def run(name: str) -> None:
        outcomes[name] = PROBE.cryobench("run", str(bench), "--executor", "local",
                                         "--results", name, "--tracking-uri", uri, cwd=folder)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = {n: o.stderr[-300:] for n, o in outcomes.items() if o.returncode != 0}
    return f"failed: {bad}" if bad else None


@case("mlflow: runs a SIGKILLed run left RUNNING are ended (KILLED) by the resumed run")
def _(root: Path) -> str | None:
    folder = root / "sigkill-mlflow"
    bench = PROBE.bench(folder, extra='[arm.train]\nmax_epochs = 3000\npatience = 3000\n')
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    run = PROBE.popen("run", str(bench), "--executor", "local", "--results", "res",
                      "--tracking-uri", uri, cwd=folder)
    try:
        wait_until(lambda: finished(folder) >= 2, 400)  # then the long arm trains
        time.sleep(5)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        kill_group(run)
    PROBE.bench(folder, extra='[arm.train]\nmax_epochs = 2\n')  # the rest short
    from mlflow import MlflowClient

    c = MlflowClient(uri)
    experiment = c.get_experiment_by_name("probe").experiment_id
    before = c.search_runs([experiment], "attributes.status = 'RUNNING'")
    if not before:
        return "the killed run left nothing RUNNING (killed too late?)"
    done = PROBE.cryobench("run", str(bench), "--executor", "local", "--results", "res",
                           "--tracking-uri", uri, cwd=folder)
    after = c.search_runs([experiment], "attributes.status = 'RUNNING'")
    statuses = {c.get_run(r.info.run_id).info.status for r in before}
    if done.returncode != 0 or after or statuses != {"KILLED"}:
        return f"exit {done.returncode}, still RUNNING {len(after)}, ended as {statuses}"
    return None


# -- records read back -------------------------------------------------------------------


_RECORDS: dict[str, Path] = {}


def _tracked_results(root: Path) -> Path:
    """A finished benchmark's folder (4 trials), made once and copied per case."""
    if "base" not in _RECORDS:
        folder = root / "records-base"
        bench = PROBE.bench(folder)
        done = PROBE.cryobench("run", str(bench), "--executor", "local", "--no-tracking",
                               "--results", "res", cwd=folder)
        assert done.returncode == 0, done.stderr
        _RECORDS["base"] = folder
    return _RECORDS["base"]


def _damaged(root: Path, name: str, damage: Callable[[list[str]], list[str]]) -> str | None:
    base = _tracked_results(root)
    folder = root / f"records-{name}"
    shutil.copytree(base, folder)
    path = folder / "res" / "probe.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(damage(lines)) + "\n")
    bench = folder / "probe.toml"
    problems = []
    for command in (["leaderboard", "--format", "json"], ["report", "--no-tracking"],
                    ["run", "--executor", "local", "--no-tracking"]):
        done = PROBE.cryobench(command[0], str(bench), *command[1:], "--results", "res",
                               cwd=folder)
        if done.returncode != 0 or "Traceback" in done.stderr:
            problems.append(f"{command[0]}: exit {done.returncode} {done.stderr[-300:]!r}")
        elif "warning: " not in done.stderr and "warning: " not in done.stdout:
            problems.append(f"{command[0]}: no warning")
        elif command[0] == "leaderboard":
            json.loads(done.stdout)  # stdout stays a whole JSON document
    return "; ".join(problems) or None


def _field(name: str, value: object) -> Callable[[list[str]], list[str]]:
    def damage(lines: list[str]) -> list[str]:
        record = json.loads(lines[0])
        record[name] = value
        return [json.dumps(record), *lines[1:]]
    return damage


@case("records: metrics a list: skipped with a warning by leaderboard, report and run")
def _(root: Path) -> str | None:
    return _damaged(root, "metrics-list", _field("metrics", [0.5, 0.5]))


@case("records: per_class a string: skipped with a warning")
def _(root: Path) -> str | None:
    return _damaged(root, "perclass-str", _field("per_class", "f1"))


@case("records: seed a string: skipped with a warning")
def _(root: Path) -> str | None:
    return _damaged(root, "seed-str", _field("seed", "0"))


@case("records: confusion of strings: skipped with a warning")
def _(root: Path) -> str | None:
    return _damaged(root, "confusion", _field("confusion", [["a", "b"], ["c", "d"]]))


@case("records: fit.history not a list: skipped with a warning")
def _(root: Path) -> str | None:
    return _damaged(root, "history", _field("fit", {"history": 3}))


@case("records: a NaN score: left out, and leaderboard/report say so")
def _(root: Path) -> str | None:
    def nan(lines: list[str]) -> list[str]:
        return [lines[0].replace('"macro_f1": ', '"macro_f1": NaN, "x": '), *lines[1:]]
    return _damaged(root, "nan", nan)


@case("records: a cut last line: left out, and leaderboard/report say so")
def _(root: Path) -> str | None:
    return _damaged(root, "cut", lambda lines: [*lines[:-1], lines[-1][:40]])


@case("records: a line that is a JSON list: skipped with a warning")
def _(root: Path) -> str | None:
    return _damaged(root, "jsonlist", lambda lines: [*lines, "[1, 2, 3]"])


# -- validation --------------------------------------------------------------------------


def _validate(root: Path, name: str, arms: str, *must: str) -> str | None:
    folder = root / f"validate-{name}"
    folder.mkdir()
    text = BENCH.format(epochs=1, extra="").split("[[arm]]")[0] + arms
    (folder / "b.toml").write_text(text)
    return one_line(PROBE.cryobench("validate", "b.toml", cwd=folder, timeout=120), *must)


@case("validation: arm dataset classes an integer is one line")
def _(root: Path) -> str | None:
    return _validate(root, "classes-int", '[[arm]]\nname = "a"\nmodel = "cnn"\n'
                                          'dataset = { classes = 5 }\n', "classes")


@case("validation: arm dataset classes a table is one line")
def _(root: Path) -> str | None:
    return _validate(root, "classes-table", '[[arm]]\nname = "a"\nmodel = "cnn"\n'
                                            'dataset = { classes = { TRiC = 1 } }\n', "classes")


@case("validation: arm dataset classes a string is one line")
def _(root: Path) -> str | None:
    return _validate(root, "classes-str", '[[arm]]\nname = "a"\nmodel = "cnn"\n'
                                          'dataset = { classes = "TRiC" }\n', "classes")


@case("validation: arm dataset classes with a number among names is one line")
def _(root: Path) -> str | None:
    return _validate(root, "classes-mixed", '[[arm]]\nname = "a"\nmodel = "cnn"\n'
                                            'dataset = { classes = ["TRiC", 3] }\n', "classes")


@case("validation: two arm names equal up to case are one line")
def _(root: Path) -> str | None:
    return _validate(root, "case", '[[arm]]\nname = "cnn"\nmodel = "cnn"\n'
                                   '[[arm]]\nname = "CNN"\nmodel = "cnn"\n', "spaces or case")


@case("validation: two arm names equal up to spaces are one line")
def _(root: Path) -> str | None:
    return _validate(root, "spaces", '[[arm]]\nname = "cnn + focal"\nmodel = "cnn"\n'
                                     '[[arm]]\nname = "cnn+focal "\nmodel = "cnn"\n',
                     "spaces or case")


@case("validation: `sync` from a results folder that does not exist is one line")
def _(root: Path) -> str | None:
    folder = root / "sync-none"
    bench = PROBE.bench(folder)
    return one_line(PROBE.cryobench("sync", str(bench), "--results", "no-such-folder",
                                    cwd=folder, timeout=120), "no such folder")


@case("validation: `sync` from a folder without this benchmark's results is one line")
def _(root: Path) -> str | None:
    folder = root / "sync-empty"
    bench = PROBE.bench(folder)
    (folder / "res").mkdir()
    return one_line(PROBE.cryobench("sync", str(bench), "--results", "res", cwd=folder,
                                    timeout=120), "no result file")


@case("validation: a STAR block with no loop_ is one line")
def _(root: Path) -> str | None:
    folder = root / "star"
    folder.mkdir()
    (folder / "p.star").write_text("data_particles\n\n_rlnImageName #1\n_rlnClassNumber #2\n"
                                   "a.mrc 1\nb.mrc 2\n")
    return one_line(PROBE.cryobench("inspect", "p.star", cwd=folder, timeout=120), "loop_")


@case("validation: a STAR file of key-value pairs only is one line")
def _(root: Path) -> str | None:
    folder = root / "star-kv"
    folder.mkdir()
    (folder / "p.star").write_text("data_particles\n\n_rlnImageName a.mrc\n"
                                   "_rlnClassNumber 1\n")
    return one_line(PROBE.cryobench("inspect", "p.star", cwd=folder, timeout=120))


# -- the link -------------------------------------------------------------------------------


@case("link: the printed MLflow link opens (headless Chromium) on the score columns")
def _(root: Path) -> str | None:
    import re

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return "no chromium here (apt-get install chromium)"
    folder = root / "link"
    bench = PROBE.bench(folder)
    done = PROBE.cryobench("run", str(bench), "--executor", "local", "--results", "res",
                           cwd=folder)
    found = re.search(r"MLflow leaderboard: (\S+)", done.stdout)
    if found is None:
        return f"no link printed: {done.stdout[-300:]} {done.stderr[-300:]}"
    port = free_port()
    link = found.group(1).replace(":5000/", f":{port}/")
    ui = PROBE.popen("ui", "--port", str(port), cwd=folder)
    try:
        def up() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                return True
            except OSError:
                return False
        if not wait_until(up, 120):
            return "the UI did not start"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 f"--user-data-dir={folder / 'profile'}", "--window-size=1600,900",
                 "--virtual-time-budget=20000"]
        dom = subprocess.run([browser, *flags, "--dump-dom", link], capture_output=True,
                             text=True, timeout=120).stdout
        subprocess.run([browser, *flags, f"--screenshot={root / 'leaderboard-link.png'}",
                        link], capture_output=True, timeout=120)
    finally:
        kill_group(ui)
    headers = re.findall(r'role="columnheader"[^>]*col-id="(metrics\.[^"]+)"', dom)
    wanted = ["metrics.`macro_f1_mean`", "metrics.`macro_f1_std`", "metrics.`macro_gmean_mean`",
              "metrics.`macro_gmean_std`", "metrics.`n`"]
    if headers != wanted:
        return f"columns {headers}"
    if "Evaluation runs" in dom or "Model registry" not in dom:
        return "opened on the GenAI side"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the cases whose name holds this")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    global PROBE
    root = Path(tempfile.mkdtemp(prefix="cryobench-probe-"))
    PROBE = Probe(root)
    chosen = [(n, fn) for n, fn in CASES if args.only in n]
    passed = 0
    try:
        for number, (name, fn) in enumerate(chosen, start=1):
            start = time.time()
            try:
                problem = fn(root)
            except Exception:
                problem = "the probe itself failed: " + traceback.format_exc()[-600:]
            passed += problem is None
            mark = "PASS" if problem is None else "FAIL"
            print(f"{mark} {number:2d} {name} ({time.time() - start:.0f} s)"
                  + ("" if problem is None else f"\n       {problem}"), flush=True)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(PROBE.ray_tmp, ignore_errors=True)
    print(f"{len(chosen)} cases, {passed} passed, {len(chosen) - passed} failed")
    return 0 if passed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
