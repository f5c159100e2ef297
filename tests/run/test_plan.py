from __future__ import annotations

import copy

from cryobench.config import parse_benchmark
from cryobench.run.plan import expand_trials


def test_expansion_is_arm_by_subset_by_seed(minimal_doc, registry):
    doc = copy.deepcopy(minimal_doc)
    doc["arm"][1]["dataset"] = {"classes": [["a", "b"], ["b", "a"]]}
    trials = expand_trials(parse_benchmark(doc, registry))
    assert len(trials) == 1 * 2 + 2 * 2
    assert [(t.arm, t.seed) for t in trials[:2]] == [("plain", 0), ("plain", 1)]
    assert len({t.key for t in trials}) == len(trials)


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
    changed["train"] = {"lr": 0.01}
    assert keys(changed, registry)[("plain", 0)] != base[("plain", 0)]
    assert base[("plain", 0)] != base[("plain", 1)]
    assert all(len(k) == 16 for k in base.values())
