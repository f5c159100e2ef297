"""Cutting particles from whole tomograms: the default set's 1634 particles of 40^3 placed
in 4 simulated tomograms of 1000 x 1000 x 300 voxels, cut through the ``tomograms``
source (memory-mapped MRC, RELION 5 STAR) and the ``copick`` source (OME-Zarr).

    python scripts/bench_tomograms.py [--out DIR] [--no-copick] [--scale 1.0]

Prints, for each source: the plan (what ``validate`` reads: the list and the headers),
the first load (cutting, and writing the cache), a second load (the cache, as every later
run reads it) and the peak of memory allocated while cutting (tracemalloc: the heap,
not the page cache the memory maps use), beside the size of the cut particles and of the
tomograms. ``--out`` keeps the tomograms for another time (several GB).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from cryobench.api import DataContext
from cryobench.data.memory import gib
from cryobench.data.simulator.simulate import spec_from_params
from cryobench.data.simulator.tomograms import TomogramSet, class_numbers, write_tomogram_set
from cryobench.registry import Registry

SHAPE = (300, 1000, 1000)  # z, y, x
BOX = 40


def sources(spec: TomogramSet, copick: bool) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {
        "tomograms": {"coordinates": "particles.star", "tomograms": "tomograms", "box": BOX,
                      "class_names": class_numbers(spec)}}
    if copick:
        out["copick"] = {"project": "copick/copick.json", "voxel_spacing": spec.pixel_size,
                         "box": BOX}
    return out


def measure(name: str, params: dict[str, object], folder: Path, cache: Path) -> None:
    registry = Registry()
    context = DataContext(folder, cache)
    start = time.perf_counter()
    counts = registry.create("data_source", name, params).count_classes(context)
    planned = time.perf_counter() - start
    tracemalloc.start()
    start = time.perf_counter()
    data = registry.create("data_source", name, params).load(context)
    cut = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del data
    start = time.perf_counter()
    again = registry.create("data_source", name, params).load(context)
    cached = time.perf_counter() - start
    n = len(again)
    print(f"{name}: {n} particles of {again.box}^3 from {len(set(again.tomograms))} tomograms, "
          f"{again.metadata['edge_particles']} padded at an edge; classes {counts}")
    print(f"  plan (validate)     {planned:7.2f} s")
    print(f"  cut + cache         {cut:7.2f} s  {n / cut:8.0f} particles/s  "
          f"peak heap {gib(peak)} (particles {gib(again.volumes.nbytes)})")
    print(f"  load from cache     {cached:7.2f} s  {n / cached:8.0f} particles/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=None, help="keep the tomograms here")
    parser.add_argument("--no-copick", dest="copick", action="store_false")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    spec = TomogramSet(spec_from_params({"scale": args.scale}), 4, SHAPE)
    work = Path(tempfile.mkdtemp(prefix="bench-tomograms-"))
    folder = args.out or work / "set"
    try:
        if not (folder / "metadata.json").exists():
            start = time.perf_counter()
            write_tomogram_set(folder, spec, copick=args.copick)
            print(f"simulated {spec.particles.total} particles in {spec.tomograms} tomograms "
                  f"of {SHAPE[2]} x {SHAPE[1]} x {SHAPE[0]} "
                  f"({gib(spec.tomograms * 4 * SHAPE[0] * SHAPE[1] * SHAPE[2])} as float32) "
                  f"in {time.perf_counter() - start:.0f} s")
        for name, params in sources(spec, args.copick).items():
            measure(name, params, folder, work / "cache")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
