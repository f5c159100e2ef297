"""Writing a simulated set: checked before any work, then simulated and exported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryobench import __version__
from cryobench.data.export import check_output_folder, write_dataset
from cryobench.data.simulator.simulate import CONTRAST, SimulationSpec, check_memory, simulate


def write_simulation(out: Path, spec: SimulationSpec, *, preset: str | None = None,
                     progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Simulate ``spec`` and write it to ``out`` (a new or empty folder).

    A place that cannot hold the result, or a set too large for memory, is refused
    before any simulation; an interrupted run leaves nothing at ``out``.
    """
    out = Path(out)
    check_output_folder(out)
    check_memory(spec)
    data = simulate(spec, progress)
    meta = {"generator": f"cryobench {__version__}", "preset": preset,
            "parameters": spec.as_dict(), "contrast": CONTRAST}
    return write_dataset(out, data, meta, progress=progress)
