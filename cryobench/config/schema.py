"""What a benchmark file may hold: its tables, their keys and the shared settings'
declared parameters (validated like a component's)."""

from __future__ import annotations

from collections.abc import Callable

from cryobench.contract.params import SEED_MAX, Param
from cryobench.metrics import METRICS
from cryobench.specs import ComponentSpec
from cryobench.train.precision import PRECISIONS

BENCHMARK_PARAMS = (
    Param("name", str, None, "benchmark name (MLflow experiment)"),
    Param("description", str, "", "one line shown in listings"),
    Param("seeds", list, [0, 1, 2, 3, 4], "split and training seeds", items=int, low=0,
          high=SEED_MAX, min_len=1, unique=True),
    Param("primary_metric", str, "macro_f1", "metric that ranks arms", choices=METRICS),
)
SPLIT_PARAMS = (
    Param("method", str, "holdout", "one stratified split per seed, or k folds",
          choices=("holdout", "kfold")),
    Param("test_fraction", float, 0.2, "share of particles held out for testing",
          low=0.05, high=0.5),
    Param("val_fraction", float, 0.1, "share of the training part used for early stopping",
          low=0.0, high=0.5),
    Param("folds", int, 5, "folds for method = 'kfold'", low=2, high=20),
    Param("group", str, "none", "'tomogram': each tomogram's particles on one side of the "
          "test split", choices=("none", "tomogram")),
)
TRAIN_PARAMS = (
    Param("max_epochs", int, 30, "epoch budget", low=1),
    Param("batch_size", int, 32, "mini-batch size (batch norm needs two)", low=2),
    Param("optimizer", str, "adam", "optimiser", choices=("adam", "adamw", "sgd")),
    Param("lr", float, 1e-3, "learning rate", low=1e-12),
    Param("weight_decay", float, 1e-4, "L2 penalty", low=0.0),
    Param("momentum", float, 0.9, "SGD momentum", low=0.0, high=1.0),
    Param("schedule", str, "cosine", "learning-rate schedule",
          choices=("constant", "cosine", "step")),
    Param("patience", int, 0, "epochs without validation gain before stopping (0: never; "
          "the whole budget, the best validation epoch kept: docs/protocol.md)", low=0),
    Param("monitor", str, "val_macro_f1", "what early stopping and `restore = \"best\"` "
          "watch on the validation part", choices=("val_macro_f1", "val_loss")),
    Param("restore", str, "best", "weights kept at the end: the best epoch on validation, "
          "or the last one trained (where early stopping stopped, if it did)",
          choices=("best", "last")),
    Param("device", str, "auto", "where to train", choices=("auto", "cpu", "cuda")),
    Param("eval_batch_size", int, 128, "batch size for prediction", low=1),
    Param("precision", str, "auto", "what the forward passes compute in: auto is bfloat16 "
          "on CUDA and on CPUs with native bf16 (AVX512_BF16, AMX), float32 elsewhere",
          choices=PRECISIONS),
)
RESOURCE_PARAMS = (
    Param("cpus_per_trial", float, 2.0, "CPU cores per trial", low=0.1),
    Param("gpus_per_trial", float, 0.0, "GPUs per trial; fractions share a GPU", low=0.0),
    Param("max_concurrent", int, 0, "trials at once (0: as many as resources allow)", low=0),
)

TOP_LEVEL = ("benchmark", "dataset", "split", "train", "resources", "tune", "sweep", "arm",
             "reference", "report", "profile")
PROFILE_KEYS = ("benchmark", "dataset", "split", "train", "resources", "tune", "sweep", "arms",
                "components")
SWEEP_HELP = ("one swept quantity: `imbalance = [1, 10, 50]` (largest : rarest class, the "
              "total kept) or a data-source parameter, `\"dataset.snr\" = [0.1, 0.01]`")
ARM_KEYS = ("name", "model", "sampler", "loss", "augment", "ensemble", "dataset", "train",
            "tune")
ARM_DEFAULTS = {"sampler": "none", "loss": "ce", "augment": "none", "ensemble": "none"}
ARM_KINDS = {"model": "model", "sampler": "sampler", "loss": "loss", "augment": "augmentation",
             "ensemble": "ensemble"}

#: Particles per class of a data source, when it can tell before loading (``None``: not).
ClassCounts = Callable[[ComponentSpec], "dict[str, int] | None"]
#: Particles per tomogram and class (``None``: the source knows no tomograms).
TomogramCounts = Callable[[ComponentSpec], "dict[str, dict[str, int]] | None"]
