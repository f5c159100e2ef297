from __future__ import annotations

from pathlib import Path

import numpy as np

from cryobench.contract.components import DataContext
from cryobench.data.loading import load_dataset
from cryobench.registry import Registry

PARAMS = {"class_counts": {"TRiC": 4, "ribosome": 3}, "box": 16, "snr": 0.2}


def source(**extra):
    return Registry().create("data_source", "synthetic", {**PARAMS, **extra})


def test_made_on_first_use_then_read_from_cache(tmp_path: Path):
    context = DataContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    first = source().load(context)
    entries = list((tmp_path / "cache").iterdir())
    assert len(entries) == 1 and entries[0].name.startswith("synthetic-")
    stamp = (entries[0] / "labels.csv").stat().st_mtime_ns
    second = source().load(context)
    assert (entries[0] / "labels.csv").stat().st_mtime_ns == stamp  # not rebuilt
    np.testing.assert_array_equal(first.volumes, second.volumes)
    assert first.class_names == ("TRiC", "ribosome") and first.counts().tolist() == [4, 3]
    # the same road as real data: the cached folder is an ordinary labelled MRC folder
    direct = load_dataset(entries[0], class_names={"TRiC": "TRiC", "ribosome": "ribosome"})
    np.testing.assert_array_equal(direct.volumes, first.volumes)
    source(snr=0.3).load(context)
    assert len(list((tmp_path / "cache").iterdir())) == 2  # other parameters, other entry


def test_partial_or_corrupt_entry_is_rebuilt(tmp_path: Path):
    context = DataContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    good = source().load(context)
    entry = next((tmp_path / "cache").iterdir())
    victim = next((entry / "particles").glob("*.mrc"))
    victim.unlink()  # partial: a file is missing
    np.testing.assert_array_equal(source().load(context).volumes, good.volumes)
    victim = next((entry / "particles").glob("*.mrc"))
    victim.write_bytes(victim.read_bytes()[:300])  # corrupt: a truncated file
    np.testing.assert_array_equal(source().load(context).volumes, good.volumes)


def test_scale_and_preset_counts():
    spec = Registry().create("data_source", "synthetic", {"scale": 0.1}).spec()
    assert spec.class_counts == {"proteasome_d": 104, "ribosome": 8, "TRiC": 13,
                                 "proteasome_s": 39}
    assert (spec.box, spec.voxel_size, spec.tilt_min, spec.tilt_max) == (40, 1.368, -50, 70)


def test_leftovers_of_killed_builders_are_removed(tmp_path: Path):
    context = DataContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    source().load(context)
    key_dir = next((tmp_path / "cache").iterdir())
    import shutil

    shutil.rmtree(key_dir)
    dead = tmp_path / "cache" / f".{key_dir.name}.partial-999999999"
    dead.mkdir()
    (dead / "labels.csv").write_text("path,label\n")
    source().load(context)
    assert not dead.exists() and key_dir.exists()
