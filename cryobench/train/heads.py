"""Last layers a loss can ask a network for (``Loss.head``), fitted to any torch model."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cryobench.errors import TrialFailed


class CosineLinear(nn.Module):
    """``scale * cos(features, class weight)``: logits bounded by ``scale``.

    LDAM (Cao et al. 2019) subtracts its margins from cosines; on free logits a margin of
    0.5 is negligible against logits that grow without bound. Initialised as the
    authors' reference code does (unit-norm columns).
    """

    def __init__(self, in_features: int, out_features: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        weight = torch.empty(in_features, out_features).uniform_(-1, 1)
        self.weight = nn.Parameter(weight.renorm(2, 1, 1e-5).mul(1e5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(x, dim=1) @ F.normalize(self.weight, dim=0)


def use_cosine_head(module: nn.Module, scale: float, num_classes: int) -> None:
    """Replace the network's last linear layer (its classifier) by a cosine one."""
    name, last = None, None
    for candidate_name, candidate in module.named_modules():
        if isinstance(candidate, nn.Linear):
            name, last = candidate_name, candidate
    if last is None or last.out_features != num_classes:
        raise TrialFailed(f"{type(module).__name__} has no last linear layer with "
                          f"{num_classes} outputs to normalise, as the loss asks; use another "
                          "loss or a network that ends in nn.Linear")
    parent_name, _, attribute = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, attribute, CosineLinear(last.in_features, num_classes, scale))
