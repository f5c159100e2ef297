"""Ctrl-C held back while a result is written, and raised as soon as it is written.

A trial's line in the result file and its run in MLflow are written whole or not at all:
an interrupt in the middle of an MLflow write leaves its SQLite transaction open, and the
store stays locked for every write after it (the parent run could not even be marked
KILLED). A second Ctrl-C is not held: whoever presses it twice (a tracking server that
hangs) gets out at once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def interrupts_deferred(deliver: bool = True) -> Iterator[None]:
    """SIGINT received inside is delivered on leaving (or dropped, without ``deliver``:
    the work it would stop is done) to the handler that was there before; in the main
    thread only, where Python delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if getattr(previous, "deferral", False):  # inside another: that one decides
        yield
        return
    if previous is None:  # installed outside Python: restore Python's own
        previous = signal.default_int_handler
    held: list[FrameType | None] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if held:  # the second: at once
            signal.signal(signal.SIGINT, previous)
            _deliver(previous, frame)
        held.append(frame)

    hold.deferral = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held and deliver:
            _deliver(previous, held[-1])


def _deliver(handler: object, frame: FrameType | None) -> None:
    if callable(handler):
        handler(signal.SIGINT, frame)  # KeyboardInterrupt, as a rule
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)
