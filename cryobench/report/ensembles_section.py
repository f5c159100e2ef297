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

#: where boosting measured a member's error (its fit report's ``errors_on``), in words
MEASURED_ON = {"out_of_bag": "weighted error out of bag",
               "held_out": "weighted error on its held-out third",
               "validation": "error on the validation part",
               "training": "weighted error on the training split"}


@dataclass(frozen=True)
class EnsembleTrial:
    """One ensemble trial's figure beside its members' (each scored alone on the test
    split), and why it kept fewer members than asked, where it did."""

    label: str  # the arm, with its class subset where the file has several
    trial: str  # the seed, with the fold where there are folds
    figure: float
    members: tuple[float, ...]
    asked: int | None
    stop: str

    @property
    def mean(self) -> float:
        return sum(self.members) / len(self.members)


def members_metric(analysis: Analysis) -> str | None:
    """The primary metric where every member reports it, else macro F1 (what members
    report), else None."""
    reported = [m for r in analysis.records for m in r.report.get("members") or []]
    for metric in dict.fromkeys((analysis.bench.primary_metric, "macro_f1")):
        if reported and all(metric in m for m in reported):
            return metric
    return None


def ensemble_trials(analysis: Analysis, metric: str) -> list[EnsembleTrial]:
    """The finished trials whose predictor reported its members, in the file's arm order."""
    order = {a.name: i for i, a in enumerate(analysis.bench.arms)}
    several = len({r.classes_label for r in analysis.records}) > 1
    out = []
    for r in sorted(analysis.records, key=lambda r: (order.get(r.arm, 0), r.classes_label,
                                                     r.seed, r.fold or 0)):
        members = r.report.get("members") or []
        if not members or metric not in r.metrics:
            continue
        asked = (r.config.get("ensemble") or {}).get("members")
        asked = asked if isinstance(asked, int) else None
        out.append(EnsembleTrial(
            f"{r.arm} [{r.classes_label}]" if several else r.arm,
            f"{r.seed}" + (f", fold {r.fold}" if r.fold is not None else ""),
            r.metrics[metric], tuple(float(m[metric]) for m in members), asked,
            stop_reason(r, len(members), asked)))
    return out


def stop_reason(record: TrialRecord, kept: int, asked: int | None) -> str:
    """Why a trial kept fewer members than asked, from its fit report: SAMME's
    ``errors`` lists every member it measured, the one that stopped it last."""
    if asked is None or kept >= asked:
        return ""
    errors = record.fit.get("errors") or []
    if not errors or not record.classes:
        return f"kept {kept} of {asked} members"
    chance = 1 - 1 / len(record.classes)
    if errors[-1] < chance - 1e-12:
        return f"kept {kept} of {asked} members"
    where = MEASURED_ON.get((record.fit.get("errors_on") or [""])[-1], "error")
    found = f"its {where}, {errors[-1]:.2f}, is no better than chance (1 − 1/K = {chance:.2f})"
    if len(errors) > kept:
        return f"stopped at member {len(errors)}: {found}, so it was dropped"
    return f"stopped at member 1: {found}; it is kept alone, so that there is an ensemble"


def ensembles_section(doc: Document, analysis: Analysis, folder: Path) -> None:
    metric = members_metric(analysis)
    trials = ensemble_trials(analysis, metric) if metric else []
    if not trials:
        return
    label = METRIC_LABELS[metric]  # type: ignore[index]
    doc.add(Heading("Ensembles and their members"))
    text = (f"Each ensemble trial's {label} beside its members', each member scored alone "
            "on the same test split. The fair references are the first member (one "
            "network, trained as any member is) and the members' mean; the best member is "
            "picked after the fact with the test labels, a bound no one could choose.")
    several = [t for t in trials if len(t.members) > 1]
    if several:
        text += (f" Of the {len(several)} trials with two or more members, the ensemble "
                 f"beats its first member in {sum(t.figure > t.members[0] for t in several)}"
                 f", its members' mean in {sum(t.figure > t.mean for t in several)} and its "
                 f"best member in {sum(t.figure > max(t.members) for t in several)}.")
    doc.add(Paragraph(text))
    rows = tuple((t.label, t.trial, f"{len(t.members)}" + (f" of {t.asked}" if t.asked else ""),
                  f"{100 * t.figure:.1f}", f"{100 * t.members[0]:.1f}", f"{100 * t.mean:.1f}",
                  f"{100 * max(t.members):.1f}") for t in trials)
    doc.add(Table(("arm", "seed", "members", f"ensemble {label}", "first member",
                   "members' mean", "best member"), rows,
                  (False, True, True, True, True, True, True)))
    stops = [f"**{literal(t.label)}**, seed {t.trial}: {t.stop}." for t in trials if t.stop]
    if stops:
        doc.add(Paragraph("Fewer members than asked (the trial is still the arm's: the "
                          "ensemble as its algorithm builds it):"), Bullets(tuple(stops)))
    arms = list(dict.fromkeys(t.label for t in trials))
    path = figures.ensemble_members_png(
        folder / "figures" / "ensemble_members.png", arms,
        {a: [(t.trial, t.figure, t.members) for t in trials if t.label == a] for a in arms},
        metric)  # type: ignore[arg-type]
    doc.add(Figure(path, f"{label} of each ensemble (diamond) and of its members alone "
                         "(dots), one line per seed; members are numbered in the order "
                         "they were trained."))
