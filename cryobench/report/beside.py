"""Profiles side by side: the same arms of one benchmark file under other settings (tuned
and untuned, another stopping rule), each arm paired with itself by seed. It answers the
question a protocol study asks: does the setting change an arm's score, and the order?"""

from __future__ import annotations

from dataclasses import dataclass

from cryobench.run.records import TrialRecord
from cryobench.specs import Benchmark
from cryobench.stats import ALPHA, PairedTest, Summary, holm, paired_test, summarise_values

NO_PROFILE = "no profile"

Block = tuple[object, ...]  # (classes, seed, fold): what pairs an arm with itself


@dataclass(frozen=True)
class ProfileColumn:
    """One profile's figures: each arm's primary metric over seeds, and its rank."""

    label: str
    summaries: dict[str, Summary]
    ranks: dict[str, int]  # 1: best, among the arms this profile finished
    tuned: frozenset[str]  # arms tuned under this profile


@dataclass(frozen=True)
class ProfileDifference:
    """An arm under another profile minus the same arm under the report's own."""

    arm: str
    test: PairedTest | None  # None: nothing to pair (see ``note``)
    p_holm: float | None
    note: str = ""

    @property
    def significant(self) -> bool:
        return self.p_holm is not None and self.p_holm < ALPHA


@dataclass(frozen=True)
class SideBySide:
    metric: str
    columns: list[ProfileColumn]  # the report's own profile first
    differences: dict[str, list[ProfileDifference]]  # per other column's label
    agreement: dict[str, float | None]  # Kendall's tau with the first column's order


def profile_label(bench: Benchmark) -> str:
    return bench.profile or NO_PROFILE


def side_by_side(bench: Benchmark, records: list[TrialRecord],
                 others: list[tuple[Benchmark, list[TrialRecord]]], test_train_ratio: float
                 ) -> SideBySide:
    """The report's arms against themselves under each other profile. An arm is paired
    with itself only on trials of the same data and split (a profile that changes the
    data set or the validation part changes what the seed means: shown, not tested)."""
    metric = bench.primary_metric
    arms = [a.name for a in bench.arms]
    mine = _blocks(records)
    columns = [_column(bench, records, arms)]
    differences: dict[str, list[ProfileDifference]] = {}
    agreement: dict[str, float | None] = {}
    for other, theirs in others:
        column = _column(other, theirs, arms)
        columns.append(column)
        blocks = _blocks(theirs)
        found = [_difference(arm, mine.get(arm, {}), blocks.get(arm, {}), metric,
                             test_train_ratio) for arm in arms
                 if arm in columns[0].summaries and arm in column.summaries]
        adjusted = holm([d.test.p_value if d.test else None for d in found])
        differences[column.label] = [ProfileDifference(d.arm, d.test, p, d.note)
                                     for d, p in zip(found, adjusted)]
        agreement[column.label] = _kendall(columns[0], column)
    return SideBySide(metric, columns, differences, agreement)


def _blocks(records: list[TrialRecord]) -> dict[str, dict[Block, TrialRecord]]:
    out: dict[str, dict[Block, TrialRecord]] = {}
    for r in records:
        if r.ok:
            out.setdefault(r.arm, {})[(r.classes_label, r.seed, r.fold)] = r
    return out


def _column(bench: Benchmark, records: list[TrialRecord], arms: list[str]) -> ProfileColumn:
    metric = bench.primary_metric
    scores: dict[str, list[float]] = {}
    tuned = set()
    for r in records:
        if r.ok and r.arm in arms:
            scores.setdefault(r.arm, []).append(r.metrics[metric])
            if r.tuned:
                tuned.add(r.arm)
    summaries = {a: summarise_values(scores[a]) for a in arms if a in scores}
    ranks = {a: 1 + sum(o.mean > s.mean for o in summaries.values())
             for a, s in summaries.items()}
    return ProfileColumn(profile_label(bench), summaries, ranks, frozenset(tuned))


def _difference(arm: str, mine: dict[Block, TrialRecord], theirs: dict[Block, TrialRecord],
                metric: str, ratio: float) -> ProfileDifference:
    shared = sorted(set(mine) & set(theirs), key=repr)
    if not shared:
        return ProfileDifference(arm, None, None, "no seed in common")
    same = [b for b in shared if _same_data(mine[b], theirs[b])]
    if not same:
        return ProfileDifference(arm, None, None, "other data or split: not paired")
    differences = [theirs[b].metrics[metric] - mine[b].metrics[metric] for b in same]
    return ProfileDifference(arm, paired_test(differences, ratio), None)


def _same_data(a: TrialRecord, b: TrialRecord) -> bool:
    """The same particles in the same parts: the data set and the split agree."""
    return all(a.config.get(k) == b.config.get(k) for k in ("dataset", "split"))


def _kendall(first: ProfileColumn, other: ProfileColumn) -> float | None:
    """Kendall's tau between two profiles' orders of the arms both finished."""
    from scipy.stats import kendalltau

    common = [a for a in first.summaries if a in other.summaries]
    if len(common) < 3:
        return None
    tau = kendalltau([first.summaries[a].mean for a in common],
                     [other.summaries[a].mean for a in common]).statistic
    return None if tau != tau else float(tau)  # NaN when every score ties
