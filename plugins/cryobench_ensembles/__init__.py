"""First-party ensembles: wrap any model."""

from __future__ import annotations

from cryobench import hookimpl
from cryobench.components import Ensemble


class SingleModel(Ensemble):
    """One model, trained once: the reference every ensemble is compared against."""

    name = "none"
    summary = "a single model, no ensemble"

    def fit(self, model, train, val, context):
        return model.fit(train, val, context)


@hookimpl
def cryobench_register_ensembles() -> list[type[Ensemble]]:
    return [SingleModel]
