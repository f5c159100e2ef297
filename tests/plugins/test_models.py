from __future__ import annotations

import pytest
import torch

from cryobench.registry import Registry


@pytest.mark.parametrize(("name", "params"), [
    ("cnn", {}), ("cnn", {"early_pool": False, "path": "factorised"}),
    ("multipath", {}), ("multipath", {"early_pool": False, "paths": ["conv5", "dilated3"]}),
    ("resnet3d", {}), ("inception3d", {}),
])
@pytest.mark.parametrize("box", [16, 40])
def test_every_model_maps_volumes_to_class_logits(name, params, box):
    model = Registry().create("model", name, params)
    module = model.build_module(num_classes=3, box=box).eval()
    with torch.no_grad():
        logits = module(torch.randn(2, 1, box, box, box))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


def test_multipath_has_one_path_per_class_cycling_its_kinds():
    model = Registry().create("model", "multipath", {"paths": ["conv3", "conv5"]})
    assert model.path_kinds(5) == ["conv3", "conv5", "conv3", "conv5", "conv3"]
    module = model.build_module(num_classes=5, box=16)
    assert len(module.paths) == 5 and [p.kind for p in module.paths][:2] == ["conv3", "conv5"]


def test_unknown_path_kind_is_a_user_error():
    from cryobench.errors import CryobenchError

    model = Registry().create("model", "multipath", {"paths": ["conv7"]})
    with pytest.raises(CryobenchError, match="unknown path kind 'conv7'"):
        model.path_kinds(2)
