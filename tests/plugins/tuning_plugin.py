"""Test-only models for tuning: one whose validation curve is scripted by a parameter
(a constructed case for the scheduler), and one that writes down every particle it is
shown (the leak test: tuning must never see the test split)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np

from cryobench.api import Capabilities, EpochRecord, Model, Param, hookimpl

EPOCHS_ONLY = Capabilities(uses_loss=False, uses_augmentations=False, thread_dependent=False)


class Prior:
    """Predicts the training split's class frequencies for every particle."""

    def __init__(self, prior: np.ndarray, log: Path | None = None, seed: int = 0) -> None:
        self.prior, self.log, self.seed = prior, log, seed

    def predict_proba(self, volumes):
        if self.log is not None:
            write(self.log, "predict", volumes, self.seed)
        return np.tile(self.prior, (len(volumes), 1))


def prior_of(train, num_classes):
    counts = np.bincount(train.labels, minlength=num_classes) + 1.0
    return counts / counts.sum()


class Scripted(Model):
    name = "scripted"
    summary = "test-only model whose validation macro F1 is `quality` every epoch"
    capabilities = EPOCHS_ONLY
    params = (Param("quality", float, 0.5, "the validation macro F1 it reports", low=0.0,
                    high=1.0),)

    def fit(self, train, val, context):
        for epoch in range(context.train.max_epochs):
            if context.on_epoch:
                context.on_epoch(EpochRecord(epoch + 1, {"val_macro_f1": self.quality}))
        return Prior(prior_of(train, context.num_classes))


class Recording(Model):
    name = "recording"
    summary = "test-only model that writes down a hash of every particle it is given"
    capabilities = EPOCHS_ONLY
    params = (Param("log_dir", str, "", "folder for the record of what it saw"),
              Param("shrink", float, 0.0, "a parameter to tune; changes nothing", low=0.0,
                    high=1.0))

    def fit(self, train, val, context):
        log = Path(self.log_dir) / f"{os.getpid()}-{uuid.uuid4().hex}.json"
        write(log.with_suffix(".fit.json"), "fit", np.concatenate([train.volumes,
                                                                   val.volumes]), context.seed)
        if context.on_epoch:
            context.on_epoch(EpochRecord(1, {"val_macro_f1": 0.5}))
        return Prior(prior_of(train, context.num_classes), log, context.seed)


def particle_hashes(volumes) -> list[str]:
    return [hashlib.sha1(np.ascontiguousarray(v, dtype=np.float32).tobytes()).hexdigest()
            for v in volumes]


def write(path: Path, phase: str, volumes, seed: int) -> None:
    path = path.with_name(f"{path.stem}-{uuid.uuid4().hex[:8]}{path.suffix}")
    path.write_text(json.dumps({"phase": phase, "seed": seed,
                                "hashes": particle_hashes(volumes)}))


@hookimpl
def cryobench_register_models():
    return [Scripted, Recording]
