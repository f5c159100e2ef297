"""The plugin contract: one registration hook per kind of component.

Each hook is called once, when a :class:`cryobench.registry.Registry` is built, with no
arguments; it returns a list of component classes (subclasses of the kind's base in
:mod:`cryobench.contract.components`), each carrying its public ``name``. Hooks are called with
keyword arguments only, so a spec can grow new arguments without breaking plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from cryobench.contract.components import Augmentation, DataSource, Ensemble, Loss, Model, Sampler
from cryobench.contract.tables import ResultTable

if TYPE_CHECKING:
    from cryobench.run.records import TrialRecord
    from cryobench.specs import Benchmark

hookspec = pluggy.HookspecMarker("cryobench")


@hookspec
def cryobench_register_data_sources() -> list[type[DataSource]]:
    """Fires when the registry loads; return data-source classes (``[dataset] source``)."""


@hookspec
def cryobench_register_models() -> list[type[Model]]:
    """Fires when the registry loads; return model classes (an arm's ``model``)."""


@hookspec
def cryobench_register_samplers() -> list[type[Sampler]]:
    """Fires when the registry loads; return sampler classes (an arm's ``sampler``)."""


@hookspec
def cryobench_register_losses() -> list[type[Loss]]:
    """Fires when the registry loads; return loss classes (an arm's ``loss``)."""


@hookspec
def cryobench_register_augmentations() -> list[type[Augmentation]]:
    """Fires when the registry loads; return augmentation classes (an arm's ``augment``)."""


@hookspec
def cryobench_register_ensembles() -> list[type[Ensemble]]:
    """Fires when the registry loads; return ensemble classes (an arm's ``ensemble``)."""


@hookspec
def cryobench_result_tables(benchmark: Benchmark, records: list[TrialRecord]
                            ) -> list[ResultTable]:
    """Fires wherever results are shown (after ``run``, by ``leaderboard``, ``report``,
    and in MLflow's summary run), with the benchmark and its records (finished and
    failed). Return tables of what your components put in a record's ``report`` or
    ``fit`` (the multi-path CNN's paths alone: the paper's Table III), or ``[]`` where
    they report nothing. Tables only observe: nothing returned changes a result."""


#: kind -> name of the hook that registers components of that kind
KIND_HOOKS: dict[str, str] = {
    "data_source": "cryobench_register_data_sources",
    "model": "cryobench_register_models",
    "sampler": "cryobench_register_samplers",
    "loss": "cryobench_register_losses",
    "augmentation": "cryobench_register_augmentations",
    "ensemble": "cryobench_register_ensembles",
}
