"""A plugin written to the documented contract keeps working after every change."""

from __future__ import annotations

import pytest
from rich.console import Console

from cryobench.config import parse_benchmark
from cryobench.registry import Registry
from tests.conftest import run_locally
from cryobench.run.results import ResultStore
from cryobench.testing import check_component
from tests.plugins import docs_contract_plugin as plugin

COMPONENTS = [plugin.Blobs, plugin.MeanModel, plugin.KeepAll, plugin.Squared, plugin.Negate,
              plugin.Twice]


@pytest.mark.parametrize("cls", COMPONENTS, ids=lambda c: c.name)
def test_each_component_passes_the_conformance_checks(cls, tmp_path):
    check_component(cls, base_dir=tmp_path, cache_dir=tmp_path)


def test_a_benchmark_of_its_components_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    registry = Registry(plugins=[plugin])
    doc = {"benchmark": {"name": "docs", "seeds": [0, 1]},
           "dataset": {"source": "blobs", "n": 40},
           "train": {"max_epochs": 2, "batch_size": 8},
           "arm": [{"name": "classical", "model": "mean_model", "sampler": "keep_all",
                    "ensemble": "twice"},
                   {"name": "cnn", "model": {"name": "cnn", "widths": [4, 4, 4]},
                    "loss": {"name": "squared", "weight": 2.0}, "augment": "negate",
                    "ensemble": "twice"}]}
    records = run_locally(parse_benchmark(doc, registry), registry,
                        ResultStore(tmp_path / "r.jsonl"), Console(record=True))
    assert [r.status for r in records] == ["ok"] * 4, [r.error for r in records]
    assert min(r.metrics["macro_f1"] for r in records[:2]) > 0.8  # an easy problem
