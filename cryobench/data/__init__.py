"""Subtomogram data: the container, real-format I/O, splits, and the simulator."""

from collections.abc import Callable

from cryobench.data.subtomograms import Subtomograms

#: ``progress(phase, done, total)``: how every reader, writer and cutter reports progress.
Progress = Callable[[str, int, int], None]

__all__ = ["Progress", "Subtomograms"]
