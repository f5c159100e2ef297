"""Profiles side by side: the same arms of one benchmark file under other settings (tuned
and untuned, another stopping rule), each arm paired with itself by seed. It answers the
question a protocol study asks: does the setting change an arm's score, and the order?"""

from __future__ import annotations

from dataclasses import dataclass

from cryobench.run.records import TrialRecord
from cryobench.specs import Benchmark
from cryobench.stats import ALPHA, PairedTest, Summary, holm, paired_test, summarise_values

NO_PROFILE = "no profile"

Block = tuple[object, ...]  # (seed, fold): what pairs an arm (on one subset) with itself


@dataclass(frozen=True)
class ProfileColumn:
    """One profile's figures: each row's metric over seeds, and its rank. A row is an
    arm, or an arm on one class subset when the report's trials have several."""

    label: str
    summaries: dict[str, Summary]
    ranks: dict[str, int]  # 1: best, among the rows every profile finished
    tuned: frozenset[str]  # rows whose every trial was tuned under this profile


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
    rows: list[str]  # arms (with their class subset when there are several), file order
    columns: list[ProfileColumn]  # the report's own profile first
    differences: dict[str, list[ProfileDifference]]  # per other column's label
    agreement: dict[str, tuple[float | None, str]]  # Kendall's tau with the first
    # column's order, or None and why not


def profile_label(bench: Benchmark) -> str:
    return bench.profile or NO_PROFILE


def side_by_side(bench: Benchmark, records: list[TrialRecord],
                 others: list[tuple[Benchmark, list[TrialRecord]]], test_train_ratio: float
                 ) -> SideBySide:
    """The report's arms against themselves under each other profile, on the report's
    primary metric. An arm is paired with itself only on trials of the same data and
    split (a profile that changes the data set or the validation part changes what the
    seed means: shown, not tested)."""
    metric = bench.primary_metric
    several = len({r.classes_label for r in records if r.ok}) > 1
    order = {a.name: i for i, a in enumerate(bench.arms)}
    mine = _rows(records, order, several)
    rows = sorted(mine, key=lambda label: (order[mine[label][0]], label))
    theirs_all = [(profile_label(other), _rows(their_records, order, several))
                  for other, their_records in others]
    # ranks among the rows every profile finished, so that a rank means the same in
    # every column (a profile that runs five of twelve arms ranks them 1-5)
    common = [row for row in rows if all(row in theirs for _, theirs in theirs_all)]
    columns = [_column(profile_label(bench), mine, rows, metric, common)]
    differences: dict[str, list[ProfileDifference]] = {}
    agreement: dict[str, tuple[float | None, str]] = {}
    for label, theirs in theirs_all:
        column = _column(label, theirs, rows, metric, common)
        columns.append(column)
        found = [_difference(row, mine[row][1], theirs[row][1], metric, test_train_ratio)
                 for row in rows if row in column.summaries]
        adjusted = holm([d.test.p_value if d.test else None for d in found])
        differences[column.label] = [ProfileDifference(d.arm, d.test, p, d.note)
                                     for d, p in zip(found, adjusted)]
        agreement[column.label] = _kendall(columns[0], column)
    return SideBySide(metric, rows, columns, differences, agreement)


Rows = dict[str, tuple[str, dict[Block, TrialRecord]]]  # row label: (arm, trials by block)


def _rows(records: list[TrialRecord], order: dict[str, int], several: bool) -> Rows:
    """Finished trials of the file's arms by row (arm, and subset when there are several)."""
    out: Rows = {}
    for r in records:
        if r.ok and r.arm in order:
            label = f"{r.arm} [{r.classes_label}]" if several else r.arm
            out.setdefault(label, (r.arm, {}))[1][(r.seed, r.fold)] = r
    return out


def _column(label: str, rows: Rows, wanted: list[str], metric: str, ranked: list[str]
            ) -> ProfileColumn:
    found = [row for row in wanted if row in rows]
    summaries = {row: summarise_values([r.metrics[metric] for r in rows[row][1].values()])
                 for row in found}
    ranks = {row: 1 + sum(summaries[o].mean > summaries[row].mean for o in ranked)
             for row in ranked}
    tuned = {row for row in found if all(r.tuned for r in rows[row][1].values())}
    return ProfileColumn(label, summaries, ranks, frozenset(tuned))


def _difference(row: str, mine: dict[Block, TrialRecord], theirs: dict[Block, TrialRecord],
                metric: str, ratio: float) -> ProfileDifference:
    shared = sorted(set(mine) & set(theirs), key=repr)
    if not shared:
        return ProfileDifference(row, None, None, "no seed in common")
    same = [b for b in shared if _same_data(mine[b], theirs[b])]
    if not same:
        return ProfileDifference(row, None, None, "other data or split: not paired")
    differences = [theirs[b].metrics[metric] - mine[b].metrics[metric] for b in same]
    # on another CPU the same trial may follow another trajectory (benchmark-files.md):
    # such a pair differs by more than its setting
    unlike = sum(1 for b in same if mine[b].machine and theirs[b].machine
                 and mine[b].machine != theirs[b].machine)
    note = f"{unlike} of {len(same)} pairs from other machines" if unlike else ""
    return ProfileDifference(row, paired_test(differences, ratio), None, note)


def _same_data(a: TrialRecord, b: TrialRecord) -> bool:
    """The same particles in the same parts: the data set and the split agree."""
    return all(a.config.get(k) == b.config.get(k) for k in ("dataset", "split"))


def _kendall(first: ProfileColumn, other: ProfileColumn) -> tuple[float | None, str]:
    """Kendall's tau between two profiles' orders of the rows both finished, or why
    there is none."""
    from scipy.stats import kendalltau

    common = [row for row in first.summaries if row in other.summaries]
    if len(common) < 3:
        return None, "fewer than three arms in common"
    mine = [first.summaries[row].mean for row in common]
    theirs = [other.summaries[row].mean for row in common]
    if len(set(mine)) == 1 or len(set(theirs)) == 1:
        return None, "every arm scores the same under one of the two"
    return float(kendalltau(mine, theirs).statistic), ""
