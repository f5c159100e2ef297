"""Trial results as JSON lines: appended as trials finish, read back to resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ResultStore:
    """One JSON object per line; the last record of a trial key wins."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:  # a line cut short by an interruption
                        continue
                    records[record["key"]] = record
        return records

    def finished(self) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.load().items() if r.get("status") == "ok"}

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
