"""Trains any torch module on a split held in memory as one tensor.

No per-sample Python in the hot loop: the whole split is one tensor (on the GPU once,
when there is one); mini-batches are index slices from a seeded generator.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn

from cryobench.components import FitContext
from cryobench.config import TrainConfig
from cryobench.data.subtomograms import Subtomograms
from cryobench.train.device import autocast


@dataclass
class FitResult:
    """A trained module (best validation weights restored) and how training went."""

    module: nn.Module
    epochs_run: int
    best_epoch: int
    best_val_f1: float
    fit_seconds: float
    samples_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)


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
    if context.threads and device.type == "cpu":
        torch.set_num_threads(max(1, int(context.threads)))
    epochs = max_epochs or cfg.max_epochs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(context.seed)
        module = build()
        if init is not None:
            module.load_state_dict(init, strict=False)
        module.to(device)
        if channels_last:
            module.to(memory_format=torch.channels_last_3d)
        criterion = (loss or context.loss.build(train.counts())).to(device)
        return _fit(module, criterion, train, val, context, device, epochs, augment,
                    channels_last)


def _fit(module: nn.Module, criterion: nn.Module, train: Subtomograms, val: Subtomograms,
         context: FitContext, device: torch.device, epochs: int, augment: bool,
         channels_last: bool) -> FitResult:
    cfg = context.train
    generator = torch.Generator(device="cpu").manual_seed(context.seed)
    x_train = as_tensor(train.volumes, device)
    if channels_last:
        x_train = x_train.contiguous(memory_format=torch.channels_last_3d)
    targets = nn.functional.one_hot(torch.from_numpy(train.labels), context.num_classes)
    targets = targets.float().to(device)
    weights = torch.ones(len(train), device=device) if context.sample_weight is None else \
        torch.as_tensor(context.sample_weight, dtype=torch.float32, device=device)
    optimizer = make_optimizer(module, cfg)
    scheduler = make_scheduler(optimizer, cfg, epochs)
    best = (-1.0, 0, copy.deepcopy(module.state_dict()))
    history: list[dict[str, float]] = []
    seen, start = 0, time.perf_counter()
    for epoch in range(epochs):
        if hasattr(criterion, "start_epoch"):
            criterion.start_epoch(epoch, epochs)
        module.train()
        order = torch.randperm(len(train), generator=generator).to(device)
        total = 0.0
        for batch in order.split(cfg.batch_size):
            if len(batch) < 2:  # batch norm needs two samples
                continue
            x, t = x_train[batch], targets[batch]
            if augment:
                for transform in context.augmentations:
                    x, t = transform.apply(x, t, generator)
            with autocast(device):
                logits = module(x)
            per_sample = criterion(logits.float(), t)
            w = weights[batch]
            loss = (per_sample * w).sum() / w.sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        scheduler.step()
        val_f1 = _validation_f1(module, val, device, cfg.eval_batch_size)
        record = {"epoch": epoch + 1, "train_loss": total / max(len(train), 1), "val_macro_f1": val_f1}
        history.append(record)
        if context.on_epoch:
            context.on_epoch(record)
        if val_f1 > best[0]:
            best = (val_f1, epoch + 1, copy.deepcopy(module.state_dict()))
        elif cfg.patience and epoch + 1 - best[1] >= cfg.patience:
            break
    seconds = time.perf_counter() - start
    module.load_state_dict(best[2])
    module.eval()
    return FitResult(module, len(history), best[1], best[0], seconds, seen / max(seconds, 1e-9),
                     history)


def _validation_f1(module: nn.Module, val: Subtomograms, device: torch.device,
                   batch_size: int) -> float:
    """Macro F1 over the classes present (a tiny validation part may miss one)."""
    if len(val) == 0:
        return 0.0
    predicted = predict_logits(module, val.volumes, device, batch_size).argmax(1)
    return float(f1_score(val.labels, predicted, labels=np.unique(val.labels),
                          average="macro", zero_division=0))


@torch.no_grad()
def predict_logits(module: nn.Module, volumes: np.ndarray, device: torch.device,
                   batch_size: int) -> np.ndarray:
    module.eval()
    out = []
    for start in range(0, len(volumes), batch_size):
        x = as_tensor(volumes[start:start + batch_size], device)
        with autocast(device):
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

    def __init__(self, module: nn.Module, device: torch.device, batch_size: int = 128) -> None:
        self.module, self.device, self.batch_size = module, device, batch_size

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        logits = predict_logits(self.module, volumes, self.device, self.batch_size)
        z = logits - logits.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)
