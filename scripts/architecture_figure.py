"""Draws docs/figures/architecture.png: the data flow of `cryobench run`, from the
benchmark file to the leaderboard, with where plugins enter.

    python scripts/architecture_figure.py [out.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

#: (name, module, x, y): the core's stages along the data flow
STAGES = [
    ("benchmark file", "benchmarks/*.toml", 0.0, 3.2),
    ("config", "cryobench/config.py", 1.0, 3.2),
    ("plan", "run/plan.py: TrialSpec, key", 2.0, 3.2),
    ("driver", "run/driver.py", 3.0, 3.2),
    ("executor", "run/local.py, run/ray/", 3.0, 2.0),
    ("trial", "run/trial.py", 2.0, 2.0),
    ("record", "run/records.py: TrialRecord", 1.0, 2.0),
    ("store", "run/results.py: <name>.jsonl", 1.0, 0.8),
    ("tracking", "tracking/mlflow.py", 2.0, 0.8),
    ("leaderboard, report", "run/leaderboard.py, report/", 3.0, 0.8),
]
FLOW = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9)]
#: (label, the stage it enters, its centre, its width): what plugins add, through
#: cryobench.api
PLUGINS = [
    ("registry: components, their\nParams and declared capabilities", 1, (1.0, 4.2), 1.1),
    ("plugins: data source, model, sampler, loss, augmentations,\nensemble "
     "(FitContext -> Predictor, EpochRecord)", 5, (2.0, 2.6), 1.65),
    ("plugins: cryobench_result_tables\n(the paths' Table III)", 9, (3.0, -0.2), 1.0),
]


def draw(out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 6.2))
    box = dict(boxstyle="round,pad=0.02,rounding_size=0.05", linewidth=1.2)
    centres = {}
    for i, (name, module, x, y) in enumerate(STAGES):
        ax.add_patch(FancyBboxPatch((x - 0.42, y - 0.24), 0.84, 0.48, facecolor="#dbe9f6",
                                    edgecolor="#2b5d8a", **box))
        ax.text(x, y + 0.07, name, ha="center", va="center", fontsize=11, weight="bold")
        ax.text(x, y - 0.11, module, ha="center", va="center", fontsize=7.5, color="0.25")
        centres[i] = (x, y)
    for a, b in FLOW:
        (x0, y0), (x1, y1) = centres[a], centres[b]
        dx, dy = x1 - x0, y1 - y0
        start = (x0 + 0.42 * dx, y0 + 0.24 * dy)
        end = (x1 - 0.42 * dx, y1 - 0.24 * dy)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                     color="#2b5d8a", linewidth=1.4))
    for label, stage, (x, y), width in PLUGINS:
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.17), width, 0.34, facecolor="#fde9d0",
                                    edgecolor="#b86b00", **box))
        ax.text(x, y, label, ha="center", va="center", fontsize=7.8)
        tx, ty = centres[stage]
        ax.add_patch(FancyArrowPatch((x, y + (-0.17 if y > ty else 0.17)),
                                     (tx, ty + (0.24 if y > ty else -0.24)),
                                     arrowstyle="-|>", mutation_scale=12, color="#b86b00",
                                     linestyle="--", linewidth=1.1))
    ax.text(-0.45, -0.3, "blue: the core, in the order a run goes through it\n"
                        "orange: what plugins add, through cryobench.api",
            fontsize=8.5, va="bottom", color="0.2")
    ax.set_xlim(-0.55, 3.55)
    ax.set_ylim(-0.45, 4.45)
    ax.axis("off")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(draw(Path(sys.argv[1]) if len(sys.argv) > 1 else
               Path(__file__).resolve().parents[1] / "docs" / "figures" / "architecture.png"))
