"""Figures people judge by eye: a trial's confusion matrix and learning curve (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def as_written(name: str) -> str:
    """A user's name (arm, class, benchmark) as matplotlib should draw it: a `$` escaped,
    so that mathtext neither mangles the name nor fails on it. Matplotlib's own labels
    (log-axis ticks) keep their mathtext."""
    return name.replace("$", r"\$")


def names_as_written(names: Sequence[str]) -> list[str]:
    return [as_written(n) for n in names]


def save_png(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Lay the figure out, write it cropped to what is drawn, and free it (pyplot keeps
    every open figure)."""
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.1)  # legends outside the axes kept, margins cut
    finally:
        _pyplot().close(fig)
    return path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def confusion_png(path: Path, confusion: Sequence[Sequence[int]], classes: Sequence[str],
                  title: str) -> Path:
    """Rows: the true class, normalised to one (recall on the diagonal); counts written in."""
    plt = _pyplot()
    counts = np.asarray(confusion, dtype=np.float64)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2.5, 1.1 * len(classes) + 2))
    image = ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{rates[i, j]:.2f}\n({int(counts[i, j])})", ha="center",
                    va="center", fontsize=8, color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), names_as_written(classes), rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), names_as_written(classes))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(as_written(title), fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    return save_png(fig, path)


def learning_curve_png(path: Path, history: Sequence[dict[str, float]], title: str) -> Path:
    """Training loss and validation macro F1 per epoch."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, loss_axis = plt.subplots(figsize=(6, 3.5))
    loss_axis.plot(epochs, [h["train_loss"] for h in history], color="tab:red", marker="o",
                   label="training loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss", color="tab:red")
    if any("val_macro_f1" in h for h in history):
        f1_axis = loss_axis.twinx()
        f1_axis.plot(epochs, [h.get("val_macro_f1", np.nan) for h in history],
                     color="tab:blue", marker="s", label="validation macro F1")
        f1_axis.set_ylim(0, 1)
        f1_axis.set_ylabel("validation macro F1", color="tab:blue")
    loss_axis.set_title(as_written(title), fontsize=10)
    return save_png(fig, path)


def tuning_curves_png(path: Path, outcomes: Sequence[dict[str, Any]], title: str) -> Path:
    """Each tried configuration's validation macro F1 per epoch, one panel per seed; the
    chosen one bold, those the scheduler stopped dashed."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(outcomes), figsize=(4.5 * len(outcomes), 3.4),
                             squeeze=False, sharey=True)
    for ax, (seed, outcome) in zip(axes[0], [(o["seed"], o["tuning"]) for o in outcomes]):
        for row in outcome.get("configurations", []):
            chosen = row["values"] == outcome.get("chosen") and row["status"] == "finished"
            curve = row.get("curve") or ([row["score"]] if row.get("score") is not None else [])
            ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3,
                    linewidth=2.5 if chosen else 1.0,
                    linestyle="--" if row["status"] == "stopped" else "-",
                    color="black" if chosen else None, alpha=1.0 if chosen else 0.6,
                    label="chosen" if chosen else None)
        ax.set_title(f"seed {seed}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, 1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
    axes[0][0].set_ylabel("validation macro F1")
    fig.suptitle(as_written(title) + " (dashed: stopped early)", fontsize=10)
    return save_png(fig, path)
