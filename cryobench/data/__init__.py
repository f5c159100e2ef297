"""Subtomogram data: the container, real-format I/O, splits, and the simulator."""

from cryobench.data.subtomograms import Subtomograms

__all__ = ["Subtomograms"]
