"""Every trial key of every shipped benchmark file and profile, as this machine of
reference computes them (bf16 on a CPU with AVX512_BF16, no GPU): results already
recorded stay valid only while these stay the same.

    python -m tests.run.trial_keys > tests/run/data/trial_keys.json

writes the fixture anew; do that only when a change is meant to invalidate results
(and bump what it must: a component's revision, ``TRIAL_SCHEMA``).
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any
from unittest import mock

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def shipped_keys() -> dict[str, dict[str, list[list[Any]]]]:
    """File -> profile ('' for none) -> [arm, class subset, seed, fold, key] per trial."""
    from cryobench.config import load_benchmark
    from cryobench.registry import Registry
    from cryobench.run.plan import expand_trials

    registry = Registry()
    keys: dict[str, dict[str, list[list[Any]]]] = {}
    with mock.patch("cryobench.train.precision._cpu_flags", return_value={"avx512_bf16"}), \
            mock.patch("torch.cuda.is_available", return_value=False):
        for path in sorted(BENCHMARKS.glob("*.toml")):
            profiles = tomllib.loads(path.read_text()).get("profile", {})
            keys[path.name] = {
                profile or "": [
                    [t.arm, sorted(t.dataset.classes or ()), t.seed, t.fold, t.key]
                    for t in expand_trials(load_benchmark(path, registry, profile,
                                                          inspect_data=False))
                ]
                for profile in [None, *profiles]
            }
    return keys


if __name__ == "__main__":
    json.dump(shipped_keys(), sys.stdout, indent=1)
    sys.stdout.write("\n")
