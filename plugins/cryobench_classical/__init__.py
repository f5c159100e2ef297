"""First-party classical models: GSVM-RU, genetic programming, and an SVM and a balanced
random forest as reference points, all on a few features per particle (PCA of the voxels
or rotation-invariant descriptors). docs/classical.md says what each does.
"""

from __future__ import annotations

from cryobench.api import Model, hookimpl
from cryobench_classical.models import GPClassifier, GSVMRU
from cryobench_classical.reference import BalancedRandomForest, SVMModel

MODELS: tuple[type[Model], ...] = (GSVMRU, GPClassifier, SVMModel, BalancedRandomForest)


@hookimpl
def cryobench_register_models() -> list[type[Model]]:
    return list(MODELS)
