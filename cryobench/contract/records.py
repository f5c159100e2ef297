"""What a fit tells the core while it runs: one typed record per epoch of each network.

A trial may train several networks (an ensemble's members, one after another); the core
needs to know which network an epoch belongs to (progress, the cost estimate, and
tuning, whose scheduler compares the first network's epochs only). An ensemble may say
so (:meth:`EpochRecord.for_member`); when it does not, :func:`numbered_networks` counts
networks by their epochs starting again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: ``EpochRecord.phase`` before a loss's final phase (LDAM's deferred re-weighting):
#: nothing may stop training or keep its weights yet
DEFERRED = "deferred"
#: ``EpochRecord.phase`` otherwise
FINAL = "final"


@dataclass(frozen=True)
class EpochRecord(Mapping[str, Any]):
    """One epoch of one network: its number within that network's fit, and its figures
    (``train_loss``; ``val_macro_f1`` and ``val_loss`` with a validation part).

    It reads as the mapping earlier versions passed (``record["val_macro_f1"]``,
    ``{**record, "member": 2}``), so plugins written for them keep working."""

    epoch: int
    figures: Mapping[str, float] = field(default_factory=dict)
    phase: str = FINAL
    #: which network of the trial (1-based), and how many it trains; None: not said
    member: int | None = None
    members: int | None = None

    def __getitem__(self, name: str) -> Any:
        return self.as_dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def for_member(self, member: int, members: int) -> EpochRecord:
        """This record as network ``member`` of ``members`` (an ensemble's tag)."""
        return replace(self, member=member, members=members)

    def as_dict(self) -> dict[str, Any]:
        """The plain form kept in a fit's history and sent between processes."""
        out: dict[str, Any] = {"epoch": self.epoch}
        if "train_loss" in self.figures:
            out["train_loss"] = self.figures["train_loss"]
        if self.phase == DEFERRED:
            out["deferred"] = 1.0
        out.update((k, v) for k, v in self.figures.items() if k != "train_loss")
        if self.member is not None:
            out["member"] = self.member
        if self.members is not None:
            out["members"] = self.members
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochRecord:
        rest = {k: float(v) for k, v in data.items()
                if k not in ("epoch", "deferred", "member", "members")
                and isinstance(v, (int, float)) and not isinstance(v, bool)}
        return cls(int(data["epoch"]), rest, DEFERRED if data.get("deferred") else FINAL,
                   data.get("member"), data.get("members"))


EpochReport = Callable[[EpochRecord], None]


class _NetworkCounter:
    def __init__(self, report: EpochReport) -> None:
        self.report, self.network, self.last = report, 0, None

    def __call__(self, record: EpochRecord) -> None:
        if not isinstance(record, EpochRecord):  # a plugin written before they were typed
            import warnings

            from cryobench.errors import CryobenchDeprecationWarning

            warnings.warn("FitContext.on_epoch was given a dict: give a "
                          "cryobench.api.EpochRecord", CryobenchDeprecationWarning,
                          stacklevel=2)
            record = EpochRecord.from_dict(record)
        if record.member is None:
            if self.last is None or record.epoch <= self.last:
                self.network += 1
            record = replace(record, member=self.network)
        else:  # a tag moves the count too: an untagged network after it is the next
            self.network = record.member
        self.last = record.epoch
        self.report(record)


def numbered_networks(report: EpochReport | None) -> EpochReport | None:
    """``report``, given every record with its network's number: an ensemble's tag where
    it gave one, else counted (a network's epochs count up from 1, so an epoch that does
    not follow the last one starts the next network)."""
    return None if report is None else _NetworkCounter(report)
