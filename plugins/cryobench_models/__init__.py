"""First-party models. Declarations here; torch networks in ``networks`` (imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryobench.api import Model, Param, ResultTable, TorchModel, hookimpl
from cryobench_models.choices import LAYOUT_PARAM, PATH_KINDS
from cryobench_models.multipath import MultiPathModel

if TYPE_CHECKING:
    from cryobench.api import Benchmark, TrialRecord


class SerialCNN(TorchModel):
    """One serial path: the plain CNN baseline."""

    name = "cnn"
    summary = "one serial 3D CNN path"
    params = (
        Param("path", str, "conv3", "receptive-field style of the path", choices=PATH_KINDS),
        Param("widths", list, [16, 32, 64], "channels of the three conv layers", items=int,
              low=1, min_len=3, max_len=3),
        Param("dropout", float, 0.3, "dropout before the last layer", low=0.0, high=0.95),
        LAYOUT_PARAM,
    )

    def channels_last(self) -> bool:
        return self.layout != "pooled"  # measured per layout (docs/neural.md)

    def build_module(self, num_classes: int, box: int):
        from cryobench_models.networks import PathClassifier, SerialPath

        return PathClassifier(SerialPath(self.path, self.widths, self.layout), num_classes,
                              self.dropout)


class Inception3DModel(TorchModel):
    """Xu et al. 2017's Inception3D: a heavier reference network from the same lab."""

    name = "inception3d"
    summary = "Inception3D (Xu et al. 2017) reference network"
    params = (Param("dropout", float, 0.7, "dropout before the dense layer", low=0.0, high=0.95),)

    def build_module(self, num_classes: int, box: int):
        from cryobench_models.networks import Inception3D

        return Inception3D(num_classes, self.dropout)


class ResNet3DModel(TorchModel):
    """A small 3D ResNet: the modern baseline a reviewer asks for."""

    name = "resnet3d"
    summary = "small 3D ResNet (three residual stages)"
    params = (
        Param("width", int, 8, "channels of the first stage (then 2x, 4x)", low=1),
        Param("dropout", float, 0.3, "dropout before the last layer", low=0.0, high=0.95),
    )

    def build_module(self, num_classes: int, box: int):
        from cryobench_models.networks import ResNet3D

        return ResNet3D(num_classes, self.width, self.dropout)


@hookimpl
def cryobench_register_models() -> list[type[Model]]:
    return [SerialCNN, MultiPathModel, Inception3DModel, ResNet3DModel]


@hookimpl
def cryobench_result_tables(benchmark: Benchmark, records: list[TrialRecord]
                            ) -> list[ResultTable]:
    """Table III: the multi-path CNN's paths, each alone (its records' ``stage1``)."""
    from cryobench_models.table3 import path_table

    table = path_table(benchmark, records)
    return [table] if table is not None else []
