from __future__ import annotations

import copy

from cryobench import __version__
from cryobench.config import parse_benchmark
from cryobench.data.simulator import SIMULATOR_VERSION
from cryobench.run.plan import expand_trials


def test_expansion_is_arm_by_subset_by_seed(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["arm"][1]["dataset"] = {"classes": [["a", "b"], ["b", "a"]]}
    trials = expand_trials(parse_benchmark(doc, registry))
    assert len(trials) == 1 * 2 + 2 * 2
    assert [(t.arm, t.seed) for t in trials[:2]] == [("plain", 0), ("plain", 1)]
    assert len({t.key for t in trials}) == len(trials)
    # what progress and tuning's phases show: two subsets are two lines
    from cryobench.run.views import trial_label

    assert len({trial_label(t) for t in trials}) == len(trials)


def test_kfold_adds_a_fold_axis(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["split"] = {"method": "kfold", "folds": 3}
    trials = expand_trials(parse_benchmark(doc, registry))
    assert len(trials) == 2 * 2 * 3 and {t.fold for t in trials} == {0, 1, 2}


def keys(doc, registry):
    return {(t.arm, t.seed): t.key for t in expand_trials(parse_benchmark(doc, registry))}


def test_hash_ignores_key_order_and_unrelated_arms(minimal_doc, registry):
    base = keys(minimal_doc, registry)
    reordered = {k: minimal_doc[k] for k in reversed(list(minimal_doc))}
    reordered["arm"] = [dict(reversed(list(a.items()))) for a in minimal_doc["arm"]]
    assert keys(reordered, registry) == base

    fewer = copy.deepcopy(minimal_doc)
    fewer["arm"] = fewer["arm"][1:]
    more = copy.deepcopy(minimal_doc)
    more["arm"].append({"name": "third", "model": {"name": "centroid", "temperature": 3.0}})
    assert keys(fewer, registry)[("warm", 0)] == base[("warm", 0)]
    assert keys(more, registry)[("plain", 1)] == base[("plain", 1)]


def test_hash_changes_with_content_and_default_spelled_out(minimal_doc, registry):
    base = keys(minimal_doc, registry)
    explicit = copy.deepcopy(minimal_doc)
    explicit["arm"][0]["model"] = {"name": "centroid", "temperature": 1.0}
    assert keys(explicit, registry) == base  # a default written out is the same trial
    changed = copy.deepcopy(minimal_doc)
    changed["arm"][0]["model"] = {"name": "centroid", "temperature": 1.5}
    assert keys(changed, registry)[("plain", 0)] != base[("plain", 0)]
    assert base[("plain", 0)] != base[("plain", 1)]
    assert all(len(k) == 16 for k in base.values())


def cnn_doc(**train) -> dict:
    return {"benchmark": {"name": "k", "seeds": [0]},
            "dataset": {"source": "synthetic", "box": 12},
            "train": {"max_epochs": 2, **train},
            "arm": [{"name": "cnn", "model": "cnn"}]}


def test_only_settings_the_model_uses_enter_its_key(minimal_doc, registry):
    """The centroid model fits on its own: [train] and the thread count are not its
    business; the cnn trains with them, so they are."""
    from cryobench.registry import Registry

    faster = copy.deepcopy(minimal_doc)
    faster["train"] = {"lr": 0.01, "max_epochs": 3}
    assert keys(faster, registry) == keys(minimal_doc, registry)
    assert expand_trials(parse_benchmark(minimal_doc, registry), threads=1)[0].key == \
        expand_trials(parse_benchmark(minimal_doc, registry), threads=2)[0].key

    base = expand_trials(parse_benchmark(cnn_doc(), Registry()))[0]
    assert expand_trials(parse_benchmark(cnn_doc(lr=0.01), Registry()))[0].key != base.key
    one, two = (expand_trials(parse_benchmark(cnn_doc(), Registry()), threads=n)[0]
                for n in (1, 2))
    assert one.key != two.key and base.threads == 2  # cpus_per_trial = 2 by default
    assert base.key == two.key


def test_the_code_behind_each_component_enters_the_key(monkeypatch):
    """An upgraded plugin (another version or revision) does not reuse old numbers."""
    from cryobench.registry import ComponentInfo, Registry

    base = expand_trials(parse_benchmark(cnn_doc(), Registry()))[0]
    assert base.config()["model"]["code"] == "cryobench " + __version__
    assert base.config()["dataset"]["source"]["code"].endswith(f" r{SIMULATOR_VERSION}")
    monkeypatch.setattr(ComponentInfo, "code", property(lambda self: "cryobench 9.9"))
    upgraded = expand_trials(parse_benchmark(cnn_doc(), Registry()))[0]
    assert upgraded.key != base.key


def test_split_group_enters_the_key_only_when_set(minimal_doc, registry):
    """Results made before [split] group keep their keys: at its default the split's
    identity is what it always was."""
    base = expand_trials(parse_benchmark(minimal_doc, registry))[0]
    assert base.config()["split"] == {"method": "holdout", "test_fraction": 0.2,
                                      "val_fraction": 0.1, "folds": 5}
    grouped_doc = {**minimal_doc, "split": {"group": "tomogram"}}
    grouped = expand_trials(parse_benchmark(grouped_doc, registry))[0]
    assert grouped.config()["split"]["group"] == "tomogram" and grouped.key != base.key
    assert expand_trials(parse_benchmark({**minimal_doc, "split": {"group": "none"}},
                                         registry))[0].key == base.key
