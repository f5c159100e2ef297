"""The report's figures (PNG), sized and labelled to be read in print: the leaderboard with
intervals, per-class recall and F1, confusion matrices, learning curves, fit times, the
critical-difference diagram and a sweep's lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cryobench.figures import _pyplot, as_written, names_as_written, save_png
from cryobench.metrics import METRIC_LABELS
from cryobench.stats import RankTest, Summary

DPI = 120


def _colours() -> Callable[[int], object]:
    """Distinct colours, all dark enough for text: tab10, then Dark2 (18 in all; then
    they repeat)."""
    plt = _pyplot()
    colours = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("Dark2").colors)
    return lambda i: colours[i % len(colours)]


def _save(fig: object, path: Path) -> Path:
    return save_png(fig, path, dpi=DPI)


def leaderboard_png(path: Path, labels: Sequence[str], summaries: Sequence[Summary],
                    paper: Sequence[float | None], metric: str, title: str) -> Path:
    """Each arm's mean and 95% interval (a dot and a bar), the paper's figure as a cross."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(labels) + 1.4))
    y = np.arange(len(labels))[::-1]
    means = np.array([100 * s.mean for s in summaries])
    for yi, s in zip(y, summaries):
        if s.low is not None and s.high is not None:
            ax.plot([100 * max(s.low, 0), 100 * min(s.high, 1)], [yi, yi], color="tab:blue",
                    linewidth=2, solid_capstyle="butt")
    ax.plot(means, y, "o", color="tab:blue", label="here: mean, 95% interval")
    shown = [(yi, p) for yi, p in zip(y, paper) if p is not None]
    if shown:
        ax.plot([p for _, p in shown], [yi for yi, _ in shown], "x", color="tab:red",
                markersize=8, markeredgewidth=2, label="paper")
    ax.set_yticks(y, names_as_written(labels))
    ax.set_xlabel(f"{METRIC_LABELS[metric]} (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09 - 0.6 / len(labels)),
              ncol=2, frameon=False)
    ax.set_title(as_written(title), fontsize=10)
    return _save(fig, path)


def per_class_png(path: Path, labels: Sequence[str], classes: Sequence[str],
                  values: dict[str, dict[str, dict[str, list[float]]]]) -> Path:
    """Recall and F1 of each class, one bar per arm, mean and standard deviation over
    seeds; ``values[arm][figure][class]`` lists the seeds' values."""
    plt = _pyplot()
    width = 0.8 / max(len(labels), 1)
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.6 * len(classes) * 2 + 3), 4.6),
                             sharey=True)
    colours = _colours()
    x = np.arange(len(classes))
    for ax, figure in zip(axes, ("recall", "f1")):
        for i, arm in enumerate(labels):
            seeds = [values[arm][figure].get(c, []) for c in classes]
            mean = [100 * np.mean(s) if s else np.nan for s in seeds]
            std = [100 * np.std(s, ddof=1) if len(s) > 1 else 0.0 for s in seeds]
            ax.bar(x - 0.4 + width * (i + 0.5), mean, width, yerr=std, capsize=1.5,
                   color=colours(i), label=as_written(arm), error_kw={"linewidth": 0.8})
        ax.set_xticks(x, names_as_written(classes), rotation=20, ha="right")
        ax.set_ylim(0, 105)
        ax.set_title({"recall": "recall per class", "f1": "F1 per class"}[figure],
                     fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("% (mean ± std over seeds)")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def confusions_png(path: Path, labels: Sequence[str], classes: Sequence[str],
                   matrices: Sequence[np.ndarray]) -> Path:
    """Each arm's confusion matrix summed over seeds, rows normalised to one (recall on
    the diagonal)."""
    plt = _pyplot()
    columns = min(4, len(labels))
    rows = -(-len(labels) // columns)
    side = 0.55 * len(classes) + 1.6
    fig, axes = plt.subplots(rows, columns, figsize=(side * columns, side * rows + 0.4),
                             squeeze=False)
    for ax in axes.flat[len(labels):]:
        ax.axis("off")
    for ax, label, counts in zip(axes.flat, labels, matrices):
        counts = np.asarray(counts, dtype=np.float64)
        rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), names_as_written(classes), rotation=35, ha="right",
                      fontsize=7)
        ax.set_yticks(range(len(classes)), names_as_written(classes), fontsize=7)
        ax.set_title(as_written(label), fontsize=8)
    fig.supxlabel("predicted class", fontsize=9)
    fig.supylabel("true class", fontsize=9)
    return _save(fig, path)


def learning_curves_png(path: Path, curves: dict[str, list[list[float]]],
                        order: Sequence[str]) -> Path:
    """Validation macro F1 per epoch: each arm's mean over seeds, and its band (mean ±
    std) where two or more seeds reached that epoch. An arm keeps its colour of the other
    figures (its place in ``order``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.4))
    colours = _colours()
    for label, runs in curves.items():
        i = list(order).index(label)
        longest = max(len(r) for r in runs)
        table = np.full((len(runs), longest), np.nan)
        for j, run in enumerate(runs):
            table[j, :len(run)] = run
        count = np.sum(~np.isnan(table), axis=0)
        mean = np.nanmean(table, axis=0)
        epochs = np.arange(1, longest + 1)
        ax.plot(epochs, mean, color=colours(i), label=as_written(label), linewidth=1.4)
        if len(runs) > 1:
            std = np.array([np.nanstd(table[:, k], ddof=1) if count[k] > 1 else np.nan
                            for k in range(longest)])
            ax.fill_between(epochs, mean - std, mean + std, color=colours(i),
                            alpha=0.15, linewidth=0)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation macro F1")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def fit_times_png(path: Path, seconds: dict[str, list[float]]) -> Path:
    """Seconds to fit one trial, mean and standard deviation over seeds."""
    plt = _pyplot()
    labels = list(seconds)
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(labels) + 1.3))
    y = np.arange(len(labels))[::-1]
    means = [np.mean(seconds[a]) for a in labels]
    std = [np.std(seconds[a], ddof=1) if len(seconds[a]) > 1 else 0.0 for a in labels]
    ax.barh(y, means, xerr=std, color="tab:gray", capsize=2)
    ax.set_yticks(y, names_as_written(labels))
    ax.set_xlabel("fit time per trial (s)")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def tied_ranks(ranks: dict[str, float]) -> list[list[str]]:
    """Arms that share an average rank: the diagram draws them as one dot, so its title
    names them."""
    groups: dict[float, list[str]] = {}
    for arm, rank in ranks.items():
        groups.setdefault(round(float(rank), 9), []).append(arm)
    return [arms for _, arms in sorted(groups.items()) if len(arms) > 1]


def critical_difference_png(path: Path, ranks: RankTest, title: str) -> Path:
    """Demsar's diagram, drawn by scikit-posthocs: average ranks on an axis, arms whose
    difference Nemenyi's test does not find joined by a bar; a colour per arm, and arms
    of equal rank (one dot) named under the title."""
    import pandas as pd
    import scikit_posthocs as sp

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(ranks.arms) + 2.2))
    colour = _colours()
    sp.critical_difference_diagram(
        pd.Series(ranks.ranks).rename(index=as_written),
        ranks.nemenyi.rename(index=as_written, columns=as_written), ax=ax,
        label_props={"fontsize": 8},
        color_palette={as_written(a): colour(i) for i, a in enumerate(ranks.ranks)})
    ties = "; ".join(" and ".join(as_written(a) for a in arms)
                     + f" tie at rank {ranks.ranks[arms[0]]:.2g} (one dot)"
                     for arms in tied_ranks(ranks.ranks))
    ax.set_title(f"{as_written(title)}\naverage rank (1: best); critical difference "
                 f"{ranks.critical_difference:.2f} (Nemenyi, 0.05)"
                 + (f"\n{ties}" if ties else ""), fontsize=9)
    return _save(fig, path)


def sweep_png(path: Path, axis: str, lines: dict[str, dict[float, Summary]],
              metric: str, log_x: bool, significant: dict[str, set[float]] | None = None
              ) -> Path:
    """The metric against the swept value, one line per arm: mean over seeds, and the
    95% interval as a band where there are two or more seeds; a star where the arm
    differs significantly from the baseline at that value."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.6))
    colours = _colours()
    for i, (label, points) in enumerate(lines.items()):
        xs = sorted(points)
        mean = np.array([100 * points[x].mean for x in xs])
        ax.plot(xs, mean, marker="o", color=colours(i), label=as_written(label))
        low = [points[x].low for x in xs]
        high = [points[x].high for x in xs]
        if all(v is not None for v in low + high):
            ax.fill_between(xs, [100 * max(v, 0) for v in low],  # type: ignore[arg-type]
                            [100 * min(v, 1) for v in high],  # type: ignore[arg-type]
                            color=colours(i), alpha=0.15, linewidth=0)
        starred = [x for x in xs if x in (significant or {}).get(label, set())]
        if starred:
            ax.plot(starred, [100 * points[x].mean for x in starred], "*", markersize=15,
                    color=colours(i), markeredgecolor="black", linestyle="none")
    if significant and any(significant.values()):
        ax.plot([], [], "*", markersize=12, color="white", markeredgecolor="black",
                label="differs from the baseline\n(Holm p < 0.05)")
    if log_x:
        ax.set_xscale("log")
    swept = sorted({x for points in lines.values() for x in points})
    ax.set_xticks(swept, [f"{x:g}" for x in swept])  # the swept values, as written
    ax.minorticks_off()
    ax.set_xlabel(as_written(axis))
    ax.set_ylabel(f"{METRIC_LABELS[metric]} (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def profiles_png(path: Path, arms: Sequence[str],
                 columns: Sequence[tuple[str, dict[str, Summary]]], metric: str, title: str
                 ) -> Path:
    """Each arm's mean and 95% interval under each profile, one colour per profile, so
    that a setting that moves an arm (or the order) shows as a shift along a row."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(arms) * max(1, len(columns) / 2) + 1.6))
    y = np.arange(len(arms))[::-1].astype(float)
    step = 0.6 / max(len(columns), 1)
    for i, (label, summaries) in enumerate(columns):
        offset = 0.3 - step * (i + 0.5)
        colour = f"C{i}"
        shown = [(yi + offset, summaries[a]) for yi, a in zip(y, arms) if a in summaries]
        for yi, s in shown:
            if s.low is not None and s.high is not None:
                ax.plot([100 * max(s.low, 0), 100 * min(s.high, 1)], [yi, yi], color=colour,
                        linewidth=2, solid_capstyle="butt")
        ax.plot([100 * s.mean for _, s in shown], [yi for yi, _ in shown], "o", color=colour,
                label=as_written(label))
    ax.set_yticks(y, names_as_written(arms))
    ax.set_xlabel(f"{METRIC_LABELS[metric]} (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09 - 0.6 / len(arms)),
              ncol=min(4, len(columns)), frameon=False)
    ax.set_title(as_written(title), fontsize=10)
    return _save(fig, path)


def certainty_png(path: Path, labels: Sequence[str], better: Sequence[float],
                  equivalent: Sequence[float], worse: Sequence[float], rope_points: float,
                  baseline: str) -> Path:
    """Per arm, the posterior probability of being better than the baseline by more than
    the ROPE, within it, or worse (stacked to 1): how sure the comparison is."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(labels) + 1.6))
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for values, colour, label in ((worse, "tab:red", "worse"),
                                  (equivalent, "0.75", f"within ±{rope_points:g} point"),
                                  (better, "tab:green", "better")):
        ax.barh(y, values, left=left, color=colour, label=label, height=0.6)
        left += np.asarray(values)
    ax.set_yticks(y, names_as_written(labels))
    ax.set_xlim(0, 1)
    for line in (0.05, 0.95):  # green from left of 0.05, red past 0.95: decided
        ax.axvline(line, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"posterior probability against {as_written(baseline)}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1 - 0.6 / len(labels)),
              ncol=3, frameon=False)
    return _save(fig, path)


def ensemble_members_png(path: Path, arms: Sequence[str],
                         trials: dict[str, list[tuple[str, float, tuple[float, ...]]]],
                         metric: str) -> Path:
    """Per ensemble arm, one line per trial (its seed, and fold where there are folds):
    the members' figures alone (numbered dots) and the ensemble's (a diamond), so that an
    ensemble below its members shows at once."""
    plt = _pyplot()
    lines = [(a, seed, figure, members) for a in arms for seed, figure, members in trials[a]]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(lines) + 0.4 * len(arms) + 1.2))
    colours = _colours()
    y, ticks, labels = 0.0, [], []
    for i, a in enumerate(arms):
        if i:  # a gap and a rule between arms
            ax.axhline(y - 0.8, color="0.85", linewidth=0.8)
            y -= 0.6
        for seed, figure, members in trials[a]:
            y -= 1
            ax.plot([100 * min(members), 100 * max(members)], [y, y], color="0.8", zorder=1)
            ax.scatter([100 * m for m in members], [y] * len(members), s=42, color="white",
                       edgecolor="0.35", zorder=2)
            for k, m in enumerate(members, 1):
                ax.annotate(str(k), (100 * m, y), ha="center", va="center", fontsize=6,
                            zorder=3)
            ax.plot([100 * figure], [y], "D", color=colours(i), markersize=7, zorder=4)
            ticks.append(y)
            labels.append(f"{as_written(a)}, seed {seed}")
    ax.set_ylim(y - 0.7, -0.3)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel(f"{METRIC_LABELS[metric]} (%) on the test split")
    ax.grid(axis="x", alpha=0.3)
    ax.plot([], [], "D", color="0.3", label="ensemble")
    ax.scatter([], [], s=42, color="white", edgecolor="0.35", label="member alone (its number)")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
              frameon=False)
    return _save(fig, path)
