"""Base for model plugins that are plain torch modules trained by the engine."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from cryobench.contract.components import TORCH_ENGINE, FitContext, Model, Predictor

if TYPE_CHECKING:  # torch is imported when a model trains, not when plugins are listed
    from torch import nn

    from cryobench.data.subtomograms import Subtomograms


class TorchModel(Model):
    """A model plugin only says how to build its network; the engine does the rest."""

    capabilities = TORCH_ENGINE

    @abstractmethod
    def build_module(self, num_classes: int, box: int) -> "nn.Module":
        """A fresh network: ``[B, 1, D, D, D] -> logits [B, num_classes]``."""

    def channels_last(self) -> bool:
        """Train in channels-last 3D layout: only where a measurement shows it pays."""
        return False

    def fit(self, train: Subtomograms, val: Subtomograms, context: FitContext) -> Predictor:
        from cryobench.train.engine import train_module

        result = train_module(lambda: self.build_module(context.num_classes, train.box),
                              train, val, context, channels_last=self.channels_last())
        return result.predictor(context.train.eval_batch_size)
