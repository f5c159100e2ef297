"""First-party batch augmentations, applied during training only."""

from __future__ import annotations

from cryobench import hookimpl
from cryobench.components import Augmentation


class NoAugmentation(Augmentation):
    """Trains on the volumes as they are."""

    name = "none"
    summary = "no augmentation"

    def apply(self, volumes, targets, generator):
        return volumes, targets


@hookimpl
def cryobench_register_augmentations() -> list[type[Augmentation]]:
    return [NoAugmentation]
