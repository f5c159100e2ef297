"""The report's analysis on constructed results: pairing, the baseline, Holm over arms,
ranks, and a sweep's lines and significance (no training; the numbers are chosen)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from cryobench.config import parse_benchmark
from cryobench.errors import CryobenchError
from cryobench.report import write_report
from cryobench.report.analysis import analyse
from cryobench.run.plan import expand_trials
from cryobench.run.records import TrialRecord


def records_for(bench, score):
    """One finished record per trial, its macro figures ``score(arm, seed)``."""
    out = []
    for t in expand_trials(bench):
        value = float(score(t.arm, t.seed))
        classes = list(t.dataset.classes or ("a", "b"))
        out.append(TrialRecord(
            key=t.key, benchmark=bench.name, arm=t.arm, seed=t.seed, fold=None, status="ok",
            classes=classes, metrics={"macro_f1": value, "macro_gmean": value,
                                         "balanced_accuracy": value},
            per_class=[{"name": c, "precision": value, "recall": value, "f1": value,
                        "gmean": value, "support": 10} for c in classes],
            confusion=(np.eye(len(classes), dtype=int) * 8 + 1).tolist(), sizes={"train": 60, "val": 10, "test": 20},
            timings={"fit_seconds": 1.0 + t.seed}))
    return out


@pytest.fixture
def three_arms(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["benchmark"]["seeds"] = [0, 1, 2, 3, 4, 5]
    doc["arm"].append({"name": "hot", "model": {"name": "centroid", "temperature": 3.0}})
    doc["reference"] = {"arms": {"plain": {"macro_f1": 99.5}, "warm": {"macro_f1": 75.0}}}
    return parse_benchmark(doc, registry)


def test_a_real_gain_is_significant_and_noise_is_not(three_arms):
    noise = np.random.default_rng(0).normal(0, 0.02, size=6)
    gain = {"plain": 0.0, "warm": 0.15, "hot": 0.0}
    wobble = {"plain": 0.0, "warm": 0.01, "hot": 1.0}
    found = analyse(three_arms, records_for(
        three_arms, lambda arm, seed: 0.6 + gain[arm] + wobble[arm] * noise[seed]
        + 0.01 * (seed % 2)))
    assert found.baseline == "plain"  # the first plain arm: no multi-path CNN here
    assert found.test_train_ratio == pytest.approx(20 / 70)
    warm, hot = found.comparisons["macro_f1"]
    assert (warm.arm, hot.arm) == ("warm", "hot")
    assert warm.test.difference == pytest.approx(0.15, abs=0.01) and warm.significant
    assert not hot.significant and hot.test.low < 0 < hot.test.high
    # Holm over the two comparisons: the larger p is at least the raw one
    assert hot.p_holm >= hot.test.p_value
    assert found.ranks is not None and found.ranks.ranks["warm"] == 1.0


def test_the_baseline_can_be_chosen_and_must_exist(three_arms):
    rows = records_for(three_arms, lambda arm, seed: 0.5 + 0.01 * seed)
    assert analyse(three_arms, rows, "warm").baseline == "warm"
    with pytest.raises(CryobenchError, match="--baseline: unknown arm 'cold'"):
        analyse(three_arms, rows, "cold")
    with pytest.raises(CryobenchError, match="nothing to report"):
        analyse(three_arms, [])


def test_a_sweep_is_reported_along_its_axis(minimal_doc, registry, tmp_path):
    """The gain of "warm" grows with n: significant only at the largest value, and the
    report says so, with the sweep's figure."""
    doc = copy.deepcopy(minimal_doc)
    doc["benchmark"]["seeds"] = [0, 1, 2, 3, 4, 5]
    doc["sweep"] = {"dataset.n": [20, 40, 80]}
    bench = parse_benchmark(doc, registry)
    jitter = np.random.default_rng(1).normal(0, 0.03, size=6)

    def score(arm, seed):
        gain = {"warm @ n 80": 0.2}.get(arm, 0.0)
        wobble = jitter[seed] if arm.startswith("warm") else 0.0
        return 0.5 + gain + wobble

    written = write_report(bench, records_for(bench, score), tmp_path / "sweep")
    lines = {line.family: line.points for line in written.analysis.sweep}
    assert set(lines) == {"plain", "warm"} and sorted(lines["warm"]) == [20.0, 40.0, 80.0]
    assert lines["warm"][80.0].mean == pytest.approx(0.7 + jitter.mean())
    significant = [c.arm for c in written.analysis.comparisons["macro_f1"] if c.significant]
    assert significant == ["warm @ n 80"]
    md = written.markdown.read_text()
    assert "## Along the sweep: n" in md and "figures/sweep.png" in md
    assert "**warm**: n 80: better by" in md
    assert (tmp_path / "sweep" / "figures" / "sweep.png").stat().st_size > 5000


def test_class_subsets_are_compared_subset_by_subset():
    """Table VI runs its arms on different subsets: each CNN arm is compared with the
    GSVM-RU arm on its own subsets, and ranking all arms at once is declined, saying why."""
    from pathlib import Path

    from cryobench.config import load_benchmark
    from cryobench.registry import Registry

    root = Path(__file__).resolve().parents[2]
    bench = load_benchmark(root / "benchmarks" / "table6.toml", Registry(), inspect_data=False)
    rng = np.random.default_rng(2)
    found = analyse(bench, records_for(
        bench, lambda arm, seed: 0.6 + 0.1 * ("CNN" in arm) + rng.normal(0, 0.02)))
    assert found.baseline == "GSVM-RU (four classes)"
    pairs = {(c.arm, c.baseline) for c in found.comparisons["macro_f1"]}
    assert pairs == {("four-path CNN + mixup + focal loss", "GSVM-RU (four classes)"),
                     ("three-path CNN + mixup + focal loss", "GSVM-RU (three classes)"),
                     ("two-path CNN + mixup + focal loss", "GSVM-RU (two classes)")}
    assert len(found.comparisons["macro_f1"]) == 1 + 4 + 6  # one row per subset
    assert found.ranks is None and "different class subsets" in found.ranks_note
    # beside another profile, each arm is a row per subset, as in the leaderboard
    records = records_for(bench, lambda arm, seed: 0.5)
    side = analyse(bench, records, beside=[(bench, records)]).beside
    assert len(side.rows) == 2 * (1 + 4 + 6)  # a CNN and a GSVM-RU arm per subset
    assert side.rows[-1].startswith("GSVM-RU (two classes) [")


def test_one_seed_says_there_is_no_interval_rather_than_printing_one(minimal_doc, registry,
                                                                    tmp_path):
    doc = copy.deepcopy(minimal_doc)
    doc["benchmark"]["seeds"] = [0]
    doc["arm"].append({"name": "hot", "model": {"name": "centroid", "temperature": 3.0}})
    bench = parse_benchmark(doc, registry)
    written = write_report(bench, records_for(bench, lambda arm, seed: 0.5 + 0.1 * len(arm)),
                           tmp_path / "one")
    md = written.markdown.read_text()
    assert "Each arm has one seed: with no spread there is no interval and no test" in md
    assert "No rank test" in md and "one seed: no test" in md
    board = md.split("## Leaderboard")[1].split("\n## ")[0]
    assert "| – |" in board  # the interval column, with nothing in it
    assert written.html.read_text().count("<table>") >= 2


def test_the_paper_outside_the_interval_is_said_in_words(three_arms, tmp_path):
    rng = np.random.default_rng(3)
    gain = {"plain": 0.0, "warm": 0.15, "hot": 0.0}
    written = write_report(three_arms, records_for(
        three_arms, lambda arm, seed: 0.6 + gain[arm] + rng.normal(0, 0.02)), tmp_path / "p")
    md = written.markdown.read_text()
    assert "**plain**: the paper's macro F1 99.5 lies above this run's 95% interval" in md
    assert "Inside this run's 95% interval: the macro F1 of warm." in md


def test_arm_names_are_shown_as_written_not_read_as_markup(three_arms, tmp_path):
    from markdown_it import MarkdownIt

    names = {"plain": "plain", "warm": "warm *v2* [a]", "hot": "hot_x|y <b> & co"}
    bench = dataclasses.replace(three_arms, description="+ one: a & b", arms=tuple(
        dataclasses.replace(a, name=names[a.name]) for a in three_arms.arms))
    gain = {"plain": 0.0, "warm *v2* [a]": 0.15, "hot_x|y <b> & co": 0.0}
    rng = np.random.default_rng(3)
    written = write_report(bench, records_for(
        bench, lambda arm, seed: 0.6 + gain[arm] + rng.normal(0, 0.02)), tmp_path / "names",
        baseline="warm *v2* [a]")
    rendered = MarkdownIt("commonmark").enable("table").render(written.markdown.read_text())
    page = written.html.read_text()
    assert rendered.count("<em>") == page.count("<figcaption>")  # the captions' italics
    for shown in (rendered, page):
        assert "<b>" not in shown and "\\" not in shown  # no markup, no escape left showing
        assert "warm *v2* [a]" in shown and "hot_x|y &lt;b&gt; &amp; co" in shown
        assert "<p>+ one: a &amp; b" in shown  # a paragraph, not a list
        # in prose too (a heading names the baseline), not only in tables
        assert "<h2>Each arm against warm *v2* [a]</h2>" in shown
    # the prose marks still work around an escaped name
    assert "<strong>plain</strong>: the paper's macro F1 99.5" in rendered


def test_another_profile_is_paired_arm_by_arm_and_its_order_compared(three_arms, minimal_doc,
                                                                    registry, tmp_path):
    doc = copy.deepcopy(minimal_doc)
    doc["benchmark"]["seeds"] = [0, 1, 2, 3, 4, 5]
    doc["arm"].append({"name": "hot", "model": {"name": "centroid", "temperature": 3.0}})
    doc["profile"] = {"tuned": {"split": {"val_fraction": 0.2}}}
    tuned = parse_benchmark(doc, registry, profile="tuned")
    noise = np.random.default_rng(1).normal(0, 0.02, size=6)
    mine = records_for(three_arms, lambda arm, seed: 0.6 + 0.15 * (arm == "warm") + noise[seed])
    gain = {"plain": 0.3, "warm": 0.0, "hot": 0.01}  # under "tuned" plain gains 30 points
    theirs = records_for(tuned, lambda arm, seed: 0.6 + 0.15 * (arm == "warm") + gain[arm]
                         + noise[seed] + 0.01 * (seed % 2))
    theirs = [dataclasses.replace(r, config={"split": "other"}) if r.arm == "hot" else r
              for r in theirs]
    written = write_report(three_arms, mine, tmp_path / "r", beside=[(tuned, theirs)])
    side = written.analysis.beside
    assert [c.label for c in side.columns] == ["no profile", "tuned"]
    assert side.columns[0].ranks == {"plain": 2, "warm": 1, "hot": 2}  # plain and hot tie
    assert side.columns[1].ranks["plain"] == 1  # the order changed
    plain, warm, hot = side.differences["tuned"]
    assert plain.test.difference == pytest.approx(0.3, abs=0.01) and plain.significant
    assert not warm.significant
    assert hot.test is None and hot.note == "other data or split: not paired"
    tau, why = side.agreement["tuned"]
    assert tau is not None and tau < 1 and not why
    # the other profile's own primary metric does not change what is compared
    other_metric = dataclasses.replace(tuned, primary_metric="balanced_accuracy")
    flat = [dataclasses.replace(r, metrics={**r.metrics, "balanced_accuracy": 0.5})
            for r in theirs]
    again = write_report(three_arms, mine, tmp_path / "r2", beside=[(other_metric, flat)])
    assert again.analysis.beside.differences["tuned"][0].test.difference == \
        pytest.approx(0.3, abs=0.01)
    # an arm the other profile did not run has no rank in either column
    partial = [r for r in theirs if r.arm != "hot"]
    ranked = analyse(three_arms, mine, beside=[(tuned, partial)]).beside
    assert ranked.columns[0].ranks == {"plain": 2, "warm": 1}
    assert ranked.columns[1].ranks == {"plain": 1, "warm": 2}
    # every arm tied under the other profile: said, not mistaken for too few arms
    tied = [dataclasses.replace(r, metrics={**r.metrics, "macro_f1": 0.5}) for r in theirs]
    third = write_report(three_arms, mine, tmp_path / "r3", beside=[(tuned, tied)])
    assert third.analysis.beside.agreement["tuned"] == (
        None, "every arm scores the same under one of the two")
    md = written.markdown.read_text()
    assert "## Beside other profiles" in md and "other data or split: not paired" in md
    assert (tmp_path / "r" / "figures" / "profiles.png").exists()


def test_the_report_says_where_each_seed_ran_and_how_long_each_arm_took(three_arms, tmp_path):
    epyc = {"torch": "2.13.0+cpu", "cpu": "AMD EPYC", "cpu_isa": "AVX512", "threads": "2"}
    xeon = {**epyc, "cpu": "Intel Xeon", "cpu_isa": "AVX2"}
    rows = records_for(three_arms, lambda arm, seed: 0.6 + 0.01 * seed)

    def section(rows, name):
        md = write_report(three_arms, rows, tmp_path / name).markdown.read_text()
        return md.split("## Where it ran, and how long it took")[1].split("\n## ")[0]

    hours = {"plain": 0.5, "warm": 1.0, "hot": 2.0}
    same = [dataclasses.replace(r, machine=epyc, timings={
        "data_seconds": 0.0, "fit_seconds": 3600 * hours[r.arm], "predict_seconds": 0.0})
        for r in rows]
    text = section(same, "one")
    assert "Every trial ran on one kind of machine" in text and "mix" not in text
    assert "| AMD EPYC (AVX512), torch 2.13.0+cpu, 2 threads | 0, 1, 2, 3, 4, 5 | 18 | 21.0 |" \
        in text
    assert "The 18 trials took 21.0 hours in all" in text
    # the slowest arm first: its trials, minutes per trial, hours
    assert text.index("| hot | 6 | 120.0 | 12.0 |") < text.index("| plain | 6 | 30.0 | 3.0 |")

    # seed 5's "hot" trial moved to another machine: that seed's pairs mix machines
    moved = [dataclasses.replace(r, machine=xeon) if (r.seed, r.arm) == (5, "hot") else r
             for r in same]
    text = section(moved, "two")
    assert "The trials ran on 2 kinds of machine" in text
    assert "Seed 5 mixes machines" in text
    assert "| Intel Xeon (AVX2), torch 2.13.0+cpu, 2 threads | 5 | 1 | 2.0 |" in text
    # records from before machines were recorded say so, not a made-up machine
    older = [dataclasses.replace(r, machine={}) for r in same]
    assert "| not recorded (an older record) |" in section(older, "old")


def test_an_arm_on_its_first_seed_is_left_out_of_the_rankings_not_all_of_them(
        three_arms, tmp_path):
    """A long run carried forward: one arm has a seed, the others six. The rank test and
    the Bayesian analysis rank the others, and say which arm waits."""
    noise = np.random.default_rng(1).normal(0, 0.02, size=6)
    records = [r for r in records_for(three_arms, lambda arm, seed: 0.6 + noise[seed]
                                      + (0.1 if arm == "warm" else 0.0))
               if r.arm != "hot" or r.seed == 0]
    found = analyse(three_arms, records)
    assert found.bayes_left_out == ["hot"]
    assert found.bayes is not None and [a.arm for a in found.bayes.arms] == ["warm"]
    assert found.bayes.seeds == 6
    # two arms left: ranking all at once needs three, and the note says which waits
    assert found.ranks is None and "(hot not yet)" in found.ranks_note
    # with every arm on every seed nothing waits
    whole = analyse(three_arms, records_for(three_arms, lambda arm, seed: 0.6 + noise[seed]))
    assert whole.ranks_left_out == whole.bayes_left_out == [] and whole.ranks is not None
    # a fourth arm: the three with every seed are ranked, the fourth waits
    four = dataclasses.replace(three_arms, arms=three_arms.arms + (dataclasses.replace(
        three_arms.arms[1], name="cool"),))
    more = [r for r in records_for(four, lambda arm, seed: 0.6 + noise[seed])
            if r.arm != "hot" or r.seed == 0]
    ranked = analyse(four, more)
    assert ranked.ranks is not None and ranked.ranks_left_out == ["hot"]
    assert len(ranked.ranks.arms) == 3
    text = write_report(four, more, tmp_path).markdown.read_text()
    assert "Left out until they have finished as many seeds as the others: hot." in text
    assert text.count("Left out until") == 2  # the rank test and the Bayesian analysis


def test_ensembles_are_shown_beside_their_members_and_an_early_stop_is_named(
        three_arms, tmp_path):
    """Members scored alone beside the ensemble; a boosting trial that kept fewer members
    than asked says which member stopped it, why and where its error was measured; a
    report without ensembles has no section."""
    plain = records_for(three_arms, lambda arm, seed: 0.6 + 0.01 * seed)
    text = write_report(three_arms, plain, tmp_path / "plain").markdown.read_text()
    assert "## Ensembles and their members" not in text

    def as_ensemble(r):
        if r.arm != "warm":
            return r
        fit = {0: {"members": 1, "errors": [0.26, 0.84], "errors_on": ["out_of_bag"] * 2},
               1: {"members": 1, "errors": [0.7], "errors_on": ["held_out"]},
               }.get(r.seed, {"members": 3, "errors": [0.2, 0.3, 0.4],
                              "errors_on": ["out_of_bag"] * 3})
        members = [0.55, 0.7, 0.5] if r.seed > 1 else [r.metrics["macro_f1"]]
        return dataclasses.replace(
            r, config={"ensemble": {"name": "boosting", "members": 3}}, fit=fit,
            report={"members": [{"member": i + 1, "macro_f1": m, "macro_gmean": m}
                                for i, m in enumerate(members)]})

    records = [as_ensemble(r) for r in plain]
    text = write_report(three_arms, records, tmp_path / "ens").markdown.read_text()
    section = text.split("## Ensembles and their members")[1].split("\n## ")[0]
    # seeds 2-5 score 62-65: above the first member (55) and the mean (58.3), below the
    # best (70)
    assert ("Of the 4 trials with two or more members, the ensemble beats its first "
            "member in 4, its members' mean in 4 and its best member in 0.") in section
    assert "| warm | 0 | 1 of 3 | 60.0 | 60.0 | 60.0 | 60.0 |" in section
    assert "| warm | 2 | 3 of 3 | 62.0 | 55.0 | 58.3 | 70.0 |" in section
    assert ("**warm**, seed 0: stopped at member 2: its weighted error out of bag, 0.84, "
            "is no better than chance (1 − 1/K = 0.50), so it was dropped.") in section
    assert ("**warm**, seed 1: stopped at member 1: its weighted error on its held-out "
            "third, 0.70, is no better than chance (1 − 1/K = 0.50); it is kept alone, so "
            "that there is an ensemble.") in section
    assert "seed 2:" not in section  # kept all three: nothing to explain
    assert (tmp_path / "ens" / "figures" / "ensemble_members.png").stat().st_size > 0


def test_arms_of_equal_rank_are_named_as_a_tie_and_the_diagram_still_draws(tmp_path):
    from cryobench.report import figures
    from cryobench.stats import friedman_test

    rng = np.random.default_rng(0)
    scores = {f"arm {i}": list(rng.normal(i * 0.01, 0.02, 3)) for i in range(12)}
    del scores["arm 11"]
    scores["*arm* 11"] = list(scores["arm 10"])  # same scores on every seed: same rank
    ranks = friedman_test(scores)
    assert figures.tied_ranks(ranks.ranks) == [["arm 10", "*arm* 11"]]
    assert figures.tied_ranks({"a": 1.0, "b": 1.0 + 1e-6, "c": 3.0}) == []
    png = figures.critical_difference_png(tmp_path / "cd.png", ranks, "t")  # 12 colours
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
