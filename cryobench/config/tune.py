"""``[tune]`` and each arm's ``tune``: the budget every arm shares, the search space,
and the arm's own dimensions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryobench.config.reader import FileReader
from cryobench.config.schema import TRAIN_PARAMS
from cryobench.search_space import (
    BUDGET_KEYS, TUNE_PARAMS, arm_space, declared_params, parse_space, tune_spec,
)
from cryobench.specs import Arm, SearchDimension, TrainConfig, TuneSpec


@dataclass(frozen=True)
class Search:
    """The ``[tune]`` table: its budget, its benchmark-wide space, and the epochs every
    arm's configurations train."""

    budget: dict[str, Any]
    space: dict[str, SearchDimension]
    epochs: int


@dataclass(frozen=True)
class ArmSearch:
    """An arm's search, and where the file gives each of its dimensions (the key an
    error names)."""

    spec: TuneSpec | None
    dimension_keys: Mapping[str, str]


def tune_table(reader: FileReader, table: Any, train: TrainConfig) -> Search | None:
    """The budget every arm shares and the benchmark-wide space."""
    if table is None:
        return None
    table = reader.table("tune", table)
    budget = reader.params("tune", {k: x for k, x in table.items() if k != "space"},
                           TUNE_PARAMS)
    epochs = budget["max_epochs"] or train.max_epochs
    check_grace(reader, "tune.grace_period", budget, epochs)
    if budget["configurations"] == 1 and budget["include_file_values"]:
        reader.fail("tune.configurations", "one configuration is the file's own values "
                                           "(include_file_values), so nothing would be "
                                           "tuned: give 2 or more, or set "
                                           "include_file_values = false")
    return Search(budget, parse_space("tune.space", table.get("space", {}), reader.fail),
                  epochs)


def check_grace(reader: FileReader, key: str, budget: dict[str, Any], epochs: int) -> None:
    """ASHA's rungs lie before the last epoch: the grace period must leave room."""
    if budget["scheduler"] == "asha" and budget["grace_period"] >= epochs:
        reader.fail(key, f"{budget['grace_period']} epochs of grace leave ASHA nothing to "
                         f"judge before the last of the {epochs} epochs a configuration "
                         "trains; lower it, or use scheduler = \"fifo\"")


#: [tune] keys that only ASHA reads
ASHA_ONLY = ("grace_period", "reduction_factor")
DEFAULT_SCHEDULER = next(p.default for p in TUNE_PARAMS if p.name == "scheduler")


def check_fifo_keys(reader: FileReader, key: str, written: Any, scheduler: Any) -> None:
    """ASHA's keys written in a table whose scheduler is fifo (its own, or the file's
    that a profile leaves) do nothing: a mistake. Keys the file wrote for ASHA, which a
    profile then switches to fifo, are not."""
    if scheduler != "fifo" or not isinstance(written, dict):
        return
    for name in ASHA_ONLY:
        if name in written:
            reader.fail(f"{key}.{name}", "only ASHA reads it, and scheduler = \"fifo\" "
                                         "trains every configuration to the end: remove "
                                         "it, or use scheduler = \"asha\"")


def arm_tune(reader: FileReader, key: str, value: Any, arm: Arm,
             search: Search | None) -> ArmSearch:
    """The arm's search: the benchmark's space where the arm declares it, with the arm's
    own ``tune = { space = ... }`` added; ``tune = false`` leaves it untuned."""
    if value is False or (value is None and search is None):
        return ArmSearch(None, {})
    if value is not None:
        reader.table(key, value)
        for name in value:
            if name in BUDGET_KEYS:
                reader.fail(f"{key}.{name}", "every arm gets the same budget: set "
                                             f"{name} in [tune]")
        reader.keys(key, value, ("space",))
        if search is None:
            reader.fail(key, "needs a [tune] table: the budget every arm shares "
                             "(configurations, max_epochs)")
    assert search is not None
    declared = declared_params(arm, reader.registry, TRAIN_PARAMS)
    own = parse_space(f"{key}.space", (value or {}).get("space", {}), reader.fail)
    space = {d.target: d for d in arm_space("tune.space", search.space, declared,
                                            reader.fail, required=False)}
    space.update({d.target: d for d in arm_space(f"{key}.space", own, declared,
                                                 reader.fail, required=True)})
    keys = {t: f"{key}.space.{t}" if t in own else f"tune.space.{t}" for t in space}
    spec = tune_spec(tuple(space.values()), search.budget, arm)
    if spec is not None and search.budget["max_epochs"] is None \
            and spec.max_epochs != search.epochs:
        reader.fail(f"{key}", f"this arm trains {spec.max_epochs} epochs and the file "
                              f"{search.epochs}: set [tune] max_epochs, so that every arm's "
                              "configurations get the same budget")
    return ArmSearch(spec, keys)


def check_space_used(reader: FileReader, search: Search | None,
                     arms: tuple[Arm, ...]) -> None:
    """A benchmark-wide dimension that no arm declares is a mistake, and so is a search
    that tunes no arm (checked on the whole file: a profile that picks arms may leave a
    dimension's arms out)."""
    if search is None or len(arms) < len(reader.file_arms):
        return
    tuned = {d.target for arm in arms if arm.tune for d in arm.tune.space}
    for target in search.space:
        if target not in tuned:
            reader.fail(f"tune.space.{target}", f"no arm declares {target!r}: check the "
                                                "name, or move it to the arm that has it")
    if not tuned:  # a [tune] table that tunes nothing would run every arm untuned, silently
        reader.fail("tune.space", "no arm has anything to tune: give [tune] space = "
                                  "{ \"train.lr\" = { loguniform = [1e-4, 1e-2] } } (or an "
                                  "arm's tune = { space = ... }), or remove [tune]")
