"""First-party samplers: rebalance the training split before fitting."""

from __future__ import annotations

import numpy as np

from cryobench import hookimpl
from cryobench.components import Sampler


class NoSampler(Sampler):
    """Leaves the training split as it is (the imbalanced baseline)."""

    name = "none"
    summary = "keep the training split as it is"

    def fit_resample(self, volumes: np.ndarray, labels: np.ndarray, seed: int):
        return volumes, labels


@hookimpl
def cryobench_register_samplers() -> list[type[Sampler]]:
    return [NoSampler]
