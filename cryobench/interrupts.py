"""Ctrl-C held back while a result is written, and raised as soon as it is written.

A trial's line in the result file and its run in MLflow are written whole or not at all:
an interrupt in the middle of an MLflow write leaves its SQLite transaction open, and the
store stays locked for every write after it (the parent run could not even be marked
KILLED).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """SIGINT received inside is delivered on leaving, to the handler that was there
    before (in the main thread only: elsewhere Python delivers no signals anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[FrameType | None] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(frame)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[-1])  # KeyboardInterrupt, as a rule
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGINT)
