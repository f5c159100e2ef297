"""`cryobench report` on the results of a tiny real run: both files, every figure, the
HTML self-contained, the numbers those of `cryobench leaderboard`; bad input refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.test_cli import cli

BENCH = """\
[benchmark]
name = "tiny"
seeds = [0, 1, 2]
[dataset]
source = "synthetic"
box = 12
voxel_size = 4.0
snr = 50.0
class_counts = { TRiC = 36, ribosome = 14, proteasome_s = 22 }
[split]
test_fraction = 0.3
val_fraction = 0.25
[train]
max_epochs = 4
lr = 0.01
batch_size = 4
[[arm]]
name = "cnn"
model = { name = "cnn", widths = [8, 8, 8] }
[[arm]]
name = "cnn + focal"
model = { name = "cnn", widths = [8, 8, 8] }
loss = "focal"
[[arm]]
name = "cnn + oversampling"
model = { name = "cnn", widths = [8, 8, 8] }
sampler = "oversample"
[reference.arms]
"cnn" = { macro_f1 = 99.5 }
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Three arms of a tiny CNN over three seeds, run once for the module."""
    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "tiny.toml"
    path.write_text(BENCH)
    env = {"CRYOBENCH_CACHE_DIR": str(folder / "cache")}
    result = cli("run", str(path), "--executor", "local", "--no-tracking", "--results",
                 str(folder / "res"), env=env, cwd=folder)
    assert result.returncode == 0, result.stderr
    return path, env


def report(path: Path, *args: str, env: dict[str, str]):
    return cli("report", str(path), "--results", str(path.parent / "res"), "--no-tracking",
               *args, env=env, cwd=path.parent)


@pytest.mark.slow
def test_report_writes_both_files_with_every_figure(tiny_run, tmp_path):
    path, env = tiny_run
    out = tmp_path / "report"
    result = report(path, "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    expected = {"leaderboard", "critical_difference", "per_class", "confusion",
                "learning_curves", "fit_time"}
    pngs = {p.stem: p for p in (out / "figures").glob("*.png")}
    assert set(pngs) == expected
    for p in pngs.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
        assert f"figures/{p.name}" in md
    # self-contained: every figure embedded, nothing fetched from anywhere
    assert html.count('src="data:image/png;base64,') == len(expected)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "http://" not in html and "https://" not in html
    # the statistics the issue asks for are there, and say what they are
    for text in ("Nadeau", "Holm", "Wilcoxon", "Friedman", "Student's t", "cnn + focal",
                 "seeds needed", "detectable"):
        assert text in md, text
    assert not list(tmp_path.glob(".report.*")), "the scratch folder is left behind"


@pytest.mark.slow
def test_report_numbers_equal_the_leaderboard(tiny_run, tmp_path):
    path, env = tiny_run
    board = cli("leaderboard", str(path), "--results", str(path.parent / "res"), "--format",
                "json", env=env, cwd=path.parent)
    assert board.returncode == 0, board.stderr
    rows = json.loads(board.stdout)
    result = report(path, "--out", str(tmp_path / "r"), env=env)
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "r" / "report.md").read_text()
    for row in rows:
        line = next(x for x in md.splitlines() if x.startswith("| ") and f"| {row['arm']} |" in x)
        mean, std = 100 * row["macro_f1_mean"], 100 * row["macro_f1_std"]
        assert f"{mean:.1f} ± {std:.1f}" in line
        low, high = 100 * max(row["macro_f1_ci_low"], 0), 100 * min(row["macro_f1_ci_high"], 1)
        assert f"{low:.1f}–{high:.1f}" in line
    # the paper's 99.5 for "cnn" is far above a 2-epoch tiny CNN: said in words
    assert "the paper's macro F1 99.5 lies above this run's 95% interval" in md


@pytest.mark.slow
def test_report_bad_input_is_one_line_and_writes_nothing(tiny_run, tmp_path):
    path, env = tiny_run
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    cases = [
        (("--out", str(a_file)), "is a file"),
        (("--out", str(a_file / "below")), "is a file"),
        (("--out", str(tmp_path / "o1"), "--baseline", "nope"), "unknown arm 'nope'"),
        (("--out", str(tmp_path / "o2"), "--profile", "nope"), "profile"),
    ]
    for args, message in cases:
        result = report(path, *args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert a_file.read_text() == "x"
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    empty = cli("report", str(path), "--results", str(tmp_path / "none"), "--no-tracking",
                "--out", str(tmp_path / "o3"), env=env, cwd=tmp_path)
    assert empty.returncode == 2 and "no finished trial" in empty.stderr
    assert not (tmp_path / "o3").exists()


@pytest.mark.slow
def test_a_chosen_baseline_and_one_seed(tiny_run, tmp_path):
    """Another baseline changes who is compared with whom; a single seed gives no
    interval, and the report says so instead of printing a number."""
    path, env = tiny_run
    result = report(path, "--out", str(tmp_path / "b"), "--baseline", "cnn + focal", env=env)
    assert result.returncode == 0, result.stderr
    assert "## Each arm against cnn + focal" in (tmp_path / "b" / "report.md").read_text()
    one = path.with_name("one.toml")
    one.write_text(BENCH.replace('name = "tiny"', 'name = "one"').replace("[0, 1, 2]", "[0]"))
    run = cli("run", str(one), "--executor", "local", "--no-tracking", "--results",
              str(path.parent / "res"), env=env, cwd=path.parent)
    assert run.returncode == 0, run.stderr
    result = report(one, "--out", str(tmp_path / "one"), env=env)
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "one" / "report.md").read_text()
    assert "Each arm has one seed: with no spread there is no interval and no test" in md
    assert "No rank test" in md
    assert "One seed, no interval, so no statement" in md
