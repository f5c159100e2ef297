"""Data speed: simulate the default set and read it back from its MRC files.

    python scripts/bench_data.py [--scale 1.0]

Prints particles per second for simulation (in memory), writing, and loading, for the
default `neuron-polyga` set (1634 particles of 40^3; target: simulation within 60 s on 2
CPU cores, loading within a few seconds).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cryobench.data.loading import load_dataset
from cryobench.data.simulator.simulate import simulate, spec_from_params
from cryobench.data.export import write_particles


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    spec = spec_from_params({"scale": args.scale})
    start = time.perf_counter()
    data = simulate(spec)
    simulated = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_particles(folder, data)
        written = time.perf_counter() - start
        start = time.perf_counter()
        loaded = load_dataset(folder)
        read = time.perf_counter() - start
    n = len(data)
    assert len(loaded) == n
    print(f"{n} particles of {spec.box}^3")
    for phase, seconds in (("simulate", simulated), ("write MRC", written), ("load MRC", read)):
        print(f"{phase:>10}: {seconds:6.2f} s  {n / seconds:8.0f} particles/s")


if __name__ == "__main__":
    main()
