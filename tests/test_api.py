"""The public face plugins import: complete, light, and kind to plugins written for the
old import paths."""

import subprocess
import sys

import pytest

import cryobench.api as api


def test_every_public_name_resolves():
    for name in api.__all__:
        assert getattr(api, name) is not None, name


def test_importing_the_api_imports_neither_torch_nor_scikit_learn():
    """Listing plugins imports every plugin, hence the api: it must stay light."""
    code = ("import sys, cryobench.api; "
            "print(sorted({'torch', 'sklearn', 'deap'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize("old, name", [
    ("cryobench.components", "Loss"), ("cryobench.params", "Param"),
    ("cryobench.train.torch_model", "TorchModel"),
])
def test_old_import_paths_work_and_say_where_to_import_from(old, name):
    import importlib

    module = importlib.import_module(old)
    with pytest.warns(api.CryobenchDeprecationWarning, match=f"import {name} from cryobench.api"):
        value = getattr(module, name)
    assert value is getattr(api, name)


def test_the_gp_engine_moved_to_its_plugin_side_package():
    import cryobench.gp
    import cryobench_genetic_programming

    with pytest.warns(api.CryobenchDeprecationWarning, match="cryobench_genetic_programming"):
        assert cryobench.gp.evolve is cryobench_genetic_programming.evolve


def test_a_loss_with_the_old_head_declaration_still_gets_its_cosine_head():
    import torch
    from torch import nn

    from cryobench.train.heads import CosineLinear

    class OldStyle(api.Loss):
        name = "old_style"

        def build(self, class_counts):
            return nn.Identity()

        def head(self):
            return api.CosineHead(10.0)

    module = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))
    with pytest.warns(api.CryobenchDeprecationWarning, match="adapt_network") as caught:
        OldStyle().adapt_network(module, 3)
    # it names the plugin's head(), what its author has to change, not the core's line
    assert caught[0].filename == __file__
    assert caught[0].lineno == OldStyle.head.__code__.co_firstlineno
    assert isinstance(module[1], CosineLinear)
    assert module(torch.ones(2, 8)).abs().max() <= 10.0 + 1e-5


def test_networks_are_numbered_whether_an_ensemble_tags_them_or_not():
    """The documented example ensemble does not tag its members: the core counts them by
    their epochs starting again, so tuning's scheduler still judges the first only."""
    from cryobench.contract.records import numbered_networks

    seen = []
    report = numbered_networks(seen.append)
    for epoch in (1, 2, 3, 1, 2, 3):
        report(api.EpochRecord(epoch, {"train_loss": 1.0}))
    assert [r.member for r in seen] == [1, 1, 1, 2, 2, 2]

    tagged = []
    report = numbered_networks(tagged.append)
    for member in (1, 2):
        for epoch in (1, 2):
            report(api.EpochRecord(epoch).for_member(member, 2))
    assert [(r.member, r.members) for r in tagged] == [(1, 2), (1, 2), (2, 2), (2, 2)]
    assert numbered_networks(None) is None


def test_an_epoch_record_keeps_the_history_form_of_earlier_versions():
    record = api.EpochRecord(3, {"train_loss": 0.5, "val_macro_f1": 0.8, "val_loss": 0.7},
                             api.DEFERRED)
    assert list(record.as_dict().items()) == [
        ("epoch", 3), ("train_loss", 0.5), ("deferred", 1.0), ("val_macro_f1", 0.8),
        ("val_loss", 0.7)]
    assert api.EpochRecord.from_dict(record.for_member(2, 5).as_dict()) == \
        record.for_member(2, 5)


def test_an_epoch_record_reads_as_the_mapping_older_plugins_were_given():
    """Ensembles written before records were typed tagged members with
    ``{**record, "member": k}`` and read ``record["val_macro_f1"]``."""
    from cryobench.contract.records import numbered_networks

    record = api.EpochRecord(2, {"train_loss": 0.5, "val_macro_f1": 0.8})
    assert record["val_macro_f1"] == 0.8 and "epoch" in record
    tagged = {**record, "member": 2, "members": 3, "note": "text is dropped"}
    seen = []
    with pytest.warns(api.CryobenchDeprecationWarning, match="give a cryobench.api.EpochRecord"):
        numbered_networks(seen.append)(tagged)
    assert seen == [api.EpochRecord(2, {"train_loss": 0.5, "val_macro_f1": 0.8},
                                    member=2, members=3)]


def test_a_tag_moves_the_count_of_networks():
    from cryobench.contract.records import numbered_networks

    seen = []
    report = numbered_networks(seen.append)
    for record in (api.EpochRecord(1).for_member(1, 2), api.EpochRecord(2).for_member(1, 2),
                   api.EpochRecord(1), api.EpochRecord(2)):
        report(record)
    assert [r.member for r in seen] == [1, 1, 2, 2]


def test_old_paths_offer_their_public_names_only():
    import cryobench.components as old

    namespace: dict = {}
    with pytest.warns(api.CryobenchDeprecationWarning):
        exec("from cryobench.components import *", namespace)
    assert "Loss" in namespace and "Model" in namespace
    with pytest.raises(AttributeError):
        old.TYPE_CHECKING
