"""Benchmark files: TOML -> validated, frozen objects; every error names the file and the
key. Small stateless checks, one module per part of the file:

- :mod:`.schema`: the tables, their keys and the shared settings' declared parameters;
- :mod:`.reader`: the checks every table goes through (:class:`FileReader`);
- :mod:`.arms`, :mod:`.tune`, :mod:`.sweep`, :mod:`.reference`, :mod:`.profiles`: each
  part of the file;
- :mod:`.preflight`: the checks that touch data or build components (class subsets,
  splits, each component's ``check_setup``), which tuning reuses;
- :mod:`.load`: reading a file, every profile checked.
"""

from cryobench.config.arms import train_config
from cryobench.config.load import (
    load_benchmark, parse_benchmark, source_class_counts, source_tomogram_counts,
)
from cryobench.config.schema import (
    ARM_DEFAULTS, ARM_KINDS, BENCHMARK_PARAMS, RESOURCE_PARAMS, SPLIT_PARAMS, TRAIN_PARAMS,
    ClassCounts, TomogramCounts,
)

__all__ = [
    "load_benchmark", "parse_benchmark", "source_class_counts", "source_tomogram_counts",
    "train_config", "TomogramCounts",
    "ARM_DEFAULTS", "ARM_KINDS", "BENCHMARK_PARAMS", "RESOURCE_PARAMS", "SPLIT_PARAMS",
    "TRAIN_PARAMS", "ClassCounts",
]
