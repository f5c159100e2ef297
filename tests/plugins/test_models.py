from __future__ import annotations

import pytest
import torch

from cryobench.registry import Registry


@pytest.mark.parametrize(("name", "params"), [
    ("cnn", {}), ("cnn", {"layout": "full", "path": "factorised"}),
    ("cnn", {"layout": "pooled", "path": "conv5"}),
    ("multipath", {}), ("multipath", {"layout": "full", "paths": ["conv5", "dilated3"]}),
    ("multipath", {"layout": "pooled"}),
    ("resnet3d", {}), ("inception3d", {}),
])
@pytest.mark.parametrize("box", [16, 40])
def test_every_model_maps_volumes_to_class_logits(name, params, box):
    model = Registry().create("model", name, params)
    module = model.build_module(num_classes=3, box=box).eval()
    with torch.no_grad():
        logits = module(torch.randn(2, 1, box, box, box))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


@pytest.mark.parametrize("layout", ["binned", "pooled", "full"])
def test_each_path_kind_keeps_its_receptive_field_in_every_layout(layout):
    from cryobench_models.networks import SerialPath

    def convs(kind):
        return [m for m in SerialPath(kind, (4, 8, 8), layout).modules()
                if isinstance(m, torch.nn.Conv3d)]

    assert any(c.kernel_size == (5, 5, 5) for c in convs("conv5"))
    assert any(c.dilation == (2, 2, 2) for c in convs("dilated3"))
    assert any(c.kernel_size == (1, 1, 1) for c in convs("factorised"))
    assert all(c.kernel_size != (5, 5, 5) and c.dilation == (1, 1, 1) for c in convs("conv3"))
    out = SerialPath("conv3", (4, 8, 8), layout)(torch.randn(1, 1, 40, 40, 40))
    side = 10 if layout == "full" else 5
    assert out.shape == (1, 8, side, side, side)


def test_multipath_has_one_path_per_class_cycling_its_kinds():
    model = Registry().create("model", "multipath", {"paths": ["conv3", "conv5"]})
    assert model.path_kinds(5) == ["conv3", "conv5", "conv3", "conv5", "conv3"]
    module = model.build_module(num_classes=5, box=16)
    assert len(module.paths) == 5 and [p.kind for p in module.paths][:2] == ["conv3", "conv5"]


def test_unknown_path_kind_is_refused_when_the_model_is_created():
    from cryobench.errors import CryobenchError

    with pytest.raises(CryobenchError, match=r"paths\[1\]: got 'conv7', expected one of "
                                             "'conv3', 'conv5', 'dilated3', 'factorised'"):
        Registry().create("model", "multipath", {"paths": ["conv3", "conv7"]})
