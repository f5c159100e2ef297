"""Torch modules behind the loss plugins: ``(logits, soft targets) -> per-sample loss``.

Every loss but LDAM is linear in the targets, so mixup's blended targets compose exactly
(LDAM's margins sit inside the softmax: with mixup each class's margin is scaled by its
share of the target). Log-probabilities come from ``log_softmax`` in float32.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SoftCrossEntropy(nn.Module):
    """-sum_c w_c t_c log p_c (w = 1 for plain cross-entropy)."""

    def __init__(self, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=-1)
        weighted = targets if self.weight is None else targets * self.weight
        return -(weighted * log_p).sum(dim=-1)


class FocalLoss(nn.Module):
    """-sum_c alpha_c t_c (1 - p_c)^gamma log p_c (Lin et al. 2017, multi-class)."""

    def __init__(self, gamma: float, alpha: torch.Tensor | None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("alpha", alpha)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=-1)
        modulating = (1.0 - log_p.exp()).clamp(min=0.0).pow(self.gamma)
        weighted = targets if self.alpha is None else targets * self.alpha
        return -(weighted * modulating * log_p).sum(dim=-1)


class LogitAdjustedLoss(nn.Module):
    """Cross-entropy on logits + tau log prior (Menon et al. 2021; balanced softmax at tau=1)."""

    def __init__(self, log_prior: torch.Tensor, tau: float) -> None:
        super().__init__()
        self.register_buffer("shift", tau * log_prior)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float() + self.shift, dim=-1)
        return -(targets * log_p).sum(dim=-1)


class LDAMLoss(nn.Module):
    """Label-distribution-aware margins, m_c proportional to n_c^(-1/4) (Cao et al. 2019),
    on the logits of a cosine head (``scale`` x cosine), with deferred re-weighting: class
    weights switch on at ``drw_start`` x max_epochs, the start of the final phase."""

    def __init__(self, margins: torch.Tensor, scale: float, drw_weights: torch.Tensor,
                 drw_start: float) -> None:
        super().__init__()
        self.scale, self.drw_start = scale, drw_start
        self.register_buffer("margins", margins)
        self.register_buffer("drw_weights", drw_weights)
        self.register_buffer("weights", torch.ones_like(drw_weights))

    def final_phase_start(self, max_epochs: int) -> int:
        return int(self.drw_start * max_epochs)

    def start_epoch(self, epoch: int, max_epochs: int) -> None:
        active = epoch >= self.final_phase_start(max_epochs)
        self.weights = self.drw_weights.clone() if active else torch.ones_like(self.drw_weights)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # s cos(theta_c) - s m_c for the true class, in proportion to its target mass
        adjusted = logits.float() - self.scale * targets * self.margins
        log_p = F.log_softmax(adjusted, dim=-1)
        return -(targets * self.weights * log_p).sum(dim=-1)
