from __future__ import annotations

import copy
from pathlib import Path

import pytest

from cryobench.config import load_benchmark, parse_benchmark
from cryobench.errors import ConfigError, CryobenchError

ROOT = Path(__file__).resolve().parent.parent


def parse(doc, registry, **kw):
    return parse_benchmark(doc, registry, **kw)


def test_minimal_file_resolves_defaults(minimal_doc, registry):
    bench = parse(minimal_doc, registry)
    assert bench.seeds == (0, 1)
    assert [a.name for a in bench.arms] == ["plain", "warm"]
    assert bench.arms[0].model.params == {"temperature": 1.0}
    assert bench.arms[1].model.params == {"temperature": 2.0}
    assert bench.arms[0].loss.name == "ce" and bench.arms[0].sampler.name == "none"
    assert bench.dataset.source.params == {"n": 40, "box": 8}
    assert bench.train.max_epochs == 30 and bench.split.test_fraction == 0.2


def error(doc, registry, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        parse(doc, registry, **kw)
    return str(info.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(trian={}), "trian: unknown table 'trian'; did you mean 'train'?"),
        (lambda d: d["benchmark"].update(seed=[1]),
         "benchmark.seed: unknown key in [benchmark] 'seed'; did you mean 'seeds'?"),
        (lambda d: d["arm"][1].update(model={"name": "centriod"}),
         "arm[1].model: unknown model 'centriod'; did you mean 'centroid'"),
        (lambda d: d["arm"][1].update(model={"name": "centroid", "temperature": "hot"}),
         "arm[1].model.temperature: got 'hot' (str), expected a number >= 0.0"),
        (lambda d: d["arm"][0].update(model={"name": "centroid", "temperature": -1}),
         "arm[0].model.temperature: got -1.0, expected a number >= 0.0"),
        (lambda d: d["arm"][0].update(model={"name": "centroid", "temp": 1}),
         "arm[0].model.temp: unknown key in [arm[0].model] 'temp'"),
        (lambda d: d["arm"][1].update(name="plain"),
         "arm[1].name: duplicate arm name 'plain' (also arm[0])"),
        (lambda d: d["arm"][1].update(name=" PLAIN"),
         "arm[1].name: arm name ' PLAIN' differs from arm[0]'s 'plain' only in spaces or "
         "case; the leaderboard, the report and MLflow would show two arms that read alike: "
         "rename one"),
        (lambda d: d["arm"].__setitem__(slice(None), [
            {**d["arm"][0], "name": "cnn + focal"}, {**d["arm"][1], "name": "cnn+Focal"}]),
         "arm[1].name: arm name 'cnn+Focal' differs from arm[0]'s 'cnn + focal' only in"),
        (lambda d: d["arm"][0].update(dataset={"classes": 5}),
         "arm[0].dataset.classes: expected a non-empty list of class names, got 5"),
        (lambda d: d["arm"][0].update(dataset={"classes": {"a": 1}}),
         "arm[0].dataset.classes: expected a non-empty list of class names, got {'a': 1}"),
        (lambda d: d["arm"][0].update(dataset={"classes": "a"}),
         "arm[0].dataset.classes: expected a non-empty list of class names, got 'a'"),
        (lambda d: d["arm"][0].pop("model"), "arm[0].model: missing; name a model plugin"),
        (lambda d: d["arm"][0].update(loss="focl"), "arm[0].loss: unknown loss 'focl'"),
        (lambda d: d["arm"][0].update(sampler=3), "arm[0].sampler: expected a plugin name"),
        (lambda d: d["arm"][0].update(colour="red"), "arm[0].colour: unknown key in [arm[0]]"),
        (lambda d: d["split"].update(test_fraction=0.9) if "split" in d else d.update(
            split={"test_fraction": 0.9}),
         "split.test_fraction: got 0.9, expected a number in [0.05, 0.5]"),
        (lambda d: d.update(train={"optimizer": "lbfgs"}),
         "train.optimizer: got 'lbfgs', expected one of 'adam', 'adamw', 'sgd'"),
        (lambda d: d["benchmark"].update(seeds=[True]), "benchmark.seeds[0]: got True"),
        (lambda d: d["benchmark"].update(seeds=[]), "benchmark.seeds: got 0 items, expected a non-empty list of integers"),
        (lambda d: d["benchmark"].pop("name"), "benchmark.name: is required"),
        (lambda d: d["dataset"].update(n=2), "dataset.n: got 2, expected an integer >= 4"),
        (lambda d: d["dataset"].pop("source"), "dataset.source: missing"),
        (lambda d: d["dataset"].update(classes=["a"]), "dataset.classes: needs at least two"),
        (lambda d: d.pop("arm"), "arm: needs at least one [[arm]] table"),
        (lambda d: d.update(reference={"arms": {"nope": {"macro_f1": 70.0}}}),
         "reference.arms.nope: unknown arm 'nope'"),
        (lambda d: d.update(reference={"arms": {"plain": {"macro_f1": 170.0}}}),
         "reference.arms.plain.macro_f1: expected a percentage in [0, 100], got 170.0"),
        (lambda d: d.update(reference={"arms": {"plain": {"f1": 70.0}}}),
         "reference.arms.plain.f1: unknown key in [reference.arms.plain] 'f1'"),
        (lambda d: d["arm"][0].update(dataset={"n": "many"}), "arm[0].dataset.n: got 'many'"),
        (lambda d: d["arm"][0].update(augment=["none", "mixx"]),
         "arm[0].augment[1]: unknown augmentation 'mixx'"),
        (lambda d: d.update(profile={"quick": {"trains": {}}}),
         "profile.quick.trains: unknown key in [profile.quick] 'trains'"),
    ],
)
def test_each_error_names_key_and_valid_values(minimal_doc, registry, mutate, expected, tmp_path):
    doc = copy.deepcopy(minimal_doc)
    mutate(doc)
    message = error(doc, registry, path=tmp_path / "b.toml")
    assert message.startswith(f"{tmp_path / 'b.toml'}: ")
    assert expected in message
    assert "\n" not in message


def test_profile_overrides_and_selects_arms(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["profile"] = {"quick": {"benchmark": {"seeds": [7]}, "train": {"max_epochs": 2},
                                "dataset": {"n": 8}, "arms": ["warm"]}}
    full = parse(doc, registry)
    quick = parse(doc, registry, profile="quick")
    assert full.seeds == (0, 1) and len(full.arms) == 2
    assert quick.seeds == (7,) and quick.train.max_epochs == 2
    assert quick.arms[0].train.max_epochs == 2
    assert quick.dataset.source.params["n"] == 8 and [a.name for a in quick.arms] == ["warm"]
    assert "unknown profile 'quik'; did you mean 'quick'?" in error(doc, registry, profile="quik")


def test_arm_overrides_dataset_and_train(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["train"] = {"max_epochs": 5, "lr": 0.01}
    doc["arm"][1]["train"] = {"max_epochs": 9}
    doc["arm"][1]["dataset"] = {"n": 12, "classes": [["a", "b"], ["b", "a"]]}
    bench = parse(doc, registry)
    plain, warm = bench.arms
    assert plain.train.max_epochs == 5 and warm.train.max_epochs == 9 and warm.train.lr == 0.01
    assert [d.classes for d in warm.datasets] == [("a", "b"), ("b", "a")]
    assert warm.datasets[0].source.params["n"] == 12 and plain.datasets[0].source.params["n"] == 40


def test_reference_figures(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["reference"] = {"citation": "Luo et al. 2019", "arms": {"plain": {"macro_f1": 68.1}}}
    bench = parse(doc, registry)
    assert bench.reference == {"plain": {"macro_f1": 68.1}}
    assert bench.reference_citation == "Luo et al. 2019"
    # a profile that leaves the arm out keeps the figure out, without an error
    doc["profile"] = {"warm-only": {"arms": ["warm"]}}
    assert parse(doc, registry, profile="warm-only").reference == {}
    doc["reference"]["arms"]["nope"] = {"macro_f1": 1.0}
    assert "reference.arms.nope: unknown arm 'nope'" in error(doc, registry)


def test_bad_toml_and_missing_file(tmp_path, registry):
    bad = tmp_path / "bad.toml"
    bad.write_text("[benchmark\nname = 1\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_benchmark(bad, registry)
    with pytest.raises(CryobenchError, match="absent.toml: file not found"):
        load_benchmark(tmp_path / "absent.toml", registry)


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.toml")),
                         ids=lambda p: p.name)
def test_every_shipped_file_and_profile_is_valid(path):
    """Loading a file validates all its profiles; a shipped one must never fail to."""
    from cryobench.registry import Registry

    bench = load_benchmark(path, Registry())
    assert bench.arms and bench.seeds
