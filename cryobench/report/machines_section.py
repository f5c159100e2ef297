"""The report's section on where the trials ran and how long they took: a figure is only
comparable with one from the same kind of machine (torch's kernels differ by
instruction set, threads and device), and the paired tests pair arms within a seed, so
a seed whose trials ran on several kinds of machine is named."""

from __future__ import annotations

from collections import defaultdict

from cryobench.report.analysis import Analysis
from cryobench.report.document import Document, Heading, Paragraph, Table
from cryobench.run.records import TrialRecord

UNKNOWN = "not recorded (an older record)"


def machine_label(record: TrialRecord) -> str:
    """What a record's figures depend on beyond its seed, in words."""
    m = record.machine or {}
    if not m:
        return UNKNOWN
    label = f"{m.get('cpu', '?')} ({m.get('cpu_isa', '?')}), torch {m.get('torch', '?')}, " \
            f"{m.get('threads', '?')} threads"
    return label + (f", {m['gpu']}" if m.get("gpu") else "")


def machines_section(doc: Document, analysis: Analysis) -> None:
    records = analysis.records
    doc.add(Heading("Where it ran, and how long it took"))
    by_machine: dict[str, list[TrialRecord]] = defaultdict(list)
    seeds_on: dict[int, set[str]] = defaultdict(set)
    for r in records:
        by_machine[machine_label(r)].append(r)
        seeds_on[r.seed].add(machine_label(r))
    # a record from before machines were recorded does not make its seed mixed
    mixed = sorted(s for s, kinds in seeds_on.items() if len(kinds - {UNKNOWN}) > 1)
    if len(by_machine) == 1:
        text = ("Every trial ran on one kind of machine, so the arms compare like with like "
                "and a trial run again there gives its recorded figure.")
    else:
        text = (f"The trials ran on {len(by_machine)} kinds of machine. Figures from "
                "different kinds differ in their last bits, and an unstable training can "
                "turn that into another result, so compare arms within one kind.")
    if mixed:
        text += (f" Seed{'s' * (len(mixed) > 1)} {', '.join(map(str, mixed))} "
                 f"mix{'es' * (len(mixed) == 1)} machines: the paired comparisons of "
                 f"{'those seeds' if len(mixed) > 1 else 'that seed'} pair trials that ran "
                 "on different machines; run a seed's trials on one machine.")
    doc.add(Paragraph(text))
    rows = tuple((label, ", ".join(map(str, sorted({r.seed for r in rs}))),
                  str(len(rs)), f"{sum(r.seconds for r in rs) / 3600:.1f}")
                 for label, rs in sorted(by_machine.items(), key=lambda kv: -len(kv[1])))
    doc.add(Table(("machine", "seeds", "trials", "hours"), rows, (False, False, True, True)))
    by_arm: dict[str, list[TrialRecord]] = defaultdict(list)
    for r in records:
        by_arm[r.arm].append(r)
    total = sum(r.seconds for r in records)
    tuned = sum(1 for r in records if r.tuned)
    doc.add(Paragraph(
        f"The {len(records)} trials took {total / 3600:.1f} hours in all (each trial's data, "
        "resampling, fitting and prediction, added up: the run's wall time when trials run "
        "one at a time, as with `--executor local`" + (
            f"; not the searches of the {tuned} tuned trials, which come before them"
            if tuned else "") + ")."))
    order = sorted(by_arm, key=lambda a: -sum(r.seconds for r in by_arm[a]))
    doc.add(Table(
        ("arm", "trials", "minutes per trial (mean)", "hours"),
        tuple((a, str(len(by_arm[a])),
               f"{sum(r.seconds for r in by_arm[a]) / len(by_arm[a]) / 60:.1f}",
               f"{sum(r.seconds for r in by_arm[a]) / 3600:.1f}") for a in order),
        (False, True, True, True)))
