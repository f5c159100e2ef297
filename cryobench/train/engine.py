"""Trains any torch module on a split held in memory as one tensor.

No per-sample Python in the hot loop: the whole split is one tensor (on the GPU once,
when there is one); mini-batches are index slices from a seeded generator.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn

from cryobench.contract.components import EpochScheduled, FitContext, FitReport, Phased
from cryobench.contract.records import DEFERRED, FINAL, EpochRecord
from cryobench.data.subtomograms import Subtomograms
from cryobench.errors import TrialFailed
from cryobench.specs import TrainConfig
from cryobench.train.device import autocast, use_threads
from cryobench.train.precision import resolve_precision


@dataclass
class FitResult:
    """A trained module (best validation weights restored) and how training went.

    ``fit_seconds`` is the whole fit; ``samples_per_second`` counts training passes only.
    """

    module: nn.Module
    epochs_run: int
    best_epoch: int
    best_val_f1: float | None  # None without a validation part
    fit_seconds: float
    samples_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0  # optimiser steps taken
    precision: str = "float32"  # what the forward passes computed in
    precision_fallback: str | None = None  # why float32 where bf16 was asked for

    def report(self) -> FitReport:
        """The figures a trial records, with the per-epoch history."""
        figures = {"epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                   "best_val_f1": self.best_val_f1, "fit_seconds": self.fit_seconds,
                   "samples_per_second": self.samples_per_second, "steps": self.steps,
                   "precision": self.precision}
        if self.precision_fallback:
            figures["precision_fallback"] = self.precision_fallback
        return FitReport(figures, list(self.history))

    def predictor(self, batch_size: int, report: FitReport | None = None) -> TorchPredictor:
        """The trained module as a predictor that predicts as it was trained."""
        device = next(self.module.parameters()).device
        return TorchPredictor(self.module, device, batch_size,
                              self.report() if report is None else report, self.precision)


def as_tensor(volumes: np.ndarray, device: torch.device) -> torch.Tensor:
    """``[n, D, D, D]`` float32 -> ``[n, 1, D, D, D]`` on the device, once."""
    return torch.from_numpy(np.ascontiguousarray(volumes, dtype=np.float32)).unsqueeze(1).to(device)


def train_module(
    build: Callable[[], nn.Module],
    train: Subtomograms,
    val: Subtomograms,
    context: FitContext,
    *,
    max_epochs: int | None = None,
    loss: nn.Module | None = None,
    augment: bool = True,
    init: dict[str, Any] | None = None,
    channels_last: bool = False,
) -> FitResult:
    """Fit ``build()`` with the context's loss, augmentations and training budget.

    Weight initialisation, dropout and shuffling are seeded from ``context.seed`` inside a
    forked RNG, so the same seed gives the same numbers and global RNG state is untouched.
    """
    cfg: TrainConfig = context.train
    device = torch.device(context.device)
    use_threads(context.threads, device.type)
    epochs = max_epochs or cfg.max_epochs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(context.seed)
        module = build()
        if loss is None:  # the trial's loss may change the network (LDAM's cosine head)
            context.loss.adapt_network(module, context.num_classes)
        if init is not None:
            _load_partial(module, init)
        module.to(device)
        if channels_last:
            module.to(memory_format=torch.channels_last_3d)
        criterion = (loss or context.loss.build(train.counts())).to(device)
        batches = _Batches(train, context, device, channels_last)
        precision, fallback = checked_precision(
            module, batches, resolve_precision(cfg.precision, context.device))
        result = _fit(module, criterion, batches, val, context, epochs, augment, precision)
        result.precision_fallback = fallback
        return result


def checked_precision(module: nn.Module, batches: _Batches, precision: str
                      ) -> tuple[str, str | None]:
    """``precision``, or float32 (and why) where bf16 would train on wrong gradients: on
    CPU, oneDNN's bf16 weight gradient of a 3D convolution whose input is smaller than its
    kernel (a 3^3 conv on 2^3, a 5^3 on 4^3: the last layers at box 16) is 40% to
    infinitely off (torch 2.13); anywhere, a bf16 gradient that is not finite where
    float32's is. Found on the first mini-batch; weights, RNG and batch-norm statistics
    are left as they were."""
    if precision != "bfloat16":
        return precision, None
    x, t = batches.x[:batches.batch_size], unweigh_targets(
        batches.targets[:batches.batch_size])[0]
    names = {layer: name for name, layer in module.named_modules()}
    small: list[str] = []

    def look(layer: nn.Module, inputs: tuple, _output: Any) -> None:
        size = tuple(inputs[0].shape[2:])
        if any(s < k for s, k in zip(size, layer.kernel_size)):
            small.append(f"{names[layer]} (a {'x'.join(map(str, layer.kernel_size))} "
                         f"convolution on a {'x'.join(map(str, size))} input)")

    hooks = [layer.register_forward_hook(look) for layer in module.modules()
             if isinstance(layer, nn.Conv3d)] if batches.device.type == "cpu" else []
    grads = {}
    was_training = module.training
    module.eval()  # no dropout, no batch-norm statistics: the same function twice
    try:
        for candidate in ("float32", "bfloat16"):
            module.zero_grad(set_to_none=True)
            with autocast(batches.device, candidate):
                logits = module(x)
            while hooks:  # the float32 pass has seen every convolution's input
                hooks.pop().remove()
            (-(t * torch.log_softmax(logits.float(), 1)).sum(1)).mean().backward()
            grads[candidate] = {name: p.grad.detach().clone()
                                for name, p in module.named_parameters() if p.grad is not None}
    finally:
        module.zero_grad(set_to_none=True)
        module.train(was_training)
    if small:
        return "float32", ("oneDNN's bf16 weight gradient is wrong where a convolution's "
                           f"input is smaller than its kernel: {small[0]}")
    for name, exact in grads["float32"].items():
        if bool(torch.isfinite(exact).all()) and not bool(
                torch.isfinite(grads["bfloat16"][name]).all()):
            return "float32", f"the bf16 gradient of {name} is not finite (float32's is)"
    return precision, None


def _load_partial(module: nn.Module, state: dict[str, Any]) -> None:
    """Start some layers from given weights (stage 1); a key that fits nothing is a bug."""
    result = module.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise KeyError(f"weights for layers the module lacks: {result.unexpected_keys[:3]}")


class _Batches:
    """The training split as tensors on the device, served as seeded mini-batches."""

    def __init__(self, train: Subtomograms, context: FitContext, device: torch.device,
                 channels_last: bool) -> None:
        self.x = as_tensor(train.volumes, device)
        if channels_last:
            self.x = self.x.contiguous(memory_format=torch.channels_last_3d)
        labels = torch.from_numpy(train.labels)
        targets = nn.functional.one_hot(labels, context.num_classes).float()
        if context.sample_weight is not None:
            targets = weigh_targets(targets, split_weights(context.sample_weight, len(train)))
        self.targets = targets.to(device)
        self.size, self.batch_size, self.device = len(train), context.train.batch_size, device

    def epoch(self, generator: torch.Generator):
        order = torch.randperm(self.size, generator=generator).to(self.device)
        for index in order.split(self.batch_size):
            if len(index) >= 2:  # batch norm needs two samples
                yield self.x[index], self.targets[index]


def split_weights(sample_weight: np.ndarray, n: int) -> torch.Tensor:
    """Per-particle weights scaled to mean 1 over the whole split.

    With a plain mean over each mini-batch, the loss is then the split-wide weighted mean
    that SAMME needs, whatever the batch a particle lands in (normalising per batch made
    a particle's weight depend on its batch-mates: a weight of 27 acted as 14.9).
    """
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"sample_weight must be {n} finite weights >= 0, not all zero")
    return torch.as_tensor(w / w.mean(), dtype=torch.float32)


def weigh_targets(targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Carry each particle's weight as the mass of its target row: augmentations that mix
    targets linearly (mixup) then mix the weights with the same lambda."""
    return targets * weights[:, None]


def unweigh_targets(targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft targets (rows summing to one) and the weights their masses carried."""
    weights = targets.sum(1)
    return targets / weights.clamp_min(1e-12)[:, None], weights


def _fit(module: nn.Module, criterion: nn.Module, batches: _Batches, val: Subtomograms,
         context: FitContext, epochs: int, augment: bool, precision: str) -> FitResult:
    cfg = context.train
    generator = torch.Generator(device="cpu").manual_seed(context.seed)
    optimizer = make_optimizer(module, cfg)
    scheduler = make_scheduler(optimizer, cfg, epochs)
    transforms = context.augmentations if augment else []
    best = _Best(module)
    # a phased loss's last phase (LDAM's re-weighting) is what the method is: early
    # stopping neither stops before it nor keeps weights from before it
    final_phase = criterion.final_phase_start(epochs) if isinstance(criterion, Phased) \
        else 0
    history: list[dict[str, float]] = []
    seen, steps, train_seconds, start = 0, 0, 0.0, time.perf_counter()
    for epoch in range(epochs):
        if isinstance(criterion, EpochScheduled):
            criterion.start_epoch(epoch, epochs)
        if epoch == final_phase > 0:
            best.forget(epoch)
        tick = time.perf_counter()
        loss_sum, count, taken = _train_epoch(module, criterion, optimizer, batches,
                                              transforms, generator, precision)
        train_seconds += time.perf_counter() - tick
        seen, steps = seen + count, steps + taken
        _check_trained(loss_sum, taken, epoch + 1, batches)
        scheduler.step()
        figures = {"train_loss": loss_sum / max(count, 1)}
        if len(val):
            figures.update(_validate(module, val, batches.device, cfg.eval_batch_size,
                                     precision))
        # no stopping before the final phase: neither early stopping nor a scheduler
        record = EpochRecord(epoch + 1, figures, DEFERRED if epoch < final_phase else FINAL)
        history.append(record.as_dict())
        if context.on_epoch:
            context.on_epoch(record)
        best.offer(record, cfg.monitor, module)
        if cfg.patience and epoch >= final_phase and epoch + 1 - best.epoch >= cfg.patience:
            break
    kept = best if cfg.restore == "best" else None
    if kept is not None:
        module.load_state_dict(kept.state)
    module.eval()
    kept_record = history[(kept.epoch if kept else len(history)) - 1]
    return FitResult(module, len(history), kept.epoch if kept else len(history),
                     kept_record.get("val_macro_f1"), time.perf_counter() - start,
                     seen / max(train_seconds, 1e-9), history, steps, precision)


class _Best:
    """The best epoch so far by the monitored validation figure (higher F1, lower loss),
    and its weights; without a validation part, the last epoch."""

    def __init__(self, module: nn.Module) -> None:
        self.score, self.epoch, self.empty = -math.inf, 0, True
        self.state = copy.deepcopy(module.state_dict())

    def forget(self, epoch: int) -> None:
        self.score, self.epoch, self.empty = -math.inf, epoch, True

    def offer(self, record: EpochRecord, monitor: str, module: nn.Module) -> None:
        if monitor not in record.figures:  # no validation part: keep the last epoch
            score = float(record.epoch)
        else:
            score = record.figures[monitor] * (-1.0 if monitor.endswith("loss") else 1.0)
        if not math.isfinite(score):  # a validation loss that overflowed: the worst, but
            score = -math.inf         # an epoch is kept all the same
        if score > self.score or self.empty:
            self.score, self.epoch, self.empty = score, record.epoch, False
            self.state = copy.deepcopy(module.state_dict())


def _check_trained(loss_sum: float, steps: int, epoch: int, batches: _Batches) -> None:
    """A model that took no step, or whose loss is no longer a number, has not learnt
    anything worth ranking: the trial fails, saying why."""
    if steps == 0:
        raise TrialFailed(
            f"no optimiser step in epoch {epoch}: every mini-batch was skipped (a training "
            f"split of {batches.size} particles with batch_size {batches.batch_size}; batch "
            "norm needs two per batch)")
    if not math.isfinite(loss_sum):
        raise TrialFailed(f"the training loss is {loss_sum} in epoch {epoch}: training "
                          "diverged; lower train.lr or check the loss's parameters")
    if epoch == 1 and loss_sum == 0.0:
        raise TrialFailed("the training loss is exactly 0 in epoch 1: nothing to learn from "
                          "(are the loss's class weights all zero?)")


def _train_epoch(module: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer,
                 batches: _Batches, transforms: list, generator: torch.Generator,
                 precision: str) -> tuple[float, int, int]:
    """One pass over the training split; returns (summed batch loss x size, samples,
    optimiser steps).

    The loss is summed on the device and read once per epoch: reading it per batch would
    make the CPU wait for the GPU at every step."""
    module.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=batches.device)
    count = steps = 0
    for x, t in batches.epoch(generator):
        for transform in transforms:
            x, t = transform.apply(x, t, generator)
        t, w = unweigh_targets(t)  # all ones without sample weights
        with autocast(batches.device, precision):
            logits = module(x)
        loss = (criterion(logits.float(), t) * w).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach().double() * len(x)
        count += len(x)
        steps += 1
    return float(loss_sum), count, steps


def _validate(module: nn.Module, val: Subtomograms, device: torch.device,
              batch_size: int, precision: str) -> dict[str, float]:
    """Macro F1 over the classes present (a tiny validation part may miss one), and the
    plain cross-entropy (the same yardstick whatever loss the arm trains with)."""
    logits = torch.from_numpy(predict_logits(module, val.volumes, device, batch_size,
                                             precision))
    labels = torch.from_numpy(val.labels).long()
    predicted = logits.argmax(1).numpy()
    return {"val_macro_f1": float(f1_score(val.labels, predicted, labels=np.unique(val.labels),
                                           average="macro", zero_division=0)),
            "val_loss": float(nn.functional.cross_entropy(logits.float(), labels))}


@torch.no_grad()
def predict_logits(module: nn.Module, volumes: np.ndarray, device: torch.device,
                   batch_size: int, precision: str = "float32") -> np.ndarray:
    """Logits in float32, the forward pass in the trial's ``precision``."""
    module.eval()
    out = []
    for start in range(0, len(volumes), batch_size):
        x = as_tensor(volumes[start:start + batch_size], device)
        with autocast(device, precision):
            out.append(module(x).float().cpu())
    return torch.cat(out).numpy()


def make_optimizer(module: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = module.parameters()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, nesterov=cfg.momentum > 0)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, epochs: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(epochs // 3, 1), gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


class TorchPredictor:
    """Softmax probabilities from a trained module."""

    def __init__(self, module: nn.Module, device: torch.device, batch_size: int = 128,
                 fit_report: FitReport | None = None, precision: str = "float32") -> None:
        self.module, self.device, self.batch_size = module, device, batch_size
        self.fit_report = fit_report or FitReport()
        self.precision = precision  # predicts as it was trained (validation included)

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        logits = predict_logits(self.module, volumes, self.device, self.batch_size,
                                getattr(self, "precision", "float32"))  # older pickles
        z = logits - logits.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)
