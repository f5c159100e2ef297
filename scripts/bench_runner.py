"""What the runner costs: Ray Tune against calling the same trials directly, MLflow's
logging per trial, and the speed-up of two trials at once on two cores.

    python scripts/bench_runner.py [--trials 8] [--epochs 3] [--particles 300]

Every figure comes from the same run, on the same tiny benchmark (a small CNN on a small
simulated set), so the ratios can be quoted; absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from cryobench.config import parse_benchmark
from cryobench.registry import Registry
from cryobench.run.driver import run_benchmark
from cryobench.run.trial import WorkerSettings
from cryobench.run.local import LocalExecutor
from cryobench.run.ray.executor import RayExecutor
from cryobench.run.results import ResultStore


def benchmark(trials: int, epochs: int, cpus: float, name: str, particles: int = 300):
    doc = {"benchmark": {"name": name, "seeds": list(range(trials))},
           "dataset": {"source": "synthetic", "snr": 0.05,
                       "class_counts": {"TRiC": particles // 2, "ribosome": particles // 2}},
           "train": {"max_epochs": epochs, "batch_size": 16, "patience": 0},
           "resources": {"cpus_per_trial": cpus},
           "arm": [{"name": "cnn", "model": "cnn"}]}
    return parse_benchmark(doc, Registry())


def timed(label: str, function) -> float:
    start = time.perf_counter()
    function()
    seconds = time.perf_counter() - start
    print(f"  {label}: {seconds:.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--particles", type=int, default=300)
    args = parser.parse_args()
    print(f"command: {' '.join(shlex.quote(a) for a in sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    work = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    os.environ["CRYOBENCH_CACHE_DIR"] = str(work / "cache")
    quiet = Console(file=open(os.devnull, "w"))
    settings = WorkerSettings(work, work / "cache")

    def local(bench, tag, trackers=()):
        return lambda: run_benchmark(bench, ResultStore(work / f"{tag}.jsonl"),
                                     LocalExecutor(settings), quiet, trackers=list(trackers))

    def ray(bench, tag):
        executor = RayExecutor(settings, resources=bench.resources,
                               log_file=work / f"{tag}.log", storage=work / f"{tag}-tune")
        return lambda: run_benchmark(bench, ResultStore(work / f"{tag}.jsonl"), executor,
                                     quiet)

    one = benchmark(args.trials, args.epochs, 2.0, "one", args.particles)
    print(f"{args.trials} trials, {args.epochs} epochs each (the data simulated first)")
    run_benchmark(benchmark(1, 1, 2.0, "warm", args.particles),
                  ResultStore(work / "warm.jsonl"),
                  LocalExecutor(settings), quiet)  # simulate and import once
    direct = timed("directly, one after another (local executor)", local(one, "direct"))
    through_ray = timed("through Ray Tune, one at a time (2 CPUs each)", ray(one, "ray1"))
    two = benchmark(args.trials, args.epochs, 1.0, "two", args.particles)
    serial_one_cpu = timed("directly, one CPU each, one after another", local(two, "direct1"))
    parallel = timed("through Ray Tune, one CPU each, two at once", ray(two, "ray2"))

    from cryobench.tracking.mlflow import MlflowTracker

    tracker = MlflowTracker(f"sqlite:///{work / 'mlflow.db'}", one)
    tracker.check()
    tracker.start("", {})
    records = list(ResultStore(work / "direct.jsonl").read().records.values())
    start = time.perf_counter()
    for record in records:
        tracker.log_trial(record, tracker.parent_id)
    per_trial = (time.perf_counter() - start) / len(records)
    tracker.finish(records, "")

    trial_seconds = direct / args.trials
    overhead = through_ray - direct
    print()
    print(f"a trial here: {trial_seconds:.1f} s directly")
    print(f"Ray Tune's overhead: {overhead:.1f} s for {args.trials} trials "
          f"({overhead / args.trials:.1f} s a trial, {through_ray / direct:.2f}x here); for "
          f"trials of a minute: {100 * overhead / args.trials / 60:.0f}% (goal: at most 10%)")
    print(f"two at once on one CPU each: {serial_one_cpu / parallel:.2f}x the speed of one "
          f"after another ({serial_one_cpu:.1f} s against {parallel:.1f} s)")
    print(f"MLflow logging (SQLite, with the two PNG figures): {per_trial:.2f} s a trial")


if __name__ == "__main__":
    main()
