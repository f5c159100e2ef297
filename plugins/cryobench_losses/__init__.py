"""First-party losses. Declarations live here; torch code is imported only by ``build``."""

from __future__ import annotations

import numpy as np

from cryobench.api import ArmSetup, CryobenchError, Loss, Param, ParamError, hookimpl


def inverse_frequency(counts: np.ndarray) -> np.ndarray:
    """Weights proportional to 1 / n_c, normalised to mean 1 (absent classes get 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    return weights * (counts > 0).sum() / weights.sum()


def effective_number(counts: np.ndarray, beta: float) -> np.ndarray:
    """Cui et al. 2019: weights proportional to (1 - beta) / (1 - beta^n_c), mean 1."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = (1.0 - beta) / (1.0 - np.power(beta, np.maximum(counts, 1)))
    return weights * len(counts) / weights.sum()


def _given(name: str, values: list[float] | None, counts: np.ndarray) -> np.ndarray | None:
    if values is None:
        return None
    if len(values) != len(counts):
        raise CryobenchError(f"loss {name!r}: {len(values)} class weights given for "
                             f"{len(counts)} classes")
    return np.asarray(values, dtype=np.float64)


def _check_per_class(param: str, values: list[float] | None, setup: ArmSetup) -> None:
    """A list with one value per class must have as many values as the arm has classes,
    and weigh some class (all zeros leave nothing to learn)."""
    if values is not None and not any(values):
        raise ParamError(param, "every value is 0: the loss would be 0 for every particle")
    if values is not None and setup.class_counts is not None \
            and len(values) != len(setup.class_counts):
        raise ParamError(param, f"{len(values)} values for {len(setup.class_counts)} classes "
                                f"({', '.join(setup.class_counts)}); give one per class")


def _tensor(values: np.ndarray):
    import torch

    return torch.as_tensor(values, dtype=torch.float32)


class CrossEntropy(Loss):
    """The unweighted baseline every re-weighting is compared against."""

    name = "ce"
    summary = "cross-entropy on soft targets"
    plain = True

    def build(self, class_counts: np.ndarray):
        from cryobench_losses.modules import SoftCrossEntropy

        return SoftCrossEntropy()


class WeightedCrossEntropy(Loss):
    """Cross-entropy with class weights: inverse frequency, or given."""

    name = "weighted_ce"
    summary = "class-weighted cross-entropy (inverse frequency or given)"
    params = (Param("weights", list, None, "one weight per class (default: 1 / frequency)",
                    items=float, low=0.0, min_len=2, nullable=True),)

    def check_setup(self, setup: ArmSetup) -> None:
        _check_per_class("weights", self.weights, setup)

    def build(self, class_counts: np.ndarray):
        from cryobench_losses.modules import SoftCrossEntropy

        weights = _given(self.name, self.weights, class_counts)
        return SoftCrossEntropy(_tensor(inverse_frequency(class_counts) if weights is None else weights))


class Focal(Loss):
    """Alpha-balanced focal loss: down-weights easy, well-classified particles."""

    name = "focal"
    summary = "alpha-balanced focal loss (Lin et al. 2017)"
    params = (
        Param("gamma", float, 2.0, "focusing parameter (0: weighted cross-entropy)", low=0.0),
        Param("alpha", str, "auto", "'auto' (inverse frequency, summing to 1) or 'none'",
              choices=("auto", "none")),
        Param("alpha_values", list, None, "one alpha per class, overriding 'alpha'",
              items=float, low=0.0, min_len=2, nullable=True),
    )

    def check_setup(self, setup: ArmSetup) -> None:
        _check_per_class("alpha_values", self.alpha_values, setup)

    def build(self, class_counts: np.ndarray):
        from cryobench_losses.modules import FocalLoss

        alpha = _given(self.name, self.alpha_values, class_counts)
        if alpha is None and self.alpha == "auto":
            weights = inverse_frequency(class_counts)
            alpha = weights / weights.sum()
        return FocalLoss(self.gamma, None if alpha is None else _tensor(alpha))


class ClassBalanced(Loss):
    """Re-weighting by the effective number of samples (Cui et al. 2019)."""

    name = "class_balanced"
    summary = "class-balanced loss by effective number (Cui et al. 2019)"
    params = (
        Param("beta", float, 0.999, "(n_eff = (1 - beta^n) / (1 - beta))", low=0.0, high=0.99999),
        Param("base", str, "ce", "the loss being re-weighted", choices=("ce", "focal")),
        Param("gamma", float, 2.0, "focusing parameter when base = 'focal'", low=0.0),
    )

    def build(self, class_counts: np.ndarray):
        from cryobench_losses.modules import FocalLoss, SoftCrossEntropy

        weights = _tensor(effective_number(class_counts, self.beta))
        if self.base == "focal":
            return FocalLoss(self.gamma, weights)
        return SoftCrossEntropy(weights)


class LDAM(Loss):
    """Larger margins for rarer classes, with deferred re-weighting (Cao et al. 2019).

    As published: the network's last layer is cosine-normalised (``adapt_network``), so the
    logits are ``scale`` x cosines and the margins are in cosine units; the class weights
    switch on at ``drw_start`` of the epochs, and early stopping neither stops nor keeps
    weights before then. With mixup, each class's margin is scaled by its share of the
    mixed target (the published method has hard labels only).
    """

    name = "ldam"
    summary = "LDAM with deferred re-weighting (Cao et al. 2019), cosine head"
    params = (
        Param("max_margin", float, 0.5, "margin of the rarest class (cosine units)", low=0.0,
              high=1.0),
        Param("scale", float, 30.0, "logit scale s: logits = s cos(feature, class weight)",
              low=0.1),
        Param("drw_start", float, 0.6, "share of the epochs before re-weighting starts",
              low=0.0, high=1.0),
        Param("beta", float, 0.999, "effective-number beta of the deferred weights",
              low=0.0, high=0.99999),
    )

    def adapt_network(self, module, num_classes: int) -> None:
        """The published form: a cosine last layer (logits ``scale`` x cosines)."""
        from cryobench.api import use_cosine_head

        use_cosine_head(module, self.scale, num_classes)

    def build(self, class_counts: np.ndarray):
        from cryobench_losses.modules import LDAMLoss

        counts = np.maximum(np.asarray(class_counts, dtype=np.float64), 1)
        margins = counts ** -0.25
        margins *= self.max_margin / margins.max()
        return LDAMLoss(_tensor(margins), self.scale,
                        _tensor(effective_number(class_counts, self.beta)), self.drw_start)


class LogitAdjusted(Loss):
    """Adds tau log prior to the logits in training (balanced softmax at tau = 1)."""

    name = "logit_adjusted"
    summary = "logit-adjusted loss / balanced softmax (Menon et al. 2021)"
    params = (Param("tau", float, 1.0, "strength of the adjustment", low=0.0),)

    def build(self, class_counts: np.ndarray):
        from cryobench_losses.modules import LogitAdjustedLoss

        counts = np.maximum(np.asarray(class_counts, dtype=np.float64), 1)
        return LogitAdjustedLoss(_tensor(np.log(counts / counts.sum())), self.tau)


@hookimpl
def cryobench_register_losses() -> list[type[Loss]]:
    return [CrossEntropy, WeightedCrossEntropy, Focal, ClassBalanced, LDAM, LogitAdjusted]
