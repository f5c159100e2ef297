"""Tracking that cannot cost a run its training.

MLflow mirrors the result file; when it fails in the middle of a run (a server that
goes down, a disk that fills), the trials go on and every result is still saved in the
result file. The first failure is one warning line; the rest of the run is not tracked,
and ``cryobench sync`` logs what MLflow lacks once the store works again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord
from cryobench.tracking.mlflow import first_line


class TrackingGuard:
    """Wraps a tracker (``trial_finished``, ``finish``); ``failed`` says why it stopped."""

    def __init__(self, tracker: Any, warn: Callable[[str], None], later: str) -> None:
        self.tracker, self.warn, self.later = tracker, warn, later
        self.failed: str | None = None

    def trial_finished(self, trial: TrialSpec, record: TrialRecord) -> None:
        if self.failed is None:
            self._guarded(self.tracker.trial_finished, trial, record)

    def finish(self, records: list[TrialRecord], leaderboard_markdown: str,
               status: str = "FINISHED") -> None:
        """The end of the run in MLflow; after a failure, the parent run is ended as
        FAILED if the store answers again (nothing more is written)."""
        if self.failed is None:
            self._guarded(self.tracker.finish, records, leaderboard_markdown, status)
            return
        try:
            self.tracker.end_parent("FAILED")
        except Exception:  # still failing: the store's own problem, already said
            pass

    def _guarded(self, call: Callable[..., None], *args: Any) -> None:
        try:
            call(*args)
        except Exception as exc:  # any MLflow failure: the results are safe in the file
            self.failed = first_line(exc)
            self.warn(f"MLflow store {self.tracker.uri} failed ({self.failed}); the run "
                      f"goes on without it and every result is saved in the result file: "
                      f"{self.later}")
