"""Poly-1 loss: cross-entropy plus epsilon (1 - p_t), for soft targets."""

from __future__ import annotations

import numpy as np

from cryobench.api import Loss, Param, hookimpl


class Poly1Loss(Loss):
    """Leng et al. 2022: raising the first polynomial term of CE helps on imbalanced data."""

    name = "poly1"
    summary = "Poly-1 loss: CE + epsilon * (1 - p_t)"
    params = (Param("epsilon", float, 1.0, "weight of the first polynomial term", low=-1.0),)

    def build(self, class_counts: np.ndarray):
        import torch
        from torch.nn import functional as F

        epsilon = self.epsilon

        class Poly1(torch.nn.Module):
            def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
                log_p = F.log_softmax(logits.float(), dim=-1)
                p_t = (targets * log_p.exp()).sum(dim=-1)
                return -(targets * log_p).sum(dim=-1) + epsilon * (1.0 - p_t)

        return Poly1()


@hookimpl
def cryobench_register_losses() -> list[type[Loss]]:
    return [Poly1Loss]
