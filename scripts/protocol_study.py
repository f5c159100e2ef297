"""Does the stopping rule decide the ranking? One training trajectory per arm and seed,
read off under four protocols.

Early stopping only truncates a trajectory (the schedule, the batches and the weights up
to the stop are the same), so every arm is trained once for the whole budget with its
validation macro F1 and loss recorded per epoch and, for this study only, its test macro
F1 and G-mean per epoch. Each protocol then picks its epoch from the validation figures
alone, and the test figures of that epoch are its result:

  stop on F1    early stopping on validation macro F1 (patience 8), best epoch kept
  stop on loss  early stopping on validation loss (patience 8), lowest-loss epoch kept
  fixed, best   the whole budget, best validation macro F1 epoch kept
  fixed, last   the whole budget, the last epoch kept

  python scripts/protocol_study.py [--seeds 0 1 2] [--out protocol-study.json]
  python scripts/protocol_study.py --profile large-val-fixed --seeds 0 1 2 [--out ...]
  python scripts/protocol_study.py --read protocol-study.json   (the tables again)
  python scripts/protocol_study.py --tuned cryobench-results/protocol.tuned.jsonl \
      --shared cryobench-results/protocol.fixed.jsonl              (own rate beside shared)

`--tuned` sets the result file of `cryobench run benchmarks/protocol.toml --profile
tuned` (each arm's learning rate and method parameter chosen on validation by Ray Tune,
then trained under "fixed, best") beside `--profile fixed`'s (the shared learning rate,
"fixed, best"): the same seeds, so the same splits, paired. Run both on one machine:
on another CPU the same trial can follow another trajectory.

`--profile large-val-fixed` runs the same four protocols with a validation part twice
as large (0.2 of the non-test part instead of 0.1: 262 particles instead of 131 on the
default data set); its trials sit beside the others in one file.

The test figures never steer anything here: they are read after each epoch, as the
study's measurement, not used by training or by any protocol's choice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = {  # name: (monitor, patience, restore)
    "stop on F1": ("val_macro_f1", 8, "best"),
    "stop on loss": ("val_loss", 8, "best"),
    "fixed, best": ("val_macro_f1", 0, "best"),
    "fixed, last": ("val_macro_f1", 0, "last"),
}


def chosen_epoch(history: list[dict[str, float]], monitor: str, patience: int,
                 restore: str) -> int:
    """The epoch (1-based) the engine keeps under this protocol, from validation only."""
    sign = -1.0 if monitor.endswith("loss") else 1.0
    best, best_epoch = -np.inf, 0
    for record in history:
        epoch = int(record["epoch"])
        score = sign * record[monitor]
        if score > best:
            best, best_epoch = score, epoch
        elif patience and epoch - best_epoch >= patience:
            return best_epoch if restore == "best" else epoch
    return best_epoch if restore == "best" else int(history[-1]["epoch"])


def study_key(arm: str, seed: int, profile: str) -> str:
    """The study file's key of one trajectory (the first study's keys had no profile)."""
    return f"{arm} / seed {seed}" + ("" if profile == "fixed" else f" / {profile}")


def by_profile(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The study's trajectories per profile, each keyed as `study_key` without it."""
    groups: dict[str, dict[str, Any]] = {}
    for run in results.values():
        profile = run.get("profile", "fixed")
        groups.setdefault(profile, {})[study_key(run["arm"], run["seed"], "fixed")] = run
    return groups


def train_all(seeds: list[int], out: Path, profile: str) -> dict[str, Any]:
    """Every arm and seed for the whole budget, with test figures per epoch."""
    from cryobench.config import load_benchmark
    from cryobench.data.cache import cache_root
    from cryobench.metrics import score
    from cryobench.registry import Registry
    from cryobench.run.trial import TrialEnvironment, load_data, run_trial, split_data
    from cryobench.run.plan import expand_trials
    from cryobench.train import engine

    registry = Registry()
    bench = load_benchmark(ROOT / "benchmarks" / "protocol.toml", registry, profile=profile)
    assert all(a.train.patience == 0 for a in bench.arms), "the whole budget: patience 0"
    env = TrialEnvironment(registry, ROOT / "benchmarks", cache_root())
    validate = engine._validate
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    # seed by seed, so that a study cut short has every arm on the seeds it finished
    trials = sorted((t for t in expand_trials(bench) if t.seed in seeds),
                    key=lambda t: seeds.index(t.seed))
    for i, trial in enumerate(trials):
        name = study_key(trial.arm, trial.seed, profile)
        if name in results:
            continue
        data = load_data(trial.dataset, env)
        split = split_data(trial, data)
        val, test = data.take(split.val), data.take(split.test)

        def with_test(module, part, device, batch_size, val=val, test=test, data=data):
            figures = validate(module, part, device, batch_size)
            # the trial's own validation part (stage-1 paths see other labels): add the
            # test figures of this epoch, for the study only
            if len(part) == len(val) and np.array_equal(part.labels, val.labels):
                logits = engine.predict_logits(module, test.volumes, device, batch_size)
                if logits.shape[1] == data.num_classes:
                    scores = score(test.labels, logits.argmax(1), data.class_names).summary()
                    figures["test_macro_f1"] = scores["macro_f1"]
                    figures["test_macro_gmean"] = scores["macro_gmean"]
            return figures

        engine._validate = with_test
        tick = time.perf_counter()
        try:
            record = run_trial(trial, env)
        finally:
            engine._validate = validate
        history = [h for h in record.fit["history"] if "test_macro_f1" in h]
        results[name] = {"arm": trial.arm, "seed": trial.seed, "profile": profile,
                         "val_particles": len(val), "history": history,
                         "final": record.metrics, "seconds": time.perf_counter() - tick}
        out.write_text(json.dumps(results, indent=1))
        print(f"{i + 1}/{len(trials)} {name}: {len(history)} epochs, "
              f"{time.perf_counter() - tick:.0f} s", flush=True)
    return results


def tables(results: dict[str, Any]) -> str:
    """Per protocol and arm: mean test macro F1 with its 95% t-interval, the epoch kept,
    and the rank; then which arm pairs change order between protocols."""
    from cryobench.stats import summarise_values

    arms = list(dict.fromkeys(r["arm"] for r in results.values()))
    lines = []
    means: dict[str, dict[str, float]] = {}
    for protocol, (monitor, patience, restore) in PROTOCOLS.items():
        lines += [f"\n{protocol} (monitor {monitor}, patience {patience}, keep {restore})",
                  f"{'arm':24} {'n':>2} {'macro F1 %':>11} {'95% interval':>14} "
                  f"{'G-mean %':>9} {'epoch':>6}"]
        means[protocol] = {}
        for arm in arms:
            runs = [r for r in results.values() if r["arm"] == arm]
            f1, gmean, epochs = [], [], []
            for r in runs:
                epoch = chosen_epoch(r["history"], monitor, patience, restore)
                kept = r["history"][epoch - 1]
                f1.append(kept["test_macro_f1"])
                gmean.append(kept["test_macro_gmean"])
                epochs.append(epoch)
            s = summarise_values(f1)
            means[protocol][arm] = s.mean
            interval = (f"{100 * s.low:5.1f}-{100 * s.high:5.1f}" if s.low is not None
                        else "–")
            lines.append(f"{arm:24} {len(runs):>2} {100 * s.mean:>11.1f} {interval:>14} "
                         f"{100 * np.mean(gmean):>9.1f} {np.mean(epochs):>6.1f}")
    lines.append("\nrank by mean test macro F1 (1 = best):")
    lines.append(f"{'arm':24} " + " ".join(f"{p:>13}" for p in PROTOCOLS))
    for arm in arms:
        ranks = [1 + sum(means[p][other] > means[p][arm] for other in arms) for p in PROTOCOLS]
        lines.append(f"{arm:24} " + " ".join(f"{r:>13}" for r in ranks))
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The same figures as Markdown (docs/protocol.md): per arm, each protocol's mean test
    macro F1 over the seeds that have every arm, its 95% t-interval, the per-seed values
    and the epoch kept; then the ranks."""
    from cryobench.stats import summarise_values

    arms = list(dict.fromkeys(r["arm"] for r in results.values()))
    seeds = complete_seeds(results)
    if not seeds:
        return "No seed has every arm yet: the per-arm figures are in the plain tables."
    lines = [f"Test macro F1 (%) of the epoch each protocol keeps; seeds {seeds}; mean, "
             "95% t-interval over seeds, [each seed], (mean epoch kept).", "",
             "| arm | " + " | ".join(PROTOCOLS) + " |", "|---|" + "---:|" * len(PROTOCOLS)]
    means: dict[str, dict[str, float]] = {p: {} for p in PROTOCOLS}
    for arm in arms:
        cells = []
        for protocol, (monitor, patience, restore) in PROTOCOLS.items():
            runs = [results[f"{arm} / seed {s}"] for s in seeds]
            epochs = [chosen_epoch(r["history"], monitor, patience, restore) for r in runs]
            f1 = [r["history"][e - 1]["test_macro_f1"] for r, e in zip(runs, epochs)]
            s = summarise_values(f1)
            means[protocol][arm] = s.mean
            interval = (f" ({100 * max(s.low, 0):.0f}-{100 * min(s.high, 1):.0f})"
                        if s.low is not None else "")
            each = ", ".join(f"{100 * v:.1f}" for v in f1)
            cells.append(f"{100 * s.mean:.1f}{interval} [{each}] (ep {np.mean(epochs):.0f})")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", "Rank by mean test macro F1 (1 = best):", "",
              "| arm | " + " | ".join(PROTOCOLS) + " |", "|---|" + "---:|" * len(PROTOCOLS)]
    for arm in arms:
        ranks = [1 + sum(means[p][o] > means[p][arm] for o in arms) for p in PROTOCOLS]
        lines.append(f"| {arm} | " + " | ".join(map(str, ranks)) + " |")
    return "\n".join(lines + ["", paired(results, arms, seeds)])


def complete_seeds(results: dict[str, Any]) -> list[int]:
    """The seeds on which every arm of the study has its trajectory."""
    arms = {r["arm"] for r in results.values()}
    seeds = sorted({r["seed"] for r in results.values()})
    return [s for s in seeds if all(f"{a} / seed {s}" in results for a in arms)]


def kept_test_f1(run: dict[str, Any], protocol: str) -> float:
    """The test macro F1 of the epoch `protocol` keeps on this trajectory."""
    return run["history"][chosen_epoch(run["history"], *PROTOCOLS[protocol]) - 1][
        "test_macro_f1"]


def paired(results: dict[str, Any], arms: list[str], seeds: list[int],
           reference: str = "fixed, best") -> str:
    """`reference` minus each other protocol, paired by arm and seed (one split each):
    mean difference in test macro F1 points, the per-seed differences, and how many
    pairs the reference won, tied and lost."""
    others = [p for p in PROTOCOLS if p != reference]
    lines = [f"\"{reference}\" minus each other protocol, paired by seed (test macro F1 "
             "points): mean [each seed]; last row: pairs won / tied / lost.", "",
             "| arm | " + " | ".join(others) + " |", "|---|" + "---:|" * len(others)]
    tally = {p: [0, 0, 0] for p in others}
    for arm in arms:
        runs = [results[f"{arm} / seed {s}"] for s in seeds]
        cells = []
        for protocol in others:
            diffs = [100 * (kept_test_f1(r, reference) - kept_test_f1(r, protocol))
                     for r in runs]
            for d in diffs:
                tally[protocol][0 if d > 0.05 else 2 if d < -0.05 else 1] += 1
            each = ", ".join(f"{d:+.1f}" for d in diffs)
            cells.append(f"{np.mean(diffs):+.1f} [{each}]")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines.append("| won / tied / lost | " + " | ".join(
        "/".join(map(str, tally[p])) for p in others) + " |")
    return "\n".join(lines)


def tuned_beside(tuned_file: Path, shared_file: Path, profile: str = "tuned") -> str:
    """Each arm's own tuned configuration beside the shared learning rate, both under
    "fixed, best" and both run on the same machine, paired by seed: the test macro F1 of
    each, their difference, the validation F1 each was chosen on (how far selection on
    the validation part can be trusted), the order of the arms under each and Kendall's
    tau between the orders. Only the trials of protocol.toml's ``profile`` (tuned) and
    fixed profiles as they are now are read (a result file keeps earlier trials too).
    Across machines the same trial is not the same trajectory
    (docs/benchmark-files.md#seeds), so a pair whose records name different machines is
    reported."""
    from scipy.stats import kendalltau

    from cryobench.config import load_benchmark
    from cryobench.registry import Registry
    from cryobench.run.plan import expand_trials
    from cryobench.run.results import ResultStore
    from cryobench.stats import summarise_values

    from cryobench.specs import values_of

    def trials(path: Path, name: str) -> tuple[dict[tuple[str, int], Any], list[Any]]:
        bench = load_benchmark(ROOT / "benchmarks" / "protocol.toml", Registry(),
                               profile=name)
        specs = expand_trials(bench)
        current = {t.key for t in specs}
        return {(r.arm, r.seed): r for r in ResultStore(path).finished().values()
                if r.key in current}, specs

    tuned, specs = trials(tuned_file, profile)
    shared, _ = trials(shared_file, "fixed") if shared_file.exists() else ({}, [])
    # where a search chose the file's own values, its trial is the shared-rate trial:
    # the same configuration, seed, split and epochs
    first = {(t.arm, t.seed): values_of(t, [d.target for d in t.tune.space])
             for t in specs if t.tune}
    for (arm, seed), record in tuned.items():
        if (arm, seed) not in shared and first.get((arm, seed)) and \
                record.tuning["chosen"] == first[arm, seed]:
            shared[arm, seed] = record
    arms = list(dict.fromkeys(t.arm for t in specs))
    seeds = sorted({s for _, s in tuned if all((a, s) in tuned and (a, s) in shared
                                               for a in arms)})
    if not seeds:
        return f"No seed has every arm both in {shared_file} (or its search's own first " \
               f"configuration) and in {tuned_file}."

    def cell(values: list[float]) -> str:
        s = summarise_values(values)
        interval = (f" ({100 * max(s.low, 0):.0f}-{100 * min(s.high, 1):.0f})"
                    if s.low is not None else "")
        return f"{100 * s.mean:.1f}{interval} [{', '.join(f'{100 * v:.1f}' for v in values)}]"

    lines = [f"Test macro F1 (%) under \"fixed, best\", seeds {seeds}: mean, 95% t-interval, "
             "[each seed]; own minus shared in points, paired by seed; the validation macro "
             "F1 each was chosen on, shared / own, per seed.", "",
             "| arm | shared lr | own, tuned | own - shared | validation F1 | chosen |",
             "|---|---:|---:|---:|---|---|"]
    means: dict[str, dict[str, float]] = {"shared": {}, "own": {}}
    tally, machines = [0, 0, 0], []
    for arm in arms:
        pairs = [(shared[arm, s], tuned[arm, s]) for s in seeds]
        base = [h.metrics["macro_f1"] for h, _ in pairs]
        own = [t.metrics["macro_f1"] for _, t in pairs]
        diffs = [100 * (o - b) for o, b in zip(own, base)]
        for d in diffs:
            tally[0 if d > 0.05 else 2 if d < -0.05 else 1] += 1
        means["shared"][arm], means["own"][arm] = float(np.mean(base)), float(np.mean(own))
        val = ", ".join(f"{max(e['val_macro_f1'] for e in h.history):.2f} / "
                        f"{t.tuning['score']:.2f}" + (" (the file's)" if h is t else "")
                        for h, t in pairs)
        chosen = "; ".join(", ".join(f"{k.split('.')[-1]} {_short(v)}" for k, v in
                                     sorted(t.tuning["chosen"].items())) for _, t in pairs)
        lines.append(f"| {arm} | {cell(base)} | {cell(own)} | {np.mean(diffs):+.1f} "
                     f"[{', '.join(f'{d:+.1f}' for d in diffs)}] | {val} | {chosen} |")
        machines += [(arm, s, h.machine, t.machine) for s, (h, t) in zip(seeds, pairs)]
    ranks = {k: [1 + sum(m[o] > m[a] for o in arms) for a in arms] for k, m in means.items()}
    tau = kendalltau(ranks["shared"], ranks["own"]).statistic if len(arms) > 1 else 1.0
    lines += ["", f"Own minus shared: {tally[0]} pairs won, {tally[1]} tied, {tally[2]} lost. "
              "Rank by mean (1 = best), shared -> own: " + "; ".join(
                  f"{a} {r} -> {t}" for a, r, t in zip(arms, ranks["shared"], ranks["own"]))
              + f". Kendall's tau between the orders: {tau:.2f}."]
    unlike = [f"{a} / seed {s}" for a, s, h, t in machines if h and t and h != t]
    unknown = sum(1 for _, _, h, t in machines if not (h and t))
    lines.append("Machines: " + (f"differ for {', '.join(unlike)}" if unlike else
                                 "no pair ran on two different machines")
                 + (f" ({unknown} pair(s) from records that do not say)" if unknown else "")
                 + ".")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.2g}" if isinstance(value, float) else str(value)


def figure(results: dict[str, Any], path: Path) -> None:
    """One panel per arm: validation (dashed) and test (solid) macro F1 per epoch, one
    colour per seed; a dot where "stop on F1" stopped, a cross at the epoch it kept."""
    from cryobench.figures import _pyplot, save_png

    plt = _pyplot()

    arms = list(dict.fromkeys(r["arm"] for r in results.values()))
    rows = (len(arms) + 1) // 2
    fig, grid = plt.subplots(rows, 2, figsize=(10, 3.4 * rows + 0.6), sharey=True,
                             squeeze=False)
    axes = list(grid.flat)
    for ax in axes[len(arms):]:
        ax.set_visible(False)
    for ax, arm in zip(axes, arms):
        for run in (r for r in results.values() if r["arm"] == arm):
            colour = f"C{run['seed']}"
            epochs = [h["epoch"] for h in run["history"]]
            ax.plot(epochs, [h["val_macro_f1"] for h in run["history"]], "--", color=colour,
                    alpha=0.6, linewidth=1)
            ax.plot(epochs, [h["test_macro_f1"] for h in run["history"]], "-", color=colour,
                    linewidth=1.5, label=f"seed {run['seed']}")
            kept = chosen_epoch(run["history"], "val_macro_f1", 8, "best")
            stop = chosen_epoch(run["history"], "val_macro_f1", 8, "last")
            ax.plot([kept], [run["history"][kept - 1]["test_macro_f1"]], "x", color=colour,
                    markersize=9, markeredgewidth=2)
            ax.axvline(stop, color=colour, linewidth=0.8, alpha=0.5)
        ax.set_title(arm, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
    for ax in grid[:, 0]:
        ax.set_ylabel("macro F1\n(solid: test, dashed: validation)")
    axes[0].legend(fontsize=8, loc="upper left")
    sizes = sorted({r["val_particles"] for r in results.values() if "val_particles" in r})
    part = f", {' or '.join(map(str, sizes))} validation particles" if sizes else ""
    fig.suptitle(f"30 epochs per arm and seed (colour){part}; vertical line: where "
                 "patience-8 early stopping stops (at 30: it never did); x: the epoch it "
                 "keeps", fontsize=10)
    save_png(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("protocol-study.json"))
    parser.add_argument("--read", type=Path, help="only print the tables of a finished study")
    parser.add_argument("--profile", default="fixed", help="'quick' for a smoke run")
    parser.add_argument("--markdown", action="store_true", help="tables as Markdown")
    parser.add_argument("--figure", type=Path, help="also draw the curves to this PNG")
    parser.add_argument("--tuned", type=Path, help="a `--profile tuned` result file to set "
                        "beside --shared")
    parser.add_argument("--tuned-profile", default="tuned", help="the profile of --tuned "
                        "(tuned, or lr-grid)")
    parser.add_argument("--shared", type=Path, help="a `--profile fixed` result file (the "
                        "shared learning rate's \"fixed, best\") from the same machine")
    args = parser.parse_args()
    if args.tuned or args.shared:
        if not (args.tuned and args.shared):
            parser.error("--tuned and --shared go together")
        print(tuned_beside(args.tuned, args.shared, args.tuned_profile))
        return
    results = json.loads(args.read.read_text()) if args.read else train_all(
        args.seeds, args.out, args.profile)
    for profile, runs in by_profile(results).items():
        sizes = sorted({r["val_particles"] for r in runs.values() if "val_particles" in r})
        print(f"\n## profile {profile}" + (f": validation part of {', '.join(map(str, sizes))} "
                                            "particles" if sizes else "") + "\n")
        print(markdown(runs) if args.markdown else tables(runs))
        if args.figure:
            path = args.figure if profile == "fixed" else args.figure.with_name(
                f"{args.figure.stem}-{profile}{args.figure.suffix}")
            figure(runs, path)


if __name__ == "__main__":
    sys.exit(main())
