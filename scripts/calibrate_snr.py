"""Calibrate the simulator's default SNR: plain `cnn` + `ce` macro F1 at several SNRs.

    python scripts/calibrate_snr.py --snr 0.5 0.1 0.05 0.02 --epochs 10

Prints one row per SNR (macro F1, macro G-mean, recall of each class) for the table in
docs/simulator.md. Uses the real trial function and the cached default data set.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cryobench.config import parse_benchmark
from cryobench.data.cache import cache_root
from cryobench.registry import Registry
from cryobench.run.trial import TrialEnvironment, run_trial
from cryobench.trials import expand_trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, nargs="+", default=[0.5, 0.1, 0.05, 0.02])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--lr", type=float, default=0.003)
    args = parser.parse_args()
    registry = Registry()
    print("| SNR | seed | macro F1 | macro G-mean | " +
          "recall: proteasome_d | ribosome | TRiC | proteasome_s | epoch s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for snr in args.snr:
        doc = {"benchmark": {"name": "calibration", "seeds": args.seeds},
               "dataset": {"source": "synthetic", "snr": snr},
               "train": {"max_epochs": args.epochs, "patience": 0, "lr": args.lr},
               "arm": [{"name": "cnn", "model": "cnn"}]}
        bench = parse_benchmark(doc, registry)
        env = TrialEnvironment(registry, Path(tempfile.gettempdir()), cache_root())
        for trial in expand_trials(bench):
            r = run_trial(trial, env)
            recall = " | ".join(f"{c['recall']:.2f}" for c in r["per_class"])
            epoch_s = r["fit"]["fit_seconds"] / r["fit"]["epochs_run"]
            print(f"| {snr} | {trial.seed} | {r['metrics']['macro_f1']:.3f} | "
                  f"{r['metrics']['macro_gmean']:.3f} | {recall} | {epoch_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
