"""Shared fixtures: a tiny in-test plugin, and small benchmark documents."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cryobench.api import SELF_FITTED, DataSource, Model, Param, hookimpl
from cryobench.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = ROOT / "docs" / "examples" / "cryobench-poly-loss"


class ToySource(DataSource):
    """Two Gaussian blobs of different widths: a data set in a few lines."""

    name = "toy"
    summary = "test-only data source"
    params = (Param("n", int, 40, "particles", low=4), Param("box", int, 8, "box edge", low=2))

    def load(self, context):
        from cryobench.data.subtomograms import Subtomograms

        rng = np.random.default_rng(0)
        labels = np.arange(self.n) % 2
        volumes = rng.normal(size=(self.n, self.box, self.box, self.box)).astype(np.float32)
        volumes += labels[:, None, None, None].astype(np.float32)
        return Subtomograms(volumes, labels, ("a", "b"), voxel_size=1.0)


class CentroidModel(Model):
    """Nearest class mean: the smallest real model."""

    name = "centroid"
    summary = "test-only nearest-centroid model"
    params = (Param("temperature", float, 1.0, "softmax temperature", low=0.0),)
    capabilities = SELF_FITTED

    def fit(self, train, val, context):
        x = train.volumes.reshape(len(train), -1)
        means = np.stack([x[train.labels == c].mean(0) for c in range(context.num_classes)])
        temperature = self.temperature

        class Fitted:
            def predict_proba(self, volumes):
                d = ((volumes.reshape(len(volumes), -1)[:, None] - means[None]) ** 2).mean(-1)
                z = -d / temperature
                z -= z.max(1, keepdims=True)
                return np.exp(z) / np.exp(z).sum(1, keepdims=True)

        return Fitted()


class ToyPlugin:
    @hookimpl
    def cryobench_register_data_sources(self):
        return [ToySource]

    @hookimpl
    def cryobench_register_models(self):
        return [CentroidModel]


@pytest.fixture(scope="session")
def tomogram_set(tmp_path_factory) -> Path:
    """Two simulated 64 x 64 x 32 tomograms with 18 particles of 16^3, their RELION 5
    STAR and a copick project: written once for the session (read, never changed)."""
    from cryobench.data.simulator.simulate import SimulationSpec
    from cryobench.data.simulator.tomograms import TomogramSet, write_tomogram_set

    spec = TomogramSet(SimulationSpec(class_counts={"TRiC": 10, "ribosome": 8}, box=16,
                                      snr=0.5), tomograms=2, shape=(32, 64, 64))
    return write_tomogram_set(tmp_path_factory.mktemp("tomograms") / "set", spec)


@pytest.fixture
def registry() -> Registry:
    return Registry(plugins=[ToyPlugin()])


MINIMAL_TOML = """\
[benchmark]
name = "mini"
seeds = [0, 1]

[dataset]
source = "toy"
n = 40

[[arm]]
name = "plain"
model = "centroid"

[[arm]]
name = "warm"
model = { name = "centroid", temperature = 2.0 }
"""


@pytest.fixture
def minimal_doc() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    return tomllib.loads(MINIMAL_TOML)


@pytest.fixture(scope="session")
def example_plugin_site(tmp_path_factory) -> Path:
    """The documented example plugin, really installed (pip, entry point and all)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(EXAMPLE_PLUGIN)],
        check=True, capture_output=True,
    )
    return target


def run_locally(bench, registry, store, console=None):
    """A benchmark through the driver and the local executor, as `cryobench run
    --executor local` does, with this process's registry (in-test plugins)."""
    from rich.console import Console

    from cryobench.data.cache import cache_root
    from cryobench.run.driver import run_benchmark
    from cryobench.run.trial import WorkerSettings
    from cryobench.run.local import LocalExecutor

    base = bench.path.parent if bench.path else Path.cwd()
    executor = LocalExecutor(WorkerSettings(base, cache_root()), registry=registry)
    return run_benchmark(bench, store, executor, console or Console(record=True, width=150))


@pytest.fixture(scope="session")
def empty_mlflow_store(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables made, once: making them takes MLflow about
    4 s, and every test that tracks needs a store of its own. Made in a subprocess, so
    that this process imports MLflow only where a test does."""
    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    subprocess.run([sys.executable, "-c", "import sys; from mlflow import MlflowClient; "
                    "MlflowClient(sys.argv[1]).search_experiments()", f"sqlite:///{path}"],
                   check=True, capture_output=True)
    return path


@pytest.fixture(autouse=True)
def tracking_in_a_temporary_folder(tmp_path, monkeypatch, empty_mlflow_store):
    """MLflow's store for every test (and the CLI subprocesses it starts): a fresh copy
    of an empty store in the test's folder, never the working directory."""
    shutil.copyfile(empty_mlflow_store, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
