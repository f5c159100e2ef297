"""The report's section on ensembles and their members: an ensemble is worth its cost only
where it beats the networks it is made of, and a boosting run that kept fewer members
than asked (SAMME stops at a member no better than chance) is not the ensemble the arm's
name promises, so each trial's members are shown beside the whole and an early stop is
named with its cause."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryobench.metrics import METRIC_LABELS
from cryobench.report import figures
from cryobench.report.analysis import Analysis
from cryobench.report.document import Bullets, Document, Figure, Heading, Paragraph, Table, literal
from cryobench.run.records import TrialRecord


@dataclass(frozen=True)
class EnsembleTrial:
    """One ensemble trial's figure beside its members' (each scored alone on the test
    split), and why it kept fewer members than asked, where it did."""

    arm: str
    seed: int
    figure: float
    members: tuple[float, ...]
    asked: int | None
    stop: str

    @property
    def beats_best(self) -> bool:
        return self.figure > max(self.members)


def ensemble_trials(analysis: Analysis, metric: str) -> list[EnsembleTrial]:
    """The finished trials whose predictor reported its members, in the file's arm order."""
    order = {a.name: i for i, a in enumerate(analysis.bench.arms)}
    out = []
    for r in sorted(analysis.records, key=lambda r: (order.get(r.arm, 0), r.seed)):
        members = r.report.get("members") or []
        if not members or any(metric not in m for m in members) or metric not in r.metrics:
            continue
        asked = (r.config.get("ensemble") or {}).get("members")
        out.append(EnsembleTrial(r.arm, r.seed, r.metrics[metric],
                                 tuple(float(m[metric]) for m in members),
                                 int(asked) if isinstance(asked, int) else None,
                                 _stop_reason(r, len(members), asked)))
    return out


def _stop_reason(record: TrialRecord, kept: int, asked: object) -> str:
    """Why a trial kept fewer members than asked, from its fit report: SAMME's errors list
    every member it measured, the discarded one last."""
    if not isinstance(asked, int) or kept >= asked:
        return ""
    errors = record.fit.get("errors") or []
    chance = 1 - 1 / len(record.classes) if record.classes else None
    if len(errors) > kept and chance is not None and errors[-1] >= chance - 1e-12:
        where = {"out_of_bag": "out of bag", "validation": "on the validation part",
                 "training": "on the training split"}.get(
            (record.fit.get("errors_on") or [""])[-1], "")
        return (f"stopped at member {len(errors)}: its weighted error {errors[-1]:.2f}"
                f"{' (' + where + ')' if where else ''} is no better than chance "
                f"(1 − 1/K = {chance:.2f}), so it was dropped")
    return f"kept {kept} of {asked} members"


def ensembles_section(doc: Document, analysis: Analysis, folder: Path) -> None:
    metric = analysis.bench.primary_metric
    trials = ensemble_trials(analysis, metric)
    if not trials:
        return
    label = METRIC_LABELS[metric]
    doc.add(Heading("Ensembles and their members"))
    several = [t for t in trials if len(t.members) > 1]
    beats = sum(t.beats_best for t in several)
    first = sum(t.figure > t.members[0] for t in several)
    doc.add(Paragraph(
        f"Each ensemble trial's {label} beside its members', each member scored alone on "
        f"the same test split. Of the {len(several)} trials with two or more members, the "
        f"ensemble beats its best member in {beats} and its first member in {first}; where "
        "it does not, its members' disagreement carries no information the best of them "
        "lacks, and the ensemble costs its members' training for nothing."))
    rows = tuple((t.arm, str(t.seed),
                  f"{len(t.members)}" + (f" of {t.asked}" if t.asked else ""),
                  f"{100 * t.figure:.1f}", f"{100 * max(t.members):.1f}",
                  f"{100 * t.members[0]:.1f}",
                  f"{100 * sum(t.members) / len(t.members):.1f}") for t in trials)
    doc.add(Table(("arm", "seed", "members", f"ensemble {label}", "best member",
                   "first member", "members' mean"), rows,
                  (False, True, True, True, True, True, True)))
    stops = [f"**{literal(t.arm)}**, seed {t.seed}: {t.stop}." for t in trials if t.stop]
    if stops:
        doc.add(Paragraph("Fewer members than asked (the trial is still the arm's: the "
                          "ensemble as its algorithm builds it):"), Bullets(tuple(stops)))
    arms = list(dict.fromkeys(t.arm for t in trials))
    path = figures.ensemble_members_png(
        folder / "figures" / "ensemble_members.png", arms,
        {a: [(t.seed, t.figure, t.members) for t in trials if t.arm == a] for a in arms},
        metric)
    doc.add(Figure(path, f"{label} of each ensemble (diamond) and of its members alone "
                         "(dots), one line per seed; members are numbered in the order "
                         "they were trained."))
