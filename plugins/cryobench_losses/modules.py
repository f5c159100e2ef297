"""Torch modules behind the loss plugins: ``(logits, soft targets) -> per-sample loss``."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SoftCrossEntropy(nn.Module):
    """-sum_c t_c log p_c, with log p from log_softmax in float32."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=-1)
        return -(targets * log_p).sum(dim=-1)
