"""Which Ray a run uses, and what a killed run left of it.

Three things Ray does by itself that a benchmark must not inherit:

- ``ray.init()`` without an address joins the cluster named in Ray's
  ``ray_current_cluster`` file, even one whose head was killed long ago (it then waits
  minutes on a GCS that never answers). A run without ``--address`` starts its own Ray.
- A head started by ``ray start --head`` with a token on disk (Ray 2.5x writes one on
  first use) requires that token, but a driver given an explicit address does not send
  it. Before joining, the head is asked whether it wants a token; the driver then uses
  the one Ray would (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``),
  or says in one line what is missing.
- A driver killed with SIGKILL (the out-of-memory killer) leaves some of its local Ray's
  processes behind for a while. While it runs, the driver keeps the list of its Ray
  processes beside the results; the next run ends those still alive.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryobench.errors import CryobenchError

#: what ``ray.init`` is given to start a Ray of its own whatever is on disk
LOCAL = "local"
TOKEN_HELP = ("copy the head's token (`ray get-auth-token` on the head prints it) to "
              "~/.ray/auth_token here, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")


def init_address(address: str | None) -> str:
    """What ``ray.init(address=...)`` gets: the cluster asked for, else a Ray of this
    run's own (never one found in ``ray_current_cluster``)."""
    return address or os.environ.get("RAY_ADDRESS") or LOCAL


# -- token authentication ---------------------------------------------------------------


def local_token() -> tuple[str, str] | None:
    """The token Ray itself would send, and where it came from; None when there is none."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return os.environ["RAY_AUTH_TOKEN"].strip(), "RAY_AUTH_TOKEN"
    path_text = os.environ.get("RAY_AUTH_TOKEN_PATH", "").strip()
    path = Path(path_text).expanduser() if path_text else Path.home() / ".ray" / "auth_token"
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return (token, str(path)) if token else None


#: asks the GCS at argv[1] for a key as Ray's own clients do, in a process of its own (its
#: authentication mode is read once per process): exit 0 accepted, 3 refused
_PROBE = """
import sys
from ray._raylet import GcsClient
from ray.exceptions import AuthenticationError
try:
    GcsClient(address=sys.argv[1]).internal_kv_get(b"cryobench-probe", None)
except AuthenticationError:
    sys.exit(3)
"""


def head_accepts(target: str, token: str | None, timeout: float = 30.0) -> bool | None:
    """Whether the GCS at ``target`` (HOST:PORT) answers a client sending ``token``
    (none: Ray's token mode off); None when it does not answer at all."""
    import subprocess
    import sys

    env = {**os.environ, "RAY_AUTH_MODE": "token" if token else "disabled"}
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    if token:
        env["RAY_AUTH_TOKEN"] = token
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, target], env=env,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return {0: True, 3: False}.get(done.returncode)


def prepare_auth(address: str) -> None:
    """Before joining the cluster at ``address``: when its head wants a token, switch
    this process to Ray's token mode with the token found here, or stop with one line
    naming what is missing. ``RAY_AUTH_MODE`` set by the user is left as it is."""
    if address.startswith("ray://") or address in ("auto", LOCAL):
        return
    if os.environ.get("RAY_AUTH_MODE"):
        return
    open_door = head_accepts(address, None)
    if open_door is not False:  # no token wanted, or no answer (ray.init will say)
        return
    found = local_token()
    if found is None:
        raise CryobenchError(f"--address: the Ray cluster at {address} requires a token "
                             f"(token authentication) and none was found here; "
                             f"{TOKEN_HELP}")
    token, source = found
    if head_accepts(address, token) is False:
        raise CryobenchError(f"--address: the Ray cluster at {address} refused the token "
                             f"from {source}; {TOKEN_HELP}")
    _token_mode()


def _token_mode() -> None:
    """Ray's token mode for this process and the ones it starts (what ``ray.init``
    does itself when it finds a local cluster)."""
    os.environ["RAY_AUTH_MODE"] = "token"
    from ray._raylet import Config

    Config.initialize("")  # Ray caches its settings: read RAY_AUTH_MODE again


# -- what a killed run left ---------------------------------------------------------------


def _start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): a process, not only a number."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, theirs, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _snapshot() -> dict[str, object]:
    me = os.getpid()
    processes = [[p, t] for p in descendants(me) if (t := _start_time(p)) is not None]
    return {"driver": [me, _start_time(me)], "processes": processes}


def end_leftovers(path: Path) -> int:
    """End the Ray processes a dead driver listed in ``path`` (those still alive and
    still the same processes); how many were ended. A live driver's list is left alone."""
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))
        driver_pid, driver_start = listed["driver"]
        processes = [(int(p), int(t)) for p, t in listed["processes"]]
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, TypeError, KeyError):
        path.unlink(missing_ok=True)  # not ours to read: nothing to end
        return 0
    if _start_time(int(driver_pid)) == driver_start:
        return 0  # that driver is still running
    ended = 0
    for pid, started in processes:
        if _start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
                ended += 1
            except OSError:
                pass
    path.unlink(missing_ok=True)
    return ended


@contextmanager
def processes_listed(path: Path, every: float = 2.0) -> Iterator[None]:
    """Keep the list of this driver's Ray processes in ``path`` while inside (the driver
    may be killed at any moment); removed on leaving, when Ray has stopped them."""
    if not Path("/proc/self/stat").exists():  # not Linux: nothing to list by
        yield
        return
    done = threading.Event()

    def keep() -> None:
        while True:
            _write(path, _snapshot())
            if done.wait(every):
                return

    _write(path, _snapshot())
    thread = threading.Thread(target=keep, name="cryobench-ray-processes", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def forget(path: Path) -> None:
    """The list is not needed: Ray was stopped in order."""
    path.unlink(missing_ok=True)


def _write(path: Path, listed: dict[str, object]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(listed), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:  # a full disk: the run goes on, only this safety net is missing
        pass

