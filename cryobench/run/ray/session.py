"""A Ray session for a run: this machine's own Ray, or a cluster's (``--address``), with
Ray's and Tune's output sent to a log file beside the results, not the terminal."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryobench.errors import CryobenchError
from cryobench.run.ray.cluster import (
    LOCAL, end_leftovers, forget, init_address, prepare_auth, processes_listed,
)

#: Set before Ray is imported, unless the user has: Tune's plain output (silenced by
#: verbose=0), every worker's log line, and no Ray started by Tune behind our back.
RAY_DEFAULTS = {"RAY_AIR_NEW_OUTPUT": "0", "RAY_DEDUP_LOGS": "0",
                "TUNE_DISABLE_AUTO_INIT": "1"}


#: Set whatever the user has: no SIGINT handler of Tune's own, so that Ctrl-C reaches the
#: driver, which stops cleanly (with Tune's, an interrupted search would end as if it had
#: finished, and its partial outcome would be kept as the search's).
RAY_FORCED = {"TUNE_DISABLE_SIGINT_HANDLER": "1"}


@contextmanager
def ray_session(address: str | None, log_file: Path) -> Iterator[None]:
    """Ray started (or joined), with its output sent to ``log_file``; stopped after.
    Inside a session already open (tuning, then the trials) it is that session."""
    for name, value in RAY_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.update(RAY_FORCED)
    import ray  # first: importing it installs its own terminal handlers, replaced below

    if ray.is_initialized():
        yield
        return

    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("ray", "ray.tune", "ray.train")]
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in loggers]
    last_resort = logging.lastResort
    # ray.init clears the "ray" logger's handlers while it starts: what it logs then
    # reaches Python's last-resort handler, which is pointed at the file too
    logging.lastResort = handler
    try:
        for lg in loggers:
            lg.handlers, lg.propagate = [handler], False
        with _stderr_to(log_file):  # Ray's C++ core writes its retries to file descriptor 2
            local = _end_leftovers(address, log_file)
            connect(address)
        for lg in loggers:
            lg.handlers, lg.propagate = [handler], False
        with local:
            yield
        if ray.is_initialized():
            ray.shutdown()
        forget(leftovers_file(log_file))
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
        logging.lastResort = last_resort
        handler.close()


def leftovers_file(log_file: Path) -> Path:
    """Where a run lists its local Ray's processes, beside its Ray log."""
    return log_file.with_suffix(".pids")


def _end_leftovers(address: str | None, log_file: Path) -> Any:
    """For a local Ray: end what a killed run left, then list this run's processes
    (a context manager); for a cluster, nothing (its processes are not this run's)."""
    from contextlib import nullcontext

    if init_address(address) != LOCAL:
        return nullcontext()
    path = leftovers_file(log_file)
    ended = end_leftovers(path)
    if ended:
        logging.getLogger("ray").warning("ended %d Ray process(es) left by a run that was "
                                         "killed (listed in %s)", ended, path)
    return processes_listed(path)


@contextmanager
def _stderr_to(log_file: Path) -> Iterator[None]:
    """File descriptor 2 appended to ``log_file`` while inside, then restored."""
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(log_file, "ab") as target:
            os.dup2(target.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def connect(address: str | None) -> None:
    """``ray.init``: a Ray of this run's own sized to this machine, or the cluster at
    ``address`` (also ``$RAY_ADDRESS``); one line and exit 2 when it cannot be reached
    or refuses this machine's token."""
    import ray

    address = init_address(address)
    prepare_auth(address)
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                               "configure_logging": False, "ignore_reinit_error": True,
                               "runtime_env": {"env_vars": worker_environment()}}
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "a local Ray" if address == LOCAL else address
        raise CryobenchError(f"--address: cannot connect to {where} ({_first_line(exc)}); "
                             "check the address, or start the head node with "
                             "`ray start --head`") from None


def check_reachable(address: str) -> None:
    """A cluster's head must answer before Ray is asked to join it: ray.init waits
    minutes for an address that does not answer, printing its own retries."""
    import socket

    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address in ("auto", "local") or not host:
        return
    if not port.isdigit():
        raise CryobenchError(f"--address: {address!r} is not HOST:PORT (e.g. "
                             "10.0.0.5:6379, or ray://HOST:10001 for a Ray client)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as exc:
        raise CryobenchError(f"--address: nothing answers at {target} ({exc.strerror or exc}); "
                             "check the address, or start the head node there with "
                             "`ray start --head`") from None


def worker_environment() -> dict[str, str]:
    """What a worker needs of the driver's environment: the import path (plugins on it)
    and cryobench's own settings."""
    import sys

    keep = ("CRYOBENCH_CACHE_DIR", "CRYOBENCH_BLOCK_PLUGINS", "XDG_CACHE_HOME")
    env = {name: os.environ[name] for name in keep if os.environ.get(name)}
    paths = [*os.environ.get("PYTHONPATH", "").split(os.pathsep), *sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p and Path(p).is_dir()))
    return env


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
