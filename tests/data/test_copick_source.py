"""The ``copick`` source on real copick projects written in the test through copick's API
(and on the simulator's, beside its RELION 5 STAR)."""

from __future__ import annotations

from pathlib import Path

import copick
import numpy as np
import pytest
from copick.models import PickableObject

from cryobench.api import DataContext
from cryobench.errors import DataError
from cryobench.registry import Registry

SPACING = 10.0


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two runs of 32 x 40 x 48 voxels whose voxels hold their own flat index; picks of
    two users, and a membrane object that is not a particle."""
    objects = [PickableObject(name="ribosome", is_particle=True, label=1),
               PickableObject(name="TRiC", is_particle=True, label=2),
               PickableObject(name="apoferritin", is_particle=True, label=3),
               PickableObject(name="membrane", is_particle=False, label=4)]
    config = tmp_path / "copick.json"
    root = copick.new_config(str(config), str(tmp_path / "overlay"), pickable_objects=objects)
    shape = (32, 40, 48)
    for k, name in enumerate(("TS_1", "TS_2")):
        run = root.new_run(name)
        tomogram = run.new_voxel_spacing(SPACING).new_tomogram("denoised")
        tomogram.from_numpy(np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
                            + k * 1e6, levels=1)
        xyz = np.array([[10, 20, 16], [30, 5, 8], [47, 39, 31]], dtype=float) * SPACING
        run.new_picks("ribosome", "0", "curation").from_numpy(xyz[:2] + k * SPACING)
        run.new_picks("TRiC", "0", "curation").from_numpy(xyz[2:])
        run.new_picks("TRiC", "1", "alice").from_numpy(xyz[:1])
    return config


def source(**params):
    base = {"project": "copick.json", "voxel_spacing": SPACING, "tomogram_type": "denoised",
            "box": 8, "normalise": False}
    return Registry().create("data_source", "copick", {**base, **params})


def context(folder: Path) -> DataContext:
    return DataContext(base_dir=folder, cache_dir=folder / "cache")


def value_at(run: int, x: int, y: int, z: int) -> float:
    return float((z * 40 + y) * 48 + x + run * 1e6)


def test_picks_are_cut_at_their_voxels_from_the_ome_zarr_tomogram(project):
    data = source(user_id="curation").load(context(project.parent))
    assert data.class_names == ("ribosome", "TRiC")  # the project's order; unpicked left out
    assert data.counts().tolist() == [4, 2] and data.voxel_size == pytest.approx(1.0)
    centres = sorted(float(v[4, 4, 4]) for v in data.volumes)
    expected = sorted([value_at(0, 10, 20, 16), value_at(0, 30, 5, 8), value_at(0, 47, 39, 31),
                       value_at(1, 11, 21, 17), value_at(1, 31, 6, 9), value_at(1, 47, 39, 31)])
    assert centres == expected
    assert sorted(set(data.tomograms)) == ["TS_1", "TS_2"]
    assert data.metadata["edge_particles"] == 2  # the two at x 47, y 39, z 31


def test_several_pick_sets_of_one_object_must_be_chosen_between(project):
    # curation and alice both picked TRiC: merged, a particle would count twice
    assert errors(project) == (
        f"{project}: run 'TS_1' has 2 pick sets of 'TRiC' (user alice session 1, user "
        "curation session 0): merged, a particle picked twice would count twice; set user_id "
        "and/or session_id to choose one")
    src = source(user_id="curation")
    assert src.count_classes(context(project.parent)) == {"ribosome": 4, "TRiC": 2}
    assert src.count_tomograms(context(project.parent)) == {
        "TS_1": {"ribosome": 2, "TRiC": 1}, "TS_2": {"ribosome": 2, "TRiC": 1}}
    assert source(session_id="1").count_classes(context(project.parent)) == {"TRiC": 2}


def test_a_particle_picked_twice_names_both_picks(project):
    run = copick.from_file(str(project)).get_run("TS_1")
    run.new_picks("ribosome", "0", "carol").from_numpy(
        np.array([[10.0, 20.0, 16.0], [10.2, 20.0, 16.0]]) * SPACING)  # one voxel, twice
    assert errors(project, user_id="carol") == (
        f"{project} (run TS_1, ribosome pick 2 of user carol session 0): the same "
        "particle as run TS_1, ribosome pick 1 of user carol session 0: voxel x 10, y 20, "
        "z 16 of tomogram 'TS_1' (after rounding to the nearest voxel); list each particle "
        "once")


def test_objects_choose_and_order_the_classes(project):
    counts = source(objects=["TRiC", "ribosome"], user_id="curation").count_classes(
        context(project.parent))
    assert list(counts) == ["TRiC", "ribosome"]


def errors(config: Path, **params) -> str:
    with pytest.raises(DataError) as caught:
        source(**params).count_classes(context(config.parent))
    return str(caught.value)


def test_an_object_the_project_lacks_is_named_with_the_valid_ones(project):
    message = errors(project, objects=["ribosme", "TRiC"], user_id="curation")
    assert message == (f"{project}: unknown pickable object 'ribosme'; did you mean "
                       "'ribosome'? (valid: TRiC, apoferritin, membrane, ribosome)")
    assert "is not a particle" in errors(project, objects=["membrane", "TRiC"])
    assert errors(project, objects=["apoferritin", "TRiC"], user_id="curation").endswith(
        "object 'apoferritin' has no picks in any run, user_id 'curation'; list only objects that were picked "
        "(objects = [...])")
    assert "no picks of ribosome, TRiC, apoferritin in any run, user_id 'bob'" in errors(
        project, user_id="bob")


def test_missing_voxel_spacing_or_tomogram_type_names_what_there_is(project):
    assert errors(project, voxel_spacing=7.5, user_id="curation").endswith(
        "run 'TS_1' has picks but no voxel spacing 7.5 (has: 10); set voxel_spacing to one of "
        "them")
    assert errors(project, tomogram_type="wbp", user_id="curation").endswith(
        "run 'TS_1' has no 'wbp' tomogram at voxel spacing 10 (has: denoised); set "
        "tomogram_type to one of them")


def test_pick_outside_its_tomogram_names_run_object_and_pick(project):
    root = copick.from_file(str(project))
    run = root.get_run("TS_2")
    run.new_picks("ribosome", "2", "bob").from_numpy(np.array([[10.0, 10.0, 400.0]]))
    assert errors(project, user_id="bob") == (
        f"{project} (run TS_2, ribosome pick 1 of user bob session 2): particle at voxel x 1, "
        "y 1, z 40 lies outside tomogram 'TS_2' (48 x 40 x 32 voxels: x 0-47, y 0-39, z 0-31)")


def test_not_a_copick_file(tmp_path):
    (tmp_path / "copick.json").write_text("{not json")
    message = errors(tmp_path / "copick.json")
    assert message.startswith(f"{tmp_path / 'copick.json'}: not a readable copick configuration")
    assert "not found" in errors(tmp_path / "copick.json", project="nothing.json")


def test_the_simulators_project_and_star_give_the_same_particles(tomogram_set):
    ctx = context(tomogram_set)
    from_copick = Registry().create("data_source", "copick", {
        "project": "copick/copick.json", "voxel_spacing": 13.68, "box": 16}).load(ctx)
    from_star = Registry().create("data_source", "tomograms", {
        "coordinates": "particles.star", "tomograms": "tomograms", "box": 16,
        "class_names": {"1": "TRiC", "2": "ribosome"}}).load(ctx)
    assert from_copick.class_names == from_star.class_names == ("TRiC", "ribosome")

    def keyed(data):
        order = np.lexsort(data.volumes.reshape(len(data), -1)[:, :4].T)
        return data.volumes[order], data.labels[order], data.tomograms[order]

    for a, b in zip(keyed(from_copick), keyed(from_star)):
        np.testing.assert_array_equal(a, b)
