"""First-party losses. Declarations live here; torch code is imported only by ``build``."""

from __future__ import annotations

import numpy as np

from cryobench import hookimpl
from cryobench.components import Loss


class CrossEntropy(Loss):
    """The unweighted baseline every re-weighting is compared against."""

    name = "ce"
    summary = "cross-entropy on soft targets"

    def build(self, class_counts: np.ndarray):
        from cryobench_losses.modules import SoftCrossEntropy

        return SoftCrossEntropy()


@hookimpl
def cryobench_register_losses() -> list[type[Loss]]:
    return [CrossEntropy]
