"""What a report says about finished results: the leaderboard's figures, each arm against
a baseline paired by seed, all arms ranked together, and (for a sweep) each arm's figure
along the swept value. Plain data; the report's text and figures are made from it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from cryobench.errors import CryobenchError, unknown_name_message
from cryobench.report.bayesian import BayesianRanks, bayesian_ranks
from cryobench.report.beside import SideBySide, side_by_side
from cryobench.run.leaderboard import ArmSummary, leaderboard_rows
from cryobench.run.records import TrialRecord
from cryobench.specs import Arm, Benchmark
from cryobench.stats import (
    ALPHA, PairedTest, RankTest, Summary, friedman_test, holm, paired_test, summarise_values,
)

#: the metrics an arm is compared on: the paper's two, and the benchmark's primary one
COMPARED = ("macro_f1", "macro_gmean")

Block = tuple[object, ...]  # what pairs two arms' trials: (sweep value, classes, seed, fold)
ByArm = dict[str, dict[Block, TrialRecord]]  # each arm's finished trials by block


@dataclass(frozen=True)
class Comparison:
    """One arm against the baseline on one metric (and class subset, and sweep point)."""

    arm: str
    baseline: str
    classes: str
    metric: str
    test: PairedTest
    p_holm: float | None  # Holm-adjusted over every comparison of this metric

    @property
    def significant(self) -> bool:
        return self.p_holm is not None and self.p_holm < ALPHA


@dataclass(frozen=True)
class SweepLine:
    """One arm (as the file names it) along the sweep: its summary at each value."""

    family: str
    points: dict[float, Summary]


@dataclass
class Analysis:
    bench: Benchmark
    records: list[TrialRecord]  # finished ones, under the file's current arm names
    rows: list[ArmSummary]  # the leaderboard's rows, the same numbers
    baseline: str  # the arm (as the file names it) every other is compared with
    test_train_ratio: float  # n_test / n_train of one split, for the corrected test
    comparisons: dict[str, list[Comparison]] = field(default_factory=dict)
    ranks: RankTest | None = None
    ranks_note: str = ""  # why there is no rank test, when there is none
    ranks_left_out: list[str] = field(default_factory=list)  # too few seeds to rank yet
    sweep_axis: str | None = None
    sweep: list[SweepLine] = field(default_factory=list)
    beside: SideBySide | None = None  # the same arms under other profiles
    bayes: BayesianRanks | None = None  # how sure each rank is
    bayes_note: str = ""  # why there is none, when there is none
    bayes_left_out: list[str] = field(default_factory=list)  # too few seeds to compare yet

    @property
    def seeds(self) -> int:
        """The most seeds any arm has (1: no interval anywhere)."""
        return max((r.n for r in self.rows if not r.over_subsets), default=0)


def default_baseline(bench: Benchmark) -> str:
    """The file's ``[report] baseline``, else its first plain arm (no strategy), else
    its first arm."""
    if bench.baseline is not None:
        return bench.baseline
    plain = [a for a in bench.arms if a.is_plain]
    return (plain or list(bench.arms))[0].family


def analyse(bench: Benchmark, records: list[TrialRecord], baseline: str | None = None,
            beside: Sequence[tuple[Benchmark, list[TrialRecord]]] = ()) -> Analysis:
    """Everything the report states, from the finished records of ``bench`` (and of
    other profiles of the same file, ``beside``)."""
    done = [r for r in records if r.ok]
    if not done:
        raise CryobenchError(f"no finished trial of {bench.name!r}: nothing to report; run "
                             "the benchmark first")
    families = list(dict.fromkeys(a.family for a in bench.arms))
    if baseline is None:
        baseline = default_baseline(bench)
    elif baseline not in families:
        raise CryobenchError("--baseline: " + unknown_name_message("arm", baseline, families))
    ratio = _test_train_ratio(done)
    out = Analysis(bench, done, leaderboard_rows(bench, done), baseline, ratio)
    by_arm = _by_arm(bench, done)  # each arm's records by block, once for every analysis
    out.comparisons = {m: _compare(bench, by_arm, baseline, m, ratio)
                       for m in dict.fromkeys((*COMPARED, bench.primary_metric))}
    out.ranks, out.ranks_note, out.ranks_left_out = _rank(bench, by_arm)
    out.bayes, out.bayes_note, out.bayes_left_out = _bayes(bench, by_arm, baseline, ratio)
    sweeps = {a.sweep.axis for a in bench.arms if a.sweep}
    if sweeps:
        out.sweep_axis = sweeps.pop()
        out.sweep = _sweep_lines(bench, by_arm)
    if beside:
        out.beside = side_by_side(bench, done, list(beside), ratio)
    return out


def _test_train_ratio(records: list[TrialRecord]) -> float:
    """n_test / n_train as Nadeau and Bengio define it: the held-out test part against
    what the model learnt from (training and validation parts)."""
    ratios = [r.sizes["test"] / (r.sizes["train"] + r.sizes.get("val", 0))
              for r in records if r.sizes.get("test") and r.sizes.get("train")]
    return float(median(ratios)) if ratios else 0.0


def _block(arm: Arm, record: TrialRecord) -> Block:
    return (arm.sweep.value if arm.sweep else None, record.classes_label, record.seed,
            record.fold)


def _by_arm(bench: Benchmark, records: list[TrialRecord]) -> ByArm:
    arms = {a.name: a for a in bench.arms}
    out: dict[str, dict[Block, TrialRecord]] = defaultdict(dict)
    for r in records:
        if r.arm in arms:
            out[r.arm][_block(arms[r.arm], r)] = r
    return out


def _compare(bench: Benchmark, by_arm: ByArm, baseline: str, metric: str, ratio: float
             ) -> list[Comparison]:
    """Every other arm against the baseline on the same class subset and sweep point,
    paired by seed and fold; Holm's adjustment over all of them. Where the baseline has
    no trial on a subset (the paper's Table VI runs other arms on other subsets), the
    first plain arm that has one stands in for it."""
    groups: dict[tuple[object, str], list[Arm]] = defaultdict(list)
    for arm in bench.arms:
        for classes in dict.fromkeys(block[1] for block in by_arm.get(arm.name, {})):
            groups[(arm.sweep.value if arm.sweep else None, str(classes))].append(arm)
    found: list[tuple[str, str, str, PairedTest]] = []
    for (_, classes), arms in groups.items():
        reference = next((a for a in arms if a.family == baseline), None) or \
            next((a for a in arms if a.is_plain), None)
        if reference is None:
            continue
        theirs = {b: r for b, r in by_arm[reference.name].items() if b[1] == classes}
        for arm in arms:
            if arm is reference:
                continue
            mine = {b: r for b, r in by_arm[arm.name].items() if b[1] == classes}
            shared = sorted(set(mine) & set(theirs), key=repr)
            if shared:
                differences = [mine[b].metrics[metric] - theirs[b].metrics[metric]
                               for b in shared]
                found.append((arm.name, reference.name, classes,
                              paired_test(differences, ratio)))
    order = {a.name: i for i, a in enumerate(bench.arms)}
    found.sort(key=lambda f: (order[f[0]], f[2]))
    adjusted = holm([t.p_value for *_, t in found])
    return [Comparison(arm, base, classes, metric, test, p)
            for (arm, base, classes, test), p in zip(found, adjusted)]


def uncompared(analysis: Analysis) -> list[str]:
    """Arms with finished trials that no comparison covers (no baseline on their subset,
    or no seed in common with it)."""
    compared = {c.arm for found in analysis.comparisons.values() for c in found} | \
        {c.baseline for found in analysis.comparisons.values() for c in found}
    return [a for a in dict.fromkeys(r.arm for r in analysis.records) if a not in compared]


def shared_blocks(scores: dict[str, dict[Block, float]], keep: str | None = None
                  ) -> tuple[list[Block], list[str]]:
    """The blocks (seeds) that every arm finished, after leaving out, fewest first, the
    arms with too few for two shared blocks (never ``keep``): an arm still on its first
    seed must not take the ranking of all the others away for the hours of a long run.
    Returns the shared blocks and the arms left out."""
    kept, left_out = dict(scores), []
    while True:
        common = set.intersection(*(set(v) for v in kept.values())) if kept else set()
        others = [a for a in reversed(list(kept)) if a != keep]
        if len(common) >= 2 or len(kept) <= 2 or not others:
            return sorted(common, key=repr), left_out
        fewest = min(others, key=lambda a: len(kept[a]))  # ties: the last in the file
        left_out.insert(0, fewest)
        del kept[fewest]


def _rank(bench: Benchmark, by_arm: ByArm) -> tuple[RankTest | None, str, list[str]]:
    """Friedman's test over the arms as the file names them, each block one seed (and
    class subset, and sweep point) that every arm finished (those with too few seeds
    yet left out)."""
    families: dict[str, dict[tuple[object, ...], float]] = defaultdict(dict)
    for arm in bench.arms:
        for block, record in by_arm.get(arm.name, {}).items():
            families[arm.family][block] = record.metrics[bench.primary_metric]
    if len(families) < 3:
        return None, f"{len(families)} arms: ranking all arms at once needs at least three", []
    subsets = {b[1] for v in families.values() for b in v}
    if len(subsets) > 1 and not set.intersection(*(set(v) for v in families.values())):
        return None, ("the arms run on different class subsets, so no seed is shared by "
                      "all of them; compare them subset by subset"), []
    blocks, left_out = shared_blocks(families)
    if len(blocks) < 2:
        return None, ("the arms share fewer than two finished seeds: ranking them needs "
                      "at least two"), []
    if len(families) - len(left_out) < 3:
        return None, (f"only {len(families) - len(left_out)} arms share two finished seeds "
                      f"({', '.join(left_out)} not yet): ranking all arms at once needs "
                      "at least three"), []
    return friedman_test({f: [v[b] for b in blocks] for f, v in families.items()
                          if f not in left_out}), "", left_out


def _bayes(bench: Benchmark, by_arm: ByArm, baseline: str, ratio: float
           ) -> tuple[BayesianRanks | None, str, list[str]]:
    """The Bayesian correlated t-test of every arm against the baseline and P(best), on
    the seeds every arm finished (the baseline's class subset; not along a sweep; arms
    with too few seeds yet left out)."""
    if any(a.sweep for a in bench.arms):
        return None, "a sweep compares arms at each value; see the sweep's figure", []
    reference = next((a for a in bench.arms if a.family == baseline), None)
    if reference is None or not by_arm.get(reference.name):
        return None, f"the baseline {baseline!r} has no finished trial", []
    classes = next(iter(by_arm[reference.name]))[1]
    scores: dict[str, dict[Block, float]] = {}
    for arm in bench.arms:
        mine = {b: r.metrics[bench.primary_metric]
                for b, r in by_arm.get(arm.name, {}).items() if b[1] == classes}
        if mine:
            scores[arm.family] = mine
    common, left_out = shared_blocks(scores, keep=baseline)
    if len(common) < 2:
        return None, "the arms share fewer than two finished seeds", []
    result = bayesian_ranks({f: [v[b] for b in common] for f, v in scores.items()
                             if f not in left_out}, baseline, bench.primary_metric, ratio)
    return (result, "" if result else "no other arm shares the baseline's seeds",
            left_out if result else [])


def _sweep_lines(bench: Benchmark, by_arm: ByArm) -> list[SweepLine]:
    """Each arm's figure (primary metric, over seeds) at each swept value it finished."""
    lines: dict[str, dict[float, Summary]] = {}
    for arm in bench.arms:
        assert arm.sweep is not None
        scores = [r.metrics[bench.primary_metric] for r in by_arm.get(arm.name, {}).values()]
        points = lines.setdefault(arm.family, {})
        if scores:
            points[arm.sweep.value] = summarise_values(scores)
    return [SweepLine(family, points) for family, points in lines.items()]

