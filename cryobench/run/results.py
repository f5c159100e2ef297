"""Trial results as JSON lines: appended as trials finish, read back to resume.

The file is the durable record of a benchmark, so it is read forgivingly (a damaged line
costs that line, never the file) and written carefully (one ``write`` per record, each
starting on its own line, flushed to disk before the next trial starts). A lock beside
it keeps two runs from working on the same results at once.
"""

from __future__ import annotations

import codecs
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryobench.errors import CryobenchError
from cryobench.files import check_writable_file
from cryobench.run.records import TrialRecord

#: the files kept beside a run's results, ``<name>[.<profile>].<side>.jsonl``: tuning's
#: outcomes and its ended configurations, and the epochs ``validate --measure`` timed
TUNING_FILES = ("tuning", "tuning-configurations")
SIDE_FILES = (*TUNING_FILES, "measured")


@dataclass
class ResultFile:
    """What a result file holds: the last record of each trial key, and the line numbers
    that could not be read (skipped, and left in the file as they are)."""

    records: dict[str, TrialRecord] = field(default_factory=dict)
    unreadable: list[int] = field(default_factory=list)

    def finished(self) -> dict[str, TrialRecord]:
        return {k: r for k, r in self.records.items() if r.ok}

    def warning(self, path: Path, consequence: str = "those trials run again") -> str | None:
        """One line for the user about the damaged lines (a cut line, a score that is
        not a number, a field of the wrong type), if any, and what follows from them."""
        if not self.unreadable:
            return None
        lines = ", ".join(map(str, self.unreadable[:10]))
        more = f" and {len(self.unreadable) - 10} more" if len(self.unreadable) > 10 else ""
        return (f"{path}: skipped unreadable line{'s' * (len(self.unreadable) > 1)} "
                f"{lines}{more} (left in the file as they are); {consequence}")


class ResultStore:
    """One JSON object per line; the last record of a trial key wins.

    ``record_type`` reads a line (``from_json``, raising ValueError for one that is not a
    record) and has ``key``, ``ok`` and ``to_json``: trial records, or tuning outcomes.
    """

    def __init__(self, path: Path, record_type: Any = TrialRecord) -> None:
        self.path = Path(path)
        self.record_type = record_type

    def check_writable(self) -> None:
        """Before any training: a result that cannot be stored is training thrown away."""
        check_writable_file(self.path, "result file")

    def read(self) -> ResultFile:
        out = ResultFile()
        if not self.path.exists():
            return out
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise CryobenchError(f"{self.path}: cannot read the result file ({exc.strerror})") \
                from None
        if data.startswith(codecs.BOM_UTF8):  # an editor's byte-order mark
            data = data[len(codecs.BOM_UTF8):]
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            record = parse_record(raw, self.record_type)
            if record is None:
                out.unreadable.append(number)
            else:
                out.records[record.key] = record
        return out

    def finished(self) -> dict[str, TrialRecord]:
        return self.read().finished()

    def remove(self, unwanted: Any) -> None:
        """Drop the records ``unwanted(record)`` picks, every other line kept as it is
        (unreadable ones too); the file is replaced at once, never left half written."""
        if not self.path.exists():
            return
        lines = self.path.read_bytes().splitlines(keepends=True)
        kept = []
        for line in lines:
            record = parse_record(line, self.record_type) if line.strip() else None
            if record is None or not unwanted(record):
                kept.append(line if line.endswith(b"\n") else line + b"\n")
        if len(kept) == len(lines):
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_bytes(b"".join(kept))
            os.replace(temporary, self.path)
        except OSError as exc:
            raise CryobenchError(f"{self.path}: cannot rewrite it ({exc.strerror or exc}); "
                                 "free some space") from None

    def append(self, record: Any) -> None:
        """Add one record durably; a last line cut short by a crash stays on its own line.

        A record that cannot be written (a full disk) is a user error: the run stops
        there, every record written before is kept, and a line cut short is skipped
        when the file is next read."""
        text = json.dumps(record.to_json(), allow_nan=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as handle:
                if handle.tell() > 0 and not _ends_with_newline(self.path):
                    text = "\n" + text
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            what = getattr(record, "what", "trial")  # a search and its configurations too
            raise CryobenchError(
                f"{self.path}: cannot save the result of {what} {record.key} "
                f"({exc.strerror or exc}); what was saved before it is kept: free some "
                "space and run again to continue") from None

    @contextmanager
    def lock(self, command: str = "cryobench run") -> Iterator[None]:
        """Hold the result file for this process; another process holding it is a user
        error naming that process. A lock left by a dead process is taken over (the
        operating system releases it when the process dies, however it died)."""
        with ResultLock(self.path.with_name(self.path.name + ".lock"), command):
            yield


def parse_record(raw: bytes, record_type: Any = TrialRecord) -> Any:
    """A record from one line, or ``None`` when the line is not one."""
    try:
        return record_type.from_json(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError, AttributeError,
            KeyError):
        return None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


class ResultLock:
    """An exclusive ``flock`` on a file beside the results, holding who took it."""

    def __init__(self, path: Path, command: str) -> None:
        self.path, self.command = path, command
        self._fd: int | None = None

    def __enter__(self) -> ResultLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise CryobenchError(f"{self.path}: cannot create the lock file "
                                     f"({exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise CryobenchError(
                    f"{self.path.with_suffix('')}: in use by {holder}; wait for it to "
                    "finish or stop it (a run that died releases it)") from None
            # the holder before us may have removed the file after we opened it
            if _same_file(fd, self.path):
                break
            os.close(fd)
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "command": self.command, "since": time.time()}).encode())
        except OSError as exc:
            self.__exit__()
            raise CryobenchError(f"{self.path}: cannot write the lock file "
                                 f"({exc.strerror or exc}); free some space") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(info["since"]))
        return f"{info['command']} (pid {info['pid']} on {info['host']}, since {since})"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "another cryobench process"
