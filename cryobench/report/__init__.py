"""``cryobench report``: finished results as Markdown and one self-contained HTML page,
with statistics that say which differences are real, and figures."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryobench.errors import CryobenchError
from cryobench.report.analysis import Analysis, analyse
from cryobench.report.build import build_report
from cryobench.report.document import to_html, to_markdown
from cryobench.run.records import TrialRecord
from cryobench.specs import Benchmark

FILES = ("report.md", "report.html", "figures")


@dataclass(frozen=True)
class WrittenReport:
    folder: Path
    analysis: Analysis

    @property
    def markdown(self) -> Path:
        return self.folder / "report.md"

    @property
    def html(self) -> Path:
        return self.folder / "report.html"


def check_output_folder(folder: Path) -> None:
    """Before any work: a folder the report can be written to."""
    if folder.exists() and not folder.is_dir():
        raise CryobenchError(f"{folder}: --out is a file, not a folder; name a folder (it is "
                             "created if missing)")
    existing = next((p for p in folder.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise CryobenchError(f"{existing}: is a file, so {folder} cannot be created; name "
                             "another --out folder")
    target = folder if folder.exists() else existing
    if target is not None and not os.access(target, os.W_OK | os.X_OK):
        raise CryobenchError(f"{target}: cannot write there (permission denied); name "
                             "another --out folder")


def write_report(bench: Benchmark, records: list[TrialRecord], folder: Path,
                 baseline: str | None = None) -> WrittenReport:
    """Analyse, draw and write; the files appear in ``folder`` only once all of them are
    made (built in a scratch folder beside it), so a failure leaves no half a report and
    an earlier report stays whole until the new one replaces it."""
    check_output_folder(folder)
    analysis = analyse(bench, records, baseline)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        doc = build_report(analysis, scratch)
        (scratch / "report.md").write_text(to_markdown(doc, scratch), encoding="utf-8")
        (scratch / "report.html").write_text(to_html(doc), encoding="utf-8")
        folder.mkdir(exist_ok=True)
        old = folder / "figures"
        if old.exists():
            shutil.rmtree(old)
        for name in FILES:
            os.replace(scratch / name, folder / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return WrittenReport(folder, analysis)
