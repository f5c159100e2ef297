"""A sweep: every arm at every value of one data-set quantity, validated like the rest."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from cryobench.config import load_benchmark, parse_benchmark
from cryobench.data.simulator.simulate import imbalanced_counts
from cryobench.errors import ConfigError
from cryobench.registry import Registry
from cryobench.run.plan import expand_trials

ROOT = Path(__file__).resolve().parents[1]


def test_a_sweep_expands_every_arm_at_every_value(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["sweep"] = {"dataset.n": [20, 40, 80]}
    bench = parse_benchmark(doc, registry)
    assert [a.name for a in bench.arms] == [
        "plain @ n 20", "warm @ n 20", "plain @ n 40", "warm @ n 40", "plain @ n 80",
        "warm @ n 80"]
    assert [a.datasets[0].source.params["n"] for a in bench.arms] == [20, 20, 40, 40, 80, 80]
    assert {a.family for a in bench.arms} == {"plain", "warm"}
    assert bench.arms[2].sweep.axis == "n" and bench.arms[2].sweep.value == 40.0
    trials = expand_trials(bench)
    assert len(trials) == 6 * 2 and len({t.key for t in trials}) == 12
    # the point at the file's own value is the same trial as without the sweep
    plain = {t.key for t in expand_trials(parse_benchmark(minimal_doc, registry))}
    assert plain < {t.key for t in trials}


@pytest.mark.parametrize(("sweep", "expected"), [
    ({"dataset.n": [20]}, "sweep.dataset.n: expected a list of at least two numbers"),
    ({"dataset.n": [20, 20]}, "listed twice"),
    ({"dataset.n": [20, 40], "imbalance": [1, 2]}, "got 2 keys"),
    ({"dataset.m": [20, 40]}, "unknown parameter of data source 'toy' 'm' (valid: box, n)"),
    ({"dataset.n": [2, 40]}, "sweep.dataset.n: 2: got 2, expected an integer >= 4"),
    ({"train.lr": [0.1, 0.2]}, "cannot sweep 'train.lr'"),
    ({"imbalance": [0.5, 2]}, "at least 1"),
    ({"imbalance": [1, 2]}, "data source 'toy' cannot change its class counts"),
    ({"dataset.n": ["a", "b"]}, "expected a list of at least two numbers"),
])
def test_sweep_errors_name_the_key(minimal_doc, registry, sweep, expected):
    doc = copy.deepcopy(minimal_doc)
    doc["sweep"] = sweep
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc, registry)
    assert expected in str(info.value)


def test_imbalanced_counts_keep_the_total_and_the_order():
    base = {"proteasome_d": 1043, "ribosome": 80, "TRiC": 125, "proteasome_s": 386}
    flat = imbalanced_counts(base, 1.0)
    assert sum(flat.values()) == 1634 and max(flat.values()) - min(flat.values()) <= 1
    steep = imbalanced_counts(base, 50.0)
    assert sum(steep.values()) == 1634 and list(steep) == list(base)
    assert steep["proteasome_d"] > steep["proteasome_s"] > steep["TRiC"] > steep["ribosome"]
    assert steep["proteasome_d"] / steep["ribosome"] == pytest.approx(50, rel=0.05)


@pytest.mark.parametrize("name", ["imbalance-sweep", "snr-sweep"])
def test_the_shipped_sweeps_validate_and_expand(name):
    registry = Registry()
    full = load_benchmark(ROOT / "benchmarks" / f"{name}.toml", registry)
    quick = load_benchmark(ROOT / "benchmarks" / f"{name}.toml", registry, profile="quick")
    axis = "imbalance" if name.startswith("imbalance") else "snr"
    values = (1, 3, 10, 25, 50) if axis == "imbalance" else (0.1, 0.03, 0.01, 0.005, 0.003,
                                                             0.002)
    assert len(full.arms) == 6 * len(values) and len(expand_trials(full)) == 6 * len(values) * 3
    assert sorted({a.sweep.value for a in full.arms}) == sorted(values)
    values_quick = 4 if axis == "imbalance" else 3
    assert len(quick.arms) == 4 * values_quick and len(expand_trials(quick)) == 4 * values_quick * 3
    point = next(a for a in full.arms if a.sweep.value == max(values))
    params = point.datasets[0].source.params
    if axis == "imbalance":
        counts = params["class_counts"]
        assert sum(counts.values()) == 1634
        assert max(counts.values()) / min(counts.values()) == pytest.approx(50, rel=0.05)
    else:
        assert params["snr"] == 0.1


def test_a_profile_replaces_the_sweep_and_its_errors_name_the_profile(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["sweep"] = {"dataset.n": [20, 40]}
    doc["profile"] = {"other": {"sweep": {"dataset.box": [4, 6]}},
                      "bad": {"sweep": {"dataset.n": [20, 2]}}}
    other = parse_benchmark(doc, registry, profile="other")
    assert {a.sweep.axis for a in other.arms} == {"box"}
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc, registry, profile="bad")
    assert "profile.bad.sweep.dataset.n: 2: got 2" in str(info.value)


def test_close_values_keep_apart_and_imbalance_refuses_class_subsets(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["sweep"] = {"dataset.n": [40, 41]}
    assert len({a.name for a in parse_benchmark(doc, registry).arms}) == 4
    registry_ = Registry()
    bench = {"benchmark": {"name": "s"}, "dataset": {"source": "synthetic", "scale": 0.2},
             "sweep": {"imbalance": [1, 5]},
             "arm": [{"name": "a", "model": "cnn", "dataset": {"classes": ["TRiC", "ribosome"]}}]}
    with pytest.raises(ConfigError, match="takes a class subset"):
        parse_benchmark(bench, registry_)
    assert sum(imbalanced_counts({"a": 10, "b": 1, "c": 1, "d": 1}, 1000).values()) == 13


def test_a_sweep_point_that_refuses_a_tuned_value_names_its_own_arms_key(tmp_path):
    """Each sweep point is checked with its own arm's tuned dimensions (they used to be
    the last arm's: a KeyError, or another arm's key)."""
    from cryobench.api import DataSource, Param, ParamError, Sampler, hookimpl
    from cryobench.config import source_class_counts
    from cryobench.errors import ConfigError
    from cryobench.registry import Registry

    class Counted(DataSource):
        name = "counted"
        summary = "two classes of n / 2, counted before loading"
        params = (Param("n", int, 40, "particles", low=4),)

        def load(self, context):
            raise AssertionError("validation never loads")

        def count_classes(self, context):
            return {"a": self.n // 2, "b": self.n - self.n // 2}

    class NeedsRare(Sampler):
        name = "needs_rare"
        summary = "refuses classes smaller than min_rare"
        params = (Param("min_rare", int, 1, "the smallest class it accepts", low=1),)

        def check_setup(self, setup):
            if setup.class_counts and min(setup.class_counts.values()) < self.min_rare:
                raise ParamError("min_rare", f"a class has fewer than {self.min_rare}")

        def fit_resample(self, volumes, labels, seed):
            return volumes, labels

    class Plugin:
        @hookimpl
        def cryobench_register_data_sources(self):
            return [Counted]

        @hookimpl
        def cryobench_register_samplers(self):
            return [NeedsRare]

    registry = Registry(plugins=[Plugin()])
    doc = {"benchmark": {"name": "s", "seeds": [0]},
           "dataset": {"source": "counted", "n": 40},
           "tune": {"configurations": 2, "space": {"train.lr": {"uniform": [1e-3, 1e-2]}}},
           "arm": [{"name": "strict", "model": "cnn", "sampler": "needs_rare",
                    "tune": {"space": {"sampler.min_rare": {"choice": [1, 15]}}}},
                   {"name": "plain", "model": "cnn"}],
           "sweep": {"dataset.n": [40, 20]}}
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc, registry, class_counts=source_class_counts(registry, tmp_path))
    assert info.value.key == "arm[0].tune.space.sampler.min_rare"
    assert "sampler.min_rare = 15 is refused" in info.value.message
