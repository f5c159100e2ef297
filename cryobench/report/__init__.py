"""``cryobench report``: finished results as Markdown and one self-contained HTML page,
with statistics that say which differences are real, and figures."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryobench.contract.tables import ResultTable
from cryobench.errors import CryobenchError
from cryobench.report.analysis import Analysis, analyse
from cryobench.report.build import build_report
from cryobench.report.document import to_html, to_markdown
from cryobench.run.records import TrialRecord
from cryobench.specs import Benchmark


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


def check_report_folder(folder: Path) -> None:
    """Before any work: a folder the report can be written to, and that holds nothing a
    report would replace but an earlier report."""
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
    if (folder / "figures").exists() and not (folder / MARK).exists():
        raise CryobenchError(f"{folder}: already has a figures/ folder that no report wrote; "
                             "a report would replace it, so name another --out folder")


MARK = ".cryobench-report"  # in a folder a report wrote: its figures/ may be replaced


def write_report(bench: Benchmark, records: list[TrialRecord], folder: Path,
                 baseline: str | None = None,
                 beside: Sequence[tuple[Benchmark, list[TrialRecord]]] = (),
                 tables: Sequence[ResultTable] = (),
                 other_seeds: dict[int, int] | None = None) -> WrittenReport:
    """Analyse, draw and write (``other_seeds``: finished trials per seed of the file's
    seeds that the report was asked to leave out). Everything is made in a scratch folder inside ``folder``
    first, then moved in by renames on the same file system; an earlier report's figures
    are kept aside until the new ones are in, and put back if anything fails."""
    check_report_folder(folder)
    analysis = analyse(bench, records, baseline, beside)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".report-", dir=folder))
    except OSError as exc:
        raise CryobenchError(f"{folder}: cannot write the report there ({exc.strerror})") \
            from None
    kept = folder / f".figures-{scratch.name}"
    try:
        doc = build_report(analysis, scratch, tables, other_seeds)
        (scratch / "report.md").write_text(to_markdown(doc, scratch), encoding="utf-8")
        (scratch / "report.html").write_text(to_html(doc), encoding="utf-8")
        (scratch / MARK).write_text("written by cryobench report\n", encoding="utf-8")
        if (folder / "figures").exists():
            os.replace(folder / "figures", kept)
        try:
            for name in (MARK, "figures", "report.html", "report.md"):
                os.replace(scratch / name, folder / name)
        except OSError:
            if kept.exists():
                shutil.rmtree(folder / "figures", ignore_errors=True)
                os.replace(kept, folder / "figures")
            raise
    except OSError as exc:
        raise CryobenchError(f"{folder}: could not write the report ({exc.strerror or exc}); "
                             "an earlier report there is left as it was") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(kept, ignore_errors=True)
    return WrittenReport(folder, analysis)
