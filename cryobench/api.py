r"""The one module a plugin imports: everything cryobench promises plugin authors.

Names here keep working across versions; the modules behind them may move (old import
paths warn for a while before they go). What is heavy to import (torch, the simulator,
scikit-learn) loads when first used, so listing plugins stays fast.

- Registering: :data:`hookimpl` on ``cryobench_register_<kind>s()`` hooks that return
  component classes.
- Components: one base class per kind (:class:`DataSource`, :class:`Model`,
  :class:`Sampler`, :class:`Loss`, :class:`Augmentation`, :class:`Ensemble`), their
  declared :class:`Param`\ s, what they are handed (:class:`DataContext`,
  :class:`FitContext`, :class:`ArmSetup`) and what they hand back (a
  :class:`Predictor`, its :class:`FitReport`, one :class:`EpochRecord` per epoch).
- Optional capabilities, declared by implementing a protocol: :class:`ReportsParts`,
  :class:`GivesPartOutputs` (predictors), :class:`EpochScheduled`, :class:`Phased`
  (loss modules).
- Result tables: a plugin's ``cryobench_result_tables`` hook returns :class:`ResultTable`\ s
  of what its components reported (shown beside the leaderboard, in the report, in MLflow).
- Helpers: the training engine (:class:`TorchModel`, :func:`train_module`), scoring,
  the data cache and readers (particle folders, stacks, STAR files; tomograms cut at a
  coordinate list or a copick project's picks), and the simulator behind ``synthetic``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cryobench import hookimpl
from cryobench.contract.components import (
    SELF_FITTED, TORCH_ENGINE, ArmSetup, Augmentation, Component, CosineHead, DataContext,
    DataSource, Ensemble, EpochScheduled, FitContext, FitReport, GivesPartOutputs,
    HasFitReport, Loss, Model, Phased, Predictor, ReportsParts, Sampler, fit_report_of,
    parts_report_of,
)
from cryobench.contract.params import SEED_MAX, Param
from cryobench.contract.records import DEFERRED, FINAL, EpochRecord, EpochReport
from cryobench.contract.tables import ResultTable
from cryobench.contract.torch_model import TorchModel
from cryobench.data.subtomograms import Subtomograms
from cryobench.errors import (
    CryobenchDeprecationWarning, CryobenchError, DataError, ParamError, TrialFailed,
)
from cryobench.specs import Capabilities, TrainConfig

#: name -> the module it loads from when first asked for
_LAZY = {
    # the training engine (torch)
    "train_module": "cryobench.train.engine",
    "TorchPredictor": "cryobench.train.engine",
    "FitResult": "cryobench.train.engine",
    "predict_logits": "cryobench.train.engine",
    "use_cosine_head": "cryobench.train.heads",
    # what ``cryobench_result_tables`` is handed
    "TrialRecord": "cryobench.run.records",
    "Benchmark": "cryobench.specs",
    # scoring (scikit-learn)
    "score": "cryobench.metrics",
    "Scores": "cryobench.metrics",
    # the data cache, and the readers of particle folders, stacks and STAR files
    "cached_folder": "cryobench.data.cache",
    "content_key": "cryobench.data.cache",
    "discard": "cryobench.data.cache",
    "save_file": "cryobench.data.cache",
    "load_dataset": "cryobench.data.loading",
    "count_classes": "cryobench.data.loading",
    "is_complete": "cryobench.data.export",
    # particles cut from whole tomograms: planned from coordinates and headers, cut once
    "ParticlePlan": "cryobench.data.picked",
    "load_cut": "cryobench.data.picked",
    "plan_from_list": "cryobench.data.tomogram_files",
    "plan_from_project": "cryobench.data.copick_project",
    # the simulator (the ``synthetic`` source)
    "DEFAULT_SNR": "cryobench.data.simulator",
    "SIMULATOR_VERSION": "cryobench.data.simulator",
    "spec_from_params": "cryobench.data.simulator.simulate",
    "imbalanced_counts": "cryobench.data.simulator.simulate",
    "write_simulation": "cryobench.data.simulator.writer",
}

if TYPE_CHECKING:
    from cryobench.data.cache import cached_folder, content_key, discard, save_file
    from cryobench.data.export import is_complete
    from cryobench.data.copick_project import plan_from_project
    from cryobench.data.loading import count_classes, load_dataset
    from cryobench.data.picked import ParticlePlan, load_cut
    from cryobench.data.tomogram_files import plan_from_list
    from cryobench.data.simulator import DEFAULT_SNR, SIMULATOR_VERSION
    from cryobench.data.simulator.simulate import imbalanced_counts, spec_from_params
    from cryobench.data.simulator.writer import write_simulation
    from cryobench.metrics import Scores, score
    from cryobench.run.records import TrialRecord
    from cryobench.specs import Benchmark
    from cryobench.train.engine import FitResult, TorchPredictor, predict_logits, train_module
    from cryobench.train.heads import use_cosine_head


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'cryobench.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "hookimpl",
    "Component", "DataSource", "Model", "Sampler", "Loss", "Augmentation", "Ensemble",
    "Param", "SEED_MAX", "Capabilities", "TORCH_ENGINE", "SELF_FITTED",
    "DataContext", "FitContext", "ArmSetup", "TrainConfig", "Subtomograms",
    "Predictor", "FitReport", "fit_report_of", "parts_report_of",
    "HasFitReport", "ReportsParts", "GivesPartOutputs", "EpochScheduled", "Phased",
    "EpochRecord", "EpochReport", "DEFERRED", "FINAL", "CosineHead",
    "CryobenchError", "DataError", "ParamError", "TrialFailed",
    "CryobenchDeprecationWarning", "TorchModel", "ResultTable", *_LAZY,
]
