"""Classical models: fit and predict time, macro F1 and G-mean, per model and features.

    python scripts/bench_classical.py [--scale 1.0] [--seed 0] [--models NAME ...]
                                      [--features pca invariant] [--skip-engine]

Simulates the default data set (`neuron-polyga`: 1634 particles of 40^3; `--scale`
shrinks every class), splits it as the benchmark does (stratified 80/20, then 10 % of
the training part for validation), and fits every classical model with its default
parameters on each feature kind, once. The goal: GSVM-RU and the GP classifier finish in
minutes, not hours, on 2 CPU cores. First, unless `--skip-engine`, it times the GP engine
alone (population 500 x 50 generations on 1300 rows x 20 features).

The output starts with the exact command, the machine and its load average (the fits
run on one BLAS thread; another job on the machine slows them), so that the figures can
be quoted. One run, one seed: times, not a comparison of the models.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time

import numpy as np

import cryobench_classical
from cryobench.data.simulator.simulate import simulate, spec_from_params
from cryobench.data.splits import holdout_split
from cryobench.metrics import score
from cryobench.registry import Registry
from cryobench.testing import tiny_context

MODELS = ("svm", "balanced_random_forest", "gsvm_ru", "gp_classifier")
FEATURES = ("pca", "invariant")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="share of each class")
    parser.add_argument("--seed", type=int, default=0, help="split and model seed")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--features", nargs="+", default=list(FEATURES), choices=FEATURES)
    parser.add_argument("--skip-engine", action="store_true", help="do not time the GP engine")
    args = parser.parse_args()
    print_machine()
    if not args.skip_engine:
        time_gp_engine()
    start = time.perf_counter()
    data = simulate(spec_from_params({"scale": args.scale}))
    split = holdout_split(data.labels, 0.2, 0.1, args.seed, data.class_names)
    train, val, test = data.take(split.train), data.take(split.val), data.take(split.test)
    counts = ", ".join(f"{n} {c}" for n, c, _ in data.summary())
    print(f"data: {len(data)} particles of {data.box}^3 ({counts}), simulated in "
          f"{time.perf_counter() - start:.0f} s; train {len(train)}, validation {len(val)}, "
          f"test {len(test)}\n")
    registry = Registry(plugins=[cryobench_classical], entry_points=False)
    # classical models read only the seed and the class count of a fit context
    context = tiny_context(data.num_classes, seed=args.seed)
    print(f"{'model':<24} {'features':<10} {'fit s':>8} {'predict s':>10} "
          f"{'macro F1':>9} {'macro G':>8}  notes")
    for name in args.models:
        for features in args.features:
            model = registry.create("model", name, {"features": features})
            t0 = time.perf_counter()
            predictor = model.fit(train, val, context)
            t1 = time.perf_counter()
            probabilities = predictor.predict_proba(test.volumes)
            t2 = time.perf_counter()
            result = score(test.labels, probabilities.argmax(1), data.class_names)
            print(f"{name:<24} {features:<10} {t1 - t0:8.1f} {t2 - t1:10.2f} "
                  f"{result.macro_f1:9.3f} {result.macro_gmean:8.3f}  "
                  f"{notes(predictor.fit_report.figures)}", flush=True)
    print(f"\nload average at the end: {format_load()}")


def time_gp_engine() -> None:
    """The engine alone, on the size the brief names: well under a minute on one core."""
    from cryobench_genetic_programming import GPSettings, evolve

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1300, 20))
    positive = x[:, 0] * x[:, 1] + 0.5 * x[:, 2] > 1.2  # about 10 % positives
    start = time.perf_counter()
    program = evolve(x, positive, seed=0, settings=GPSettings(population=500, generations=50))
    seconds = time.perf_counter() - start
    evaluated = sum(h["evaluated"] for h in program.history)
    print(f"GP engine: population 500 x 50 generations on 1300 x 20 ({positive.mean():.0%} "
          f"positive): {seconds:.1f} s, {evaluated} programs evaluated, best AVE "
          f"{program.fitness:.3f}, {program.size} nodes\n")


def notes(figures: dict) -> str:
    """What a model chose, briefly: granules and C per class, or program sizes."""
    if "granules" in figures:
        granules = "/".join(str(g) for g in figures["granules"].values())
        grid = "/".join(f"{c:g},{g:g}" for c, g in zip(figures["C"].values(),
                                                        figures["gamma"].values()))
        return f"granules {granules}; C,gamma {grid}"
    if "program_size" in figures:
        sizes = "/".join(str(s) for s in figures["program_size"].values())
        fitness = "/".join(f"{f:.2f}" for f in figures["best_fitness"].values())
        return f"program nodes {sizes}; AVE {fitness}"
    return f"{figures['n_features']} features"


def print_machine() -> None:
    import sklearn

    print("$ " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, {platform.system()} "
          f"{platform.release()}; Python {platform.python_version()}, numpy "
          f"{np.__version__}, scikit-learn {sklearn.__version__}")
    print(f"load average at the start: {format_load()} (fits use one BLAS thread)\n")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def format_load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
