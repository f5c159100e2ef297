"""The paper's multi-path CNN: one path per class, trained alone first, then together."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from cryobench.api import (
    ArmSetup, FitContext, FitReport, Param, ParamError, Predictor, Subtomograms,
    TorchModel, TrainConfig,
)
from cryobench_models.choices import LAYOUT_PARAM, PATH_KINDS


#: Bump when stage 1 gives other weights for the same settings (a change that keeps the
#: tensor shapes would otherwise load stale weights from the cache).
#: 2: stage 1 trains with the recipe's augmentations (before: none, and it memorised)
STAGE1_VERSION = 2


class MultiPathModel(TorchModel):
    """Stage 1: path k learns "class k versus the rest" on the imbalanced training split
    (the paper's Table III). Stage 2: the paths' feature maps are concatenated, pooled and
    classified by dense layers; the whole network trains from the stage-1 weights.
    Stage 1 is trained once per split (the unsampled training split, the trial's seed,
    each path, the training recipe's augmentations but not the arm's own) and cached:
    every arm and every ensemble member of that split starts from the same paths."""

    name = "multipath"
    revision = 1  # stage 1 trains with the recipe's augmentations
    summary = "multi-path 3D CNN, one path per class (Luo et al. 2019)"
    params = (
        Param("paths", list, ["conv3", "conv5", "dilated3", "factorised"],
              "path k's receptive-field style; cycled if fewer than the classes", items=str,
              choices=PATH_KINDS, min_len=1),
        Param("widths", list, [16, 32, 64], "channels of each path's three conv layers",
              items=int, low=1, min_len=3, max_len=3),
        Param("hidden", int, 64, "units of the dense layer after the concatenation", low=1),
        Param("dropout", float, 0.3, "dropout before the last layer", low=0.0, high=0.95),
        LAYOUT_PARAM,
        Param("stage1_epochs", int, 6, "epochs of each path's one-vs-rest training (0: skip)",
              low=0),
        Param("table3", bool, False, "train every path kind on every class versus the rest "
              "(the paper's Table III) and give each class the kind best on validation"),
    )

    def check_setup(self, setup: ArmSetup) -> None:
        if self.table3 and self.stage1_epochs and setup.split.val_fraction == 0:
            raise ParamError("table3", "chooses each class's path on the validation part, "
                                       "and [split] val_fraction = 0 leaves none; raise it")

    def path_kinds(self, num_classes: int) -> list[str]:
        return [self.paths[k % len(self.paths)] for k in range(num_classes)]

    def channels_last(self) -> bool:
        return self.layout != "pooled"  # measured per layout (docs/neural.md)

    def build_module(self, num_classes: int, box: int, kinds: list[str] | None = None):
        from cryobench_models.networks import MultiPath, SerialPath

        paths = [SerialPath(kind, self.widths, self.layout)
                 for kind in kinds or self.path_kinds(num_classes)]
        return MultiPath(paths, num_classes, self.hidden, self.dropout)

    def fit(self, train: Subtomograms, val: Subtomograms, context: FitContext) -> Predictor:
        from cryobench.api import train_module

        kinds = self.path_kinds(context.num_classes)
        # the paths are identified on the imbalanced data as it is, whatever the sampler
        # gave stage 2: so every arm with the same split shares its stage-1 cache entries
        original = context.unsampled_train if context.unsampled_train is not None else train
        digest = _data_digest(original, val) if context.cache_dir is not None else ""
        pairs: dict[tuple[int, str], tuple] = {}
        if self.table3 and self.stage1_epochs:
            pairs = {(k, kind): self._stage1(k, kind, original, val, context, digest)
                     for k in range(context.num_classes) for kind in dict.fromkeys(self.paths)}
            kinds = [max(dict.fromkeys(self.paths),
                         key=lambda kind: _positive_f1(pairs[(k, kind)][1], val, k))
                     for k in range(context.num_classes)]
        stage1 = [pairs.get((k, kind)) or self._stage1(k, kind, original, val, context, digest)
                  for k, kind in enumerate(kinds)]
        init = {f"paths.{k}.{name}": tensor for k, (state, _) in enumerate(stage1)
                for name, tensor in state.items()}
        result = train_module(lambda: self.build_module(context.num_classes, train.box, kinds),
                              train, val, context, init=init or None,
                              channels_last=self.channels_last())
        candidates = {key: p for key, (_, p) in pairs.items()} or {
            (k, kind): p for k, (kind, (_, p)) in enumerate(zip(kinds, stage1))}
        report = result.report()
        report.parts = {f"stage1 {train.class_names[k]} {kind}": p.fit_report
                        for (k, kind), p in candidates.items()
                        if p is not None and p.fit_report.figures}
        return MultiPathPredictor(result.predictor(context.train.eval_batch_size, report),
                                  candidates, kinds)

    def _stage1(self, k: int, kind: str, train: Subtomograms, val: Subtomograms,
                context: FitContext, digest: str):
        """Path ``kind`` as a binary "class k versus the rest" classifier, cached."""
        import torch
        from torch import nn

        from cryobench.api import save_file
        from cryobench.api import TorchPredictor, train_module
        from cryobench_models.networks import PathClassifier, SerialPath

        if self.stage1_epochs == 0:
            return {}, None
        def build() -> PathClassifier:
            return PathClassifier(SerialPath(kind, self.widths, self.layout), 2, self.dropout)

        cache = self._cache_file(kind, k, digest, context)
        device = torch.device(context.device)
        stage_train = _stage1_train(context)
        if cache is not None and cache.exists():
            module = build()
            module.load_state_dict(torch.load(cache, map_location=device, weights_only=True))
            module.to(device).eval()
            report = FitReport()  # trained by an earlier trial or member
        else:
            stage_context = context.replace(num_classes=2, sample_weight=None, on_epoch=None,
                                            augmentations=list(context.recipe),
                                            train=stage_train,
                                            seed=_stage1_seed(context))
            result = train_module(build, _one_vs_rest(train, k), _one_vs_rest(val, k),
                                  stage_context,
                                  max_epochs=self.stage1_epochs,
                                  channels_last=self.channels_last(),
                                  loss=nn.CrossEntropyLoss(reduction="none"))
            module, report = result.module, result.report()
            if context.shared_seed is not None:  # the estimate counts it once per split
                report.figures["shared"] = "split"
            if cache is not None:
                save_file(cache, lambda path: torch.save(module.state_dict(), path))
        state = {name.removeprefix("path."): t for name, t in module.state_dict().items()
                 if name.startswith("path.")}
        # predicts in float32 whatever it trained in, so that path selection and the
        # Table III figures do not depend on whether the cache was warm
        return state, TorchPredictor(module, device, context.train.eval_batch_size, report)

    def _cache_file(self, kind: str, k: int, digest: str, context: FitContext) -> Path | None:
        if context.cache_dir is None:
            return None
        settings = json.dumps({"version": STAGE1_VERSION, "data": digest, "kind": kind,
                               "class": k,
                               "widths": list(self.widths), "layout": self.layout,
                               "dropout": self.dropout, "epochs": self.stage1_epochs,
                               "seed": _stage1_seed(context), "device": context.device,
                               "recipe": [{"name": a.name, "revision": a.revision,
                                           **a.config} for a in context.recipe],
                               # stage 1 has its own epoch budget; the rest is shared
                               "train": {**_stage1_train(context).identity(),
                                         "max_epochs": None}},
                              sort_keys=True)
        name = hashlib.blake2b(settings.encode(), digest_size=16).hexdigest()
        return Path(context.cache_dir) / "stage1" / f"{name}.pt"


def _stage1_seed(context: FitContext) -> int:
    """The trial's seed, not an ensemble member's: one stage 1 per split."""
    return context.shared_seed if context.shared_seed is not None else context.seed


def _stage1_train(context: FitContext) -> TrainConfig:
    """Stage 1's training settings: the file's, not a tuned configuration's. Stage 1 is
    the same for every strategy (plain cross-entropy on the unsampled split), so tuning
    a strategy tunes stage 2 and every configuration shares one cached stage 1."""
    return context.untuned_train or context.train


def _data_digest(train: Subtomograms, val: Subtomograms) -> str:
    """Identity of the training and validation data: hashed once per fit."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (train, val):
        digest.update(np.ascontiguousarray(part.volumes).data)
        digest.update(part.labels.tobytes())
    return digest.hexdigest()


def _positive_f1(predictor, data: Subtomograms, k: int) -> float:
    """F1 of "class k" for a stage-1 path on the validation part (path selection)."""
    from sklearn.metrics import f1_score

    if predictor is None or len(data) == 0:
        return 0.0
    predicted = predictor.predict_proba(data.volumes).argmax(1)
    return float(f1_score(data.labels == k, predicted == 1, zero_division=0))


def _one_vs_rest(data: Subtomograms, k: int) -> Subtomograms:
    labels = (data.labels == k).astype(np.int64)
    return Subtomograms(data.volumes, labels, ("rest", data.class_names[k]), data.voxel_size,
                        data.source_ids)


class MultiPathPredictor:
    """The stage-2 network, plus the stage-1 paths for the Table III report."""

    def __init__(self, network, stage1: dict, kinds: list[str]) -> None:
        self._network = network  # a TorchPredictor
        self.fit_report = network.fit_report
        self._stage1, self._kinds = stage1, kinds  # (class, path kind) -> binary predictor

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        return self._network.predict_proba(volumes)

    def part_outputs(self, volumes: np.ndarray) -> np.ndarray:
        """``[n, 2K]`` (``[n, K]`` without stage 1): each class's chosen path's
        probability of "this class", then the stage-2 probabilities; what a combiner
        (the GP ensemble) works on."""
        paths = [self._stage1.get((k, kind)) for k, kind in enumerate(self._kinds)]
        columns = [p.predict_proba(volumes)[:, 1:] for p in paths if p is not None]
        return np.concatenate([*columns, self.predict_proba(volumes)], axis=1)

    def report(self, test: Subtomograms) -> dict[str, object]:
        """Each stage-1 path on its class versus the rest: F1 and G-mean of that class on
        the test split; ``chosen`` marks the path the class got in stage 2."""
        from cryobench.api import score

        rows = []
        for (k, kind), predictor in self._stage1.items():
            if predictor is None:
                continue
            binary = _one_vs_rest(test, k)
            predicted = predictor.predict_proba(test.volumes).argmax(1)
            figures = score(binary.labels, predicted, binary.class_names).per_class[1]
            rows.append({"class": test.class_names[k], "path": kind, "f1": figures.f1,
                         "gmean": figures.gmean, "chosen": self._kinds[k] == kind})
        return {"stage1": rows}
