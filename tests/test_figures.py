"""Names in figures are drawn as written: a `$` in an arm or class name is not mathtext,
while matplotlib's own labels keep theirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryobench.figures import confusion_png, learning_curve_png, tuning_curves_png
from cryobench.report import figures
from cryobench.stats import friedman_test, summarise_values

# Valid as a name, invalid as mathtext: drawn with math parsing on, saving fails.
NAME = r"lr $\frac$ 5"
OTHER = "plain"


def _summaries() -> dict[str, object]:
    return {NAME: summarise_values([0.5, 0.6, 0.55]), OTHER: summarise_values([0.4, 0.45])}


def test_the_name_breaks_mathtext(tmp_path: Path) -> None:
    """The guard of the tests below: unescaped, this name fails to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title(NAME)
    with pytest.raises(ValueError):
        fig.savefig(tmp_path / "broken.png")
    plt.close(fig)


@pytest.mark.parametrize("draw", [
    lambda p: confusion_png(p, [[3, 1], [0, 4]], [NAME, OTHER], NAME),
    lambda p: learning_curve_png(p, [{"epoch": 1, "train_loss": 1.0, "val_macro_f1": 0.5}],
                                 NAME),
    lambda p: tuning_curves_png(p, [{"seed": 0, "tuning": {
        "chosen": {"train.lr": 0.01},
        "configurations": [{"values": {"train.lr": 0.01}, "status": "finished",
                            "curve": [0.3, 0.5]}]}}], NAME),
    lambda p: figures.leaderboard_png(p, [NAME, OTHER], list(_summaries().values()),
                                      [50.0, None], "macro_f1", NAME),
    lambda p: figures.per_class_png(p, [NAME], [NAME, OTHER], {
        NAME: {"recall": {NAME: [0.5, 0.6], OTHER: [0.7]},
               "f1": {NAME: [0.4], OTHER: [0.6, 0.7]}}}),
    lambda p: figures.confusions_png(p, [NAME], [NAME, OTHER], [np.eye(2)]),
    lambda p: figures.learning_curves_png(p, {NAME: [[0.1, 0.2], [0.2]]}, [NAME]),
    lambda p: figures.fit_times_png(p, {NAME: [1.0, 2.0]}),
    lambda p: figures.sweep_png(p, NAME, {NAME: {0.1: summarise_values([0.5, 0.6])}},
                                "macro_f1", log_x=False),
    lambda p: figures.profiles_png(p, [NAME, OTHER], [(NAME, _summaries())], "macro_f1",
                                   NAME),
    lambda p: figures.critical_difference_png(p, friedman_test(
        {NAME: [0.5, 0.6, 0.7], OTHER: [0.4, 0.5, 0.5], "third": [0.3, 0.2, 0.6]}), NAME),
], ids=["confusion", "curve", "tuning", "leaderboard", "per-class", "confusions", "curves",
        "fit-times", "sweep", "profiles", "critical-difference"])
def test_figures_draw_names_with_dollars(tmp_path: Path, draw) -> None:
    path = draw(tmp_path / "figure.png")
    assert path.stat().st_size > 1000


def test_an_escaped_name_reads_as_written_and_numbers_keep_their_mathtext(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cryobench.figures import as_written, save_png

    fig, ax = plt.subplots()
    title = ax.set_title(as_written("cost $5 and $10"))
    ax.set_xscale("log")
    ax.plot([1e-3, 1e-1], [0, 1])
    fig.canvas.draw()
    shown, math = title._preprocess_math(title.get_text())
    assert (shown, math) == ("cost $5 and $10", False)  # plain text, the dollars kept
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t._preprocess_math(t.get_text())[1] for t in ticks)  # 10^-3
    save_png(fig, tmp_path / "log.png")
