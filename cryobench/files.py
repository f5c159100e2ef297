"""Reading and writing the user's files with one clear line for every way it can fail."""

from __future__ import annotations

import codecs
import errno
import os
import stat
import tempfile
from pathlib import Path

from cryobench.errors import CryobenchError, DataError

#: Text files cryobench reads (benchmark and label files) are far smaller than this; a
#: larger one is a mistake (a device, a volume given as a label file).
MAX_TEXT_BYTES = 1 << 30


def read_text(path: Path, what: str, *, hint: str = "") -> str:
    """A text file as UTF-8, with or without the byte-order mark Excel and Notepad write.

    Any other encoding is refused with the line and column of the first bad byte
    (decoding it as Latin-1 would silently rename classes); ``hint`` says how to save
    the file as UTF-8 in the program that likely wrote it.
    """
    data = read_bytes(path, what)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise DataError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} in column "
                              f"{column}); save the file as UTF-8{hint}", f"line {line}") from None


def read_bytes(path: Path, what: str) -> bytes:
    """A file's bytes; a folder, a missing file, a symlink loop, no permission: one line."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DataError(path, f"is not a regular file; expected {what}")
            if info.st_size > MAX_TEXT_BYTES:  # before reading: read(n) allocates n bytes
                raise DataError(path, f"is larger than {MAX_TEXT_BYTES >> 30} GiB; expected "
                                      f"{what}")
            data = handle.read()
    except OSError as exc:
        problem = read_problem(Path(path), exc, what)
        raise DataError(path, problem or f"cannot read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL byte in the path
        raise DataError(repr(str(path)), "the path holds a NUL byte") from None
    if len(data) > MAX_TEXT_BYTES:
        raise DataError(path, f"is larger than {MAX_TEXT_BYTES >> 30} GiB; expected {what}")
    return data


def read_problem(path: Path, exc: OSError, what: str) -> str | None:
    """What a failed open of ``path`` means and what to do; None for other errors."""
    if isinstance(exc, IsADirectoryError):
        return f"is a folder, not {what}; give the path of the file itself"
    if isinstance(exc, PermissionError):
        return "permission denied; make the file readable (chmod a+r) or copy it"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop; point the link at a real file"
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        if path.is_symlink():
            return f"broken symbolic link (to {os.readlink(path)}); point it at a real file"
        return "file not found"
    return None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset``; all before it is UTF-8."""
    start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[start:offset].decode("utf-8")) + 1


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse, before any work, a folder that cannot be created or written to.

    Creates the folder (and its parents) if needed, then writes and removes a probe file:
    the only test that holds for read-only mounts, ACLs and root alike.
    """
    folder = Path(folder)
    if folder.is_symlink() and not folder.exists():
        raise CryobenchError(f"{folder}: is a broken symbolic link (or a loop); remove it or "
                             f"choose another {what}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CryobenchError(f"{folder}: is a file, not a folder; choose another {what}") \
            from None
    except NotADirectoryError:
        raise CryobenchError(f"{folder}: a parent of this {what} is a file; "
                             "choose another place") from None
    except OSError as exc:
        raise CryobenchError(f"{folder}: cannot create the {what} ({_reason(exc)})") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cryobench-probe-"):
            pass
    except OSError as exc:
        raise CryobenchError(f"{folder}: cannot write to the {what} ({_reason(exc)})") \
            from None


def check_writable_file(path: Path, what: str) -> None:
    """Refuse a file that exists as something else or cannot be appended to."""
    path = Path(path)
    check_writable_folder(path.parent, f"folder of the {what}")
    if path.exists() and not path.is_file():
        raise CryobenchError(f"{path}: is not a regular file; move it away or choose "
                             f"another {what}")
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise CryobenchError(f"{path}: cannot write to the {what} ({_reason(exc)})") from None


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink loop"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or type(exc).__name__
