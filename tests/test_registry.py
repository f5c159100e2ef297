from __future__ import annotations

import inspect
import sys

import pytest

from cryobench import hookimpl, hookspecs
from cryobench.contract.components import Loss
from cryobench.errors import PluginError
from cryobench.registry import BLOCK_ENV, Registry


def test_first_party_plugins_load_through_entry_points():
    registry = Registry()
    ce = registry.info("loss", "ce")
    assert ce.distribution == "cryobench"
    assert ce.plugin == "cryobench_losses"
    assert set(registry.kinds) == set(hookspecs.KIND_HOOKS)


def test_plugin_object_registered_in_a_test(registry):
    info = registry.info("model", "centroid")
    assert info.distribution == f"<{info.plugin}>" and info.plugin.startswith("ToyPlugin@")
    model = registry.create("model", "centroid", {"temperature": 0.5})
    assert model.temperature == 0.5


def test_register_and_unregister_after_construction():
    class Extra(Loss):
        name = "extra"
        summary = "a loss registered by a test"

        def build(self, class_counts):
            import torch

            return torch.nn.CrossEntropyLoss(reduction="none")

    class Plugin:
        @hookimpl
        def cryobench_register_losses(self):
            return [Extra]

    plugin = Plugin()
    registry = Registry()
    registry.register(plugin)
    assert "extra" in registry.names("loss")
    registry.unregister(plugin)
    assert "extra" not in registry.names("loss")


def test_block_list_from_environment(monkeypatch):
    monkeypatch.setenv(BLOCK_ENV, "cryobench_losses, cryobench_augment")
    registry = Registry()
    assert registry.names("loss") == []
    assert registry.names("augmentation") == []
    assert "none" in registry.names("sampler")


def test_unknown_name_suggests_closest():
    registry = Registry()
    with pytest.raises(PluginError, match=r"unknown loss 'cee'; did you mean 'ce'\?"):
        registry.get("loss", "cee")
    with pytest.raises(PluginError, match="unknown kind 'losss'"):
        registry.names("losss")


def test_same_name_from_two_plugins_names_both():
    class Clash(Loss):
        name = "ce"
        summary = "a second 'ce'"

        def build(self, class_counts):
            return None

    class ClashPlugin:
        @hookimpl
        def cryobench_register_losses(self):
            return [Clash]

    with pytest.raises(PluginError) as info:
        Registry(plugins=[ClashPlugin()])
    message = str(info.value)
    assert "registered twice" in message and "cryobench (cryobench_losses)" in message
    assert "ClashPlugin" in message


def test_an_alias_names_the_component_and_its_trial_key_is_the_names():
    """Genetic programming is `gp` in every recorded trial key; a file may call it by
    the name an ML reader does not take for a Gaussian process, with the same keys."""
    from cryobench.config import parse_benchmark
    from cryobench.listing import component_rows
    from cryobench.run.plan import expand_trials

    registry = Registry()
    assert registry.info("ensemble", "genetic_programming").name == "gp"
    assert registry.canonical("model", "genetic_programming_classifier") == "gp_classifier"
    assert "genetic_programming" not in registry.names("ensemble")  # listed once, as gp

    def keys(ensemble):
        return [t.key for t in expand_trials(parse_benchmark({
            "benchmark": {"name": "b", "seeds": [0]},
            "dataset": {"source": "synthetic", "box": 12},
            "arm": [{"name": "gp", "model": "multipath", "ensemble": ensemble}]}, registry))]

    assert keys("genetic_programming") == keys("gp")
    assert keys({"name": "genetic_programming", "generations": 3}) == \
        keys({"name": "gp", "generations": 3})
    row, = [r for r in component_rows(registry, "ensemble") if r["name"] == "gp"]
    assert row["aliases"] == ["genetic_programming"]
    with pytest.raises(PluginError, match="did you mean 'genetic_programming'"):
        registry.get("ensemble", "genetic_programing")


@pytest.mark.parametrize("alias", ["ce", "focal_alias"])
def test_an_alias_that_is_taken_is_refused_at_load(alias):
    class Taken(Loss):
        name = "taken"
        summary = "an alias that is another loss's name, or another alias"
        aliases = (alias,)

        def build(self, class_counts):
            return None

    class Earlier(Loss):
        name = "earlier"
        summary = "holds an alias first"
        aliases = ("focal_alias",)

        def build(self, class_counts):
            return None

    class Plugin:
        @hookimpl
        def cryobench_register_losses(self):
            return [Earlier, Taken]

    with pytest.raises(PluginError, match=f"gives the alias '{alias}', which loss"):
        Registry(plugins=[Plugin()])


def test_misspelt_hook_is_rejected():
    class Misspelt:
        @hookimpl
        def cryobench_register_lossses(self):
            return []

    with pytest.raises(PluginError, match="unknown hook 'cryobench_register_lossses'"):
        Registry(plugins=[Misspelt()])


def test_incomplete_component_is_rejected():
    class Abstract(Loss):
        name = "abstract"
        summary = "forgot build()"

    class Plugin:
        @hookimpl
        def cryobench_register_losses(self):
            return [Abstract]

    with pytest.raises(PluginError, match=r"does not implement \['build'\]"):
        Registry(plugins=[Plugin()])


def test_parameter_validation_on_create():
    registry = Registry()
    with pytest.raises(PluginError, match="unknown parameter of loss 'ce' 'gamma'"):
        registry.create("loss", "ce", {"gamma": 2})


def test_installed_third_party_plugin_is_found(example_plugin_site, monkeypatch):
    monkeypatch.syspath_prepend(str(example_plugin_site))
    registry = Registry()
    info = registry.info("loss", "poly1")
    assert (info.distribution, info.version, info.plugin) == (
        "cryobench-poly-loss", "1.0.0", "cryobench_poly")
    loss = registry.create("loss", "poly1", {"epsilon": 2.0})
    import torch

    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    value = loss.build(class_counts=None)(logits, targets)
    p = torch.softmax(logits, -1)
    expected = -torch.log(p[[0, 1], [0, 1]]) + 2.0 * (1 - p[[0, 1], [0, 1]])
    assert torch.allclose(value, expected)
    sys.modules.pop("cryobench_poly", None)


def test_every_hook_is_documented():
    for name in hookspecs.KIND_HOOKS.values():
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert doc and len(doc) > 20, f"{name} has no docstring"


def plugin_with(kind_hook: str, *classes):
    class Plugin:
        pass

    def register(self):
        return list(classes)

    setattr(Plugin, kind_hook, hookimpl(register))
    return Plugin()


def test_a_method_that_breaks_the_contract_fails_at_load_naming_it():
    from cryobench.contract.components import Model

    class Old(Model):
        name = "old"
        summary = "fit without the context argument"

        def fit(self, train, val):
            return None

    with pytest.raises(PluginError, match=r"model .*Old.* fit\(self, train, val\) does not "
                                          r"accept the contract's fit\(train, val, context\)"):
        Registry(plugins=[plugin_with("cryobench_register_models", Old)])


def test_a_parameter_may_not_hide_a_method():
    from cryobench.contract.params import Param

    class Shadow(Loss):
        name = "shadow"
        summary = "a parameter named like a method"
        params = (Param("build", str, "x", "hides build()"),)

        def build(self, class_counts):
            return None

    with pytest.raises(PluginError, match="parameter 'build' that hides the method"):
        Registry(plugins=[plugin_with("cryobench_register_losses", Shadow)])


def test_hooks_are_called_through_pluggy_so_wrappers_apply():
    """A wrapper plugin can hide another plugin's component: only a call through pluggy
    runs wrappers (calling each implementation by hand did not)."""

    class HideFocal:
        @hookimpl(wrapper=True)
        def cryobench_register_losses(self):
            results = yield
            return [[c for c in classes if c.name != "focal"] for classes in results]

    registry = Registry(plugins=[HideFocal()])
    assert "focal" not in registry.names("loss") and "ce" in registry.names("loss")
    assert registry.info("loss", "ce").plugin == "cryobench_losses"


def test_blocking_a_default_component_is_explained(monkeypatch, tmp_path):
    from cryobench.config import parse_benchmark
    from cryobench.errors import ConfigError

    monkeypatch.setenv(BLOCK_ENV, "cryobench_losses")
    doc = {"benchmark": {"name": "b"}, "dataset": {"source": "synthetic"},
           "arm": [{"name": "a", "model": "cnn"}]}
    with pytest.raises(ConfigError) as info:
        parse_benchmark(doc, Registry(), path=tmp_path / "b.toml")
    assert str(info.value) == (
        f"{tmp_path / 'b.toml'}: arm[0].loss: the default loss 'ce' is not registered; it "
        f"ships with cryobench, so a blocked or broken plugin is missing (check {BLOCK_ENV}, "
        "or reinstall cryobench)")
