"""The ``tomograms`` source on tomograms written by mrcfile directly, listed in each of
the three formats labs use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryobench.api import DataContext
from cryobench.errors import CryobenchError, DataError
from cryobench.registry import Registry
from tests.data.conftest import write_mrc

SHAPE = (32, 48, 64)  # z, y, x
PIXEL = 10.0  # Angstrom
#: (tomogram, x, y, z in voxels, class number)
PARTICLES = [("TS_01", 20, 24, 16, 1), ("TS_01", 40, 10, 8, 2), ("TS_01", 62, 47, 31, 1),
             ("TS_02", 32, 24, 16, 2), ("TS_02", 2, 40, 20, 1), ("TS_02", 50, 30, 12, 2)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two tomograms whose voxels hold their own flat index (plus the tomogram's offset):
    a cut particle says exactly where it was cut."""
    (tmp_path / "tomos").mkdir()
    for k, name in enumerate(("TS_01", "TS_02")):
        data = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE) + k * 1e6
        write_mrc(tmp_path / "tomos" / f"{name}.mrc", data, PIXEL)
    return tmp_path


def write_relion5(path: Path, rows=PARTICLES, shape=SHAPE, pixel=PIXEL) -> Path:
    lines = ["data_optics", "loop_", "_rlnOpticsGroup", "1", "", "data_particles", "loop_",
             "_rlnTomoName", "_rlnCenteredCoordinateXAngst", "_rlnCenteredCoordinateYAngst",
             "_rlnCenteredCoordinateZAngst", "_rlnClassNumber"]
    for name, x, y, z, c in rows:
        lines.append(f"{name} {(x - shape[2] / 2) * pixel} {(y - shape[1] / 2) * pixel} "
                     f"{(z - shape[0] / 2) * pixel} {c}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_relion4(path: Path, rows=PARTICLES) -> Path:
    lines = ["data_particles", "loop_", "_rlnMicrographName", "_rlnCoordinateX",
             "_rlnCoordinateY", "_rlnCoordinateZ", "_rlnClassNumber"]
    lines += [f"{name}.mrc {x} {y} {z} {c}" for name, x, y, z, c in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_csv(path: Path, rows=PARTICLES) -> Path:
    names = {1: "ribosome", 2: "TRiC"}
    lines = ["tomogram,x,y,z,label"] + [f"{n},{x},{y},{z},{names[c]}" for n, x, y, z, c in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def source(coordinates: str, **extra):
    params = {"coordinates": coordinates, "tomograms": "tomos", "box": 8,
              "normalise": False, **extra}
    return Registry().create("data_source", "tomograms", params)


def context(folder: Path) -> DataContext:
    return DataContext(base_dir=folder, cache_dir=folder / "cache")


def expected_centre_value(name: str, x: int, y: int, z: int) -> float:
    return float((z * SHAPE[1] + y) * SHAPE[2] + x + (name == "TS_02") * 1e6)


@pytest.mark.parametrize("writer,names", [
    (write_relion5, {"1": "ribosome", "2": "TRiC"}),
    (write_relion4, {"1": "ribosome", "2": "TRiC"}),
    (write_csv, None),
])
def test_each_list_format_cuts_at_the_listed_voxel(folder, writer, names):
    listed = writer(folder / ("picks.csv" if writer is write_csv else "picks.star"))
    data = source(listed.name, class_names=names).load(context(folder))
    assert len(data) == 6 and data.box == 8 and data.voxel_size == pytest.approx(1.0)
    assert sorted(data.class_names) == ["TRiC", "ribosome"]
    for i, (name, x, y, z, c) in enumerate(PARTICLES):
        assert data.volumes[i, 4, 4, 4] == expected_centre_value(name, x, y, z)
        assert data.class_names[data.labels[i]] == {1: "ribosome", 2: "TRiC"}[c]
    # tomograms keep the names the list gives (RELION 3/4: the file name)
    assert [Path(t).stem for t in data.tomograms] == [p[0] for p in PARTICLES]
    # x 62, y 47, z 31 and x 2 reach outside: padded, and counted
    assert data.metadata["edge_particles"] == 2
    by_tomogram = {Path(t).stem: c for t, c in data.metadata["tomograms"].items()}
    assert by_tomogram == {"TS_01": {"ribosome": 2, "TRiC": 1}, "TS_02": {"TRiC": 2, "ribosome": 1}}


def test_counts_come_from_the_list_and_headers_alone(folder):
    write_relion5(folder / "picks.star")
    src = source("picks.star", class_names={"1": "ribosome", "2": "TRiC"})
    assert src.count_classes(context(folder)) == {"ribosome": 3, "TRiC": 3}
    assert src.count_tomograms(context(folder)) == {"TS_01": {"ribosome": 2, "TRiC": 1},
                                                    "TS_02": {"TRiC": 2, "ribosome": 1}}
    assert not (folder / "cache").exists()  # nothing was cut


def test_cut_once_then_read_from_the_cache(folder):
    write_csv(folder / "picks.csv")
    first = source("picks.csv").load(context(folder))
    entries = list((folder / "cache").iterdir())
    assert len(entries) == 1 and entries[0].name.startswith("cut-")
    stamp = (entries[0] / "volumes.npy").stat().st_mtime_ns
    second = source("picks.csv").load(context(folder))
    assert (entries[0] / "volumes.npy").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first.volumes, second.volumes)
    assert second.tomograms.tolist() == first.tomograms.tolist()
    source("picks.csv", box=6).load(context(folder))  # another box: another entry
    assert len(list((folder / "cache").iterdir())) == 2
    write_mrc(folder / "tomos" / "TS_02.mrc", np.zeros(SHAPE), PIXEL)  # rewritten
    third = source("picks.csv").load(context(folder))
    assert len(list((folder / "cache").iterdir())) == 3
    assert third.volumes[3].max() == 0


def test_normalised_by_default(folder):
    write_csv(folder / "picks.csv")
    data = Registry().create("data_source", "tomograms", {
        "coordinates": "picks.csv", "tomograms": "tomos", "box": 8}).load(context(folder))
    assert np.allclose(data.volumes.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    assert np.allclose(data.volumes.std(axis=(1, 2, 3)), 1, atol=1e-4)


TOMOGRAMS_STAR = ("data_global\nloop_\n_rlnTomoName\n_rlnTomoTiltSeriesPixelSize\n"
                  "_rlnTomoTomogramBinning\n_rlnTomoSizeX\n_rlnTomoSizeY\n_rlnTomoSizeZ\n"
                  "{extra}TS_01 5.0 {binning} 64 48 32{file1}\nTS_02 5.0 {binning} 64 48 32{file2}\n")


def test_pixel_size_from_a_tomograms_star_when_the_headers_have_none(folder):
    for k, name in enumerate(("TS_01", "TS_02")):  # headers without a pixel size
        data = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE) + k * 1e6
        write_mrc(folder / "tomos" / f"{name}.mrc", data, 0.0)
    write_relion5(folder / "picks.star", pixel=20.0)
    (folder / "tomograms.star").write_text(TOMOGRAMS_STAR.format(
        extra="", binning=4, file1="", file2=""))
    data = source("picks.star", tomograms_star="tomograms.star").load(context(folder))
    assert data.voxel_size == pytest.approx(2.0)
    name, x, y, z, _ = PARTICLES[0]
    assert data.volumes[0, 4, 4, 4] == expected_centre_value(name, x, y, z)


def test_a_tomograms_star_that_disagrees_with_the_header_names_both(folder):
    write_relion5(folder / "picks.star")
    (folder / "tomograms.star").write_text(TOMOGRAMS_STAR.format(
        extra="", binning=2, file1="", file2=""))  # 10 A in the headers, 5 x 2 = 10: agrees
    assert source("picks.star", tomograms_star="tomograms.star").count_classes(
        context(folder)) == {"1": 3, "2": 3}
    (folder / "tomograms.star").write_text(TOMOGRAMS_STAR.format(
        extra="", binning=4, file1="", file2=""))  # 20 A: the binning disagrees
    star = folder / "tomograms.star"
    assert errors(folder, "picks.star", tomograms_star="tomograms.star") == (
        f"{star} (line 9): tomogram 'TS_01' has pixel size 20 A here (5.0 x binning 4), but "
        f"{folder / 'tomos' / 'TS_01.mrc'}'s MRC header says 10 A: another binning? make "
        "them agree (or leave out tomograms_star to use the header)")
    (folder / "tomograms.star").write_text(TOMOGRAMS_STAR.format(
        extra="", binning=2, file1="", file2="").replace("64 48 32", "32 24 16"))
    assert errors(folder, "picks.star", tomograms_star="tomograms.star") == (
        f"{star} (line 9): tomogram 'TS_01' is 32 x 24 x 16 voxels here (_rlnTomoSize), but "
        f"{folder / 'tomos' / 'TS_01.mrc'}'s MRC header says 64 x 48 x 32: another binning? "
        "list the tomograms that were picked")


def test_the_tomograms_file_comes_from_the_tomograms_star(folder):
    """_rlnTomoReconstructedTomogram, beside the STAR or under the project's folder,
    before the tomograms folder is searched by name."""
    (folder / "Tomograms" / "job007").mkdir(parents=True)
    (folder / "tomos" / "TS_01.mrc").rename(folder / "Tomograms" / "job007" / "rec_TS_01.mrc")
    (folder / "star").mkdir()
    (folder / "star" / "rec_TS_02.mrc").write_bytes((folder / "tomos" / "TS_02.mrc").read_bytes())
    (folder / "tomos" / "TS_02.mrc").unlink()
    write_relion5(folder / "picks.star")
    text = TOMOGRAMS_STAR.format(extra="_rlnTomoReconstructedTomogram\n", binning=2,
                                 file1=" Tomograms/job007/rec_TS_01.mrc",
                                 file2=" rec_TS_02.mrc")
    (folder / "star" / "tomograms.star").write_text(text)
    data = source("picks.star", tomograms_star="star/tomograms.star",
                  class_names={"1": "ribosome", "2": "TRiC"}).load(context(folder))
    for i, (name, x, y, z, _) in enumerate(PARTICLES):
        assert data.volumes[i, 4, 4, 4] == expected_centre_value(name, x, y, z)
    (folder / "star" / "tomograms.star").write_text(text.replace("job007", "job008"))
    message = errors(folder, "picks.star", tomograms_star="star/tomograms.star")
    assert message.endswith(
        "; tomograms.star line 10 names Tomograms/job008/rec_TS_01.mrc: tried "
        f"{folder / 'star' / 'Tomograms/job008/rec_TS_01.mrc'}, "
        f"{folder / 'Tomograms/job008/rec_TS_01.mrc'}")
    assert "tomogram 'TS_01' not found in" in message


def errors(folder: Path, name: str, **extra) -> str:
    with pytest.raises(DataError) as caught:
        source(name, **extra).count_classes(context(folder))
    return str(caught.value)


def test_particle_outside_its_tomogram_names_the_row(folder):
    write_csv(folder / "picks.csv", [*PARTICLES, ("TS_02", 64, 3, 3, 1)])
    message = errors(folder, "picks.csv")
    assert message == (f"{folder / 'picks.csv'} (line 8): particle at voxel x 64, y 3, z 3 "
                       "lies outside tomogram 'TS_02' (64 x 48 x 32 voxels: x 0-63, y 0-47, "
                       "z 0-31)")


def test_missing_tomogram_names_the_row_and_what_is_there(folder):
    write_relion4(folder / "picks.star", [*PARTICLES[:2], ("TS_07", 1, 1, 1, 1)])
    message = errors(folder, "picks.star")
    assert message.startswith(f"{folder / 'picks.star'} (line 10): tomogram 'TS_07.mrc' not "
                              "found in")
    assert "the folder has TS_01.mrc, TS_02.mrc" in message


@pytest.mark.parametrize("writer", [write_relion5, write_relion4, write_csv])
def test_a_particle_listed_twice_names_both_rows(folder, writer):
    listed = writer(folder / ("picks.csv" if writer is write_csv else "picks.star"),
                    [*PARTICLES, PARTICLES[1]])
    first = {write_relion5: 14, write_relion4: 9, write_csv: 3}[writer]  # PARTICLES[1]
    message = errors(folder, listed.name, class_names={"1": "ribosome", "2": "TRiC"}
                     if writer is not write_csv else None)
    assert message.startswith(f"{listed} (line {first + 5}): the same particle as line "
                              f"{first}: voxel x 40, y 10, z 8 of tomogram ")
    assert message.endswith("(after rounding to the nearest voxel); list each particle once")


def test_mixed_pixel_sizes_are_refused(folder):
    write_mrc(folder / "tomos" / "TS_02.mrc", np.zeros(SHAPE), 12.0)
    write_csv(folder / "picks.csv")
    message = errors(folder, "picks.csv")
    assert message == (f"{folder / 'picks.csv'} (line 5): tomogram 'TS_02' has pixel size 12 A, "
                       "'TS_01' has 10 A: one list needs one pixel size (rescale the "
                       "tomograms, or list them separately)")


def test_missing_class_column_names_the_column(folder):
    (folder / "picks.star").write_text("data_particles\nloop_\n_rlnTomoName\n"
                                       "_rlnCoordinateX\n_rlnCoordinateY\n_rlnCoordinateZ\n"
                                       "TS_01 1 2 3\n")
    message = errors(folder, "picks.star")
    assert "missing class column: no _rlnClassNumber in data_particles" in message
    assert "label_column" in message
    (folder / "picks.csv").write_text("tomogram,x,y,z,class\nTS_01,1,2,3,a\n")
    assert "missing class column: no label in the header" in errors(folder, "picks.csv")
    data = source("picks.csv", label_column="class").count_classes(context(folder))
    assert data == {"a": 1}


def test_bad_numbers_and_formats(folder):
    (folder / "picks.csv").write_text("tomogram,x,y,z,label\nTS_01,1,nan,3,a\n")
    assert errors(folder, "picks.csv").endswith("(line 2): y = 'nan' is not a finite number")
    (folder / "picks.txt").write_text("x")
    assert "expected a coordinate list" in errors(folder, "picks.txt")
    (folder / "picks.star").write_text("data_particles\nloop_\n_rlnImageName\n"
                                       "_rlnClassNumber\na.mrc 1\n")
    assert "no loop with RELION 5" in errors(folder, "picks.star")


def test_unknown_class_text_names_the_mapping(folder):
    write_relion5(folder / "picks.star")
    message = errors(folder, "picks.star", class_names={"1": "ribosome"})
    assert message.endswith("unknown class '2'; class_names maps '1'")


@pytest.mark.filterwarnings("ignore:Data array contains NaN")  # mrcfile, writing the test's file
def test_nan_voxels_are_named_when_cut(folder):
    data = np.zeros(SHAPE, dtype=np.float32)
    data[16, 24, 32] = np.nan
    write_mrc(folder / "tomos" / "TS_02.mrc", data, PIXEL)
    write_csv(folder / "picks.csv")
    with pytest.raises(CryobenchError, match=r"TS_02.mrc: NaN or Inf voxels in the box of "
                                             r"particle TS_02 picks.csv line 5"):
        source("picks.csv").load(context(folder))


def with_origins(path: Path, columns: tuple[str, ...], origins) -> Path:
    """The list with origin columns added after the class column, one triple a row."""
    lines = path.read_text().splitlines()
    header = max(i for i, line in enumerate(lines) if line.startswith("_rln"))
    rows = lines[header + 1:]
    out = lines[:header + 1] + list(columns) + [
        f"{row} {ox} {oy} {oz}" for row, (ox, oy, oz) in zip(rows, origins)]
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.parametrize("writer,columns,scale", [
    (write_relion5, ("_rlnOriginXAngst", "_rlnOriginYAngst", "_rlnOriginZAngst"), PIXEL),
    (write_relion4, ("_rlnOriginX", "_rlnOriginY", "_rlnOriginZ"), 1.0),
    (write_relion4, ("_rlnOriginXAngst", "_rlnOriginYAngst", "_rlnOriginZAngst"), PIXEL),
])
def test_relion_origins_are_subtracted(folder, writer, columns, scale):
    """RELION: the particle's centre is the coordinate minus its origin shift."""
    shifts = [(2, -1, 3)] * len(PARTICLES)  # voxels
    shifted = [(n, x + ox, y + oy, z + oz, c)
               for (n, x, y, z, c), (ox, oy, oz) in zip(PARTICLES, shifts)]
    listed = writer(folder / "picks.star", shifted[:2])
    with_origins(listed, columns, [tuple(v * scale for v in o) for o in shifts[:2]])
    data = source("picks.star", class_names={"1": "ribosome", "2": "TRiC"}).load(
        context(folder))
    for i, (name, x, y, z, _) in enumerate(PARTICLES[:2]):
        assert data.volumes[i, 4, 4, 4] == expected_centre_value(name, x, y, z)


def test_an_origin_needs_all_three_columns(folder):
    listed = write_relion5(folder / "picks.star")
    with_origins(listed, ("_rlnOriginXAngst", "_rlnOriginYAngst", "_rlnTomoParticleId"),
                 [(0, 0, 0)] * len(PARTICLES))
    assert errors(folder, "picks.star", class_names={"1": "a", "2": "b"}).endswith(
        "missing columns: data_particles has _rlnOriginXAngst, _rlnOriginYAngst but not "
        "_rlnOriginZAngst; a particle's origin needs all three")


@pytest.mark.parametrize("writer", [write_relion4, write_csv])
def test_coordinates_in_another_pixel_size(folder, writer):
    """RELION 4 coordinates in unbinned tilt-series pixels: 2.5 A pixels, tomograms of
    10 A: a coordinate of 4 x the voxel."""
    unbinned = [(n, 4 * x, 4 * y, 4 * z, c) for n, x, y, z, c in PARTICLES]
    listed = writer(folder / ("picks.csv" if writer is write_csv else "picks.star"), unbinned)
    names = None if writer is write_csv else {"1": "ribosome", "2": "TRiC"}
    data = source(listed.name, class_names=names, coordinate_pixel_size=2.5).load(
        context(folder))
    for i, (name, x, y, z, _) in enumerate(PARTICLES):
        assert data.volumes[i, 4, 4, 4] == expected_centre_value(name, x, y, z)
    write_relion5(folder / "picks.star")
    assert errors(folder, "picks.star", coordinate_pixel_size=2.5).endswith(
        "coordinate_pixel_size is for lists in pixels (RELION 3/4, CSV); a RELION 5 list "
        "gives Angstrom: leave it out")


def test_a_list_without_coordinate_pixel_size_keeps_its_identity(folder):
    """The new parameter is null by default: what the source cuts is unchanged."""
    write_csv(folder / "picks.csv")
    plain = source("picks.csv").plan(context(folder))[0]
    same = source("picks.csv", coordinate_pixel_size=PIXEL).plan(context(folder))[0]
    assert plain.key(False) == same.key(False)


def test_a_truncated_tomogram_is_found_from_its_header(folder):
    path = folder / "tomos" / "TS_02.mrc"
    whole = path.read_bytes()
    path.write_bytes(whole[:-4096])
    write_csv(folder / "picks.csv")
    assert errors(folder, "picks.csv") == (
        f"{path}: truncated: {len(whole) - 4096} bytes, but its header (64 x 48 x 32 voxels, "
        f"mode 2) needs {len(whole)}; copy or write the file again")


def test_a_box_larger_than_a_tomogram_is_refused_before_cutting(folder):
    write_csv(folder / "picks.csv")
    assert errors(folder, "picks.csv", box=34) == (
        f"{folder / 'tomos' / 'TS_01.mrc'}: box 34 is larger than tomogram 'TS_01' (64 x 48 "
        "x 32 voxels); choose box <= 32")


def test_a_cut_that_needs_more_memory_than_there_is_is_refused_while_planning(
        folder, monkeypatch):
    from cryobench.data import memory

    monkeypatch.setattr(memory, "available_bytes", lambda *a: 1000)
    write_csv(folder / "picks.csv")
    with pytest.raises(CryobenchError, match=r"^cutting 6 particles of 8\^3 voxels needs "
                                             r"about .* GiB of memory and"):
        source("picks.csv").count_classes(context(folder))


def test_malformed_lists_are_one_line_each(folder):
    (folder / "picks.csv").write_text("tomogram,x,y,z,label\nTS_01,1,2,3,a\nTS_01,4,5,6,a,9\n")
    assert errors(folder, "picks.csv").endswith(
        "(line 3): 6 values for 5 columns (tomogram,x,y,z,label)")
    (folder / "picks.csv").write_text("tomogram,x,y,z,label\nTS_01,1,2,3\n")
    assert errors(folder, "picks.csv").endswith("(line 2): 4 values for 5 columns "
                                                "(tomogram,x,y,z,label)")
    (folder / "picks.csv").write_text("tomogram,x,y,x,z,label\nTS_01,1,2,3,4,a\n")
    assert errors(folder, "picks.csv").endswith("(line 1): column x given twice in the header")
    star = ("data_particles\nloop_\n_rlnTomoName\n_rlnCoordinateX\n_rlnCoordinateY\n"
            "_rlnCoordinateZ\n_rlnClassNumber\n")
    (folder / "picks.star").write_text(star.replace("_rlnCoordinateY\n",
                                                    "_rlnCoordinateY\n_rlnCoordinateY\n")
                                       + "TS_01 1 2 2 3 1\n")
    assert errors(folder, "picks.star").endswith(
        "column _rlnCoordinateY given twice in data_particles")
    (folder / "picks.star").write_text(star.replace("_rlnCoordinateZ\n", "") + "TS_01 1 2 1\n")
    assert errors(folder, "picks.star").endswith(
        "missing columns: data_particles has _rlnCoordinateX, _rlnCoordinateY but not "
        "_rlnCoordinateZ")
    (folder / "picks.star").write_text(
        "data_particles\n_rlnTomoName TS_01\n_rlnCoordinateX 1\n_rlnCoordinateY 2\n"
        "_rlnCoordinateZ 3\n_rlnClassNumber 1\n")
    assert errors(folder, "picks.star").endswith(
        "(line 3): _rlnCoordinateX is given as a key and value, not as a column of a loop: a "
        "particle list needs a loop_ (loop_, the column names, then one row per particle)")


def test_one_file_under_two_names_is_one_tomogram(folder):
    """TS_01 and TS_01.mrc: one tomogram, one group of the split, one count."""
    rows = [(n + (".mrc" if i % 2 else ""), x, y, z, c)
            for i, (n, x, y, z, c) in enumerate(PARTICLES)]
    write_csv(folder / "picks.csv", rows)
    src = source("picks.csv")
    assert src.count_tomograms(context(folder)) == {"TS_01": {"ribosome": 2, "TRiC": 1},
                                                    "TS_02.mrc": {"TRiC": 2, "ribosome": 1}}
    data = src.load(context(folder))
    assert sorted(set(data.tomograms)) == ["TS_01", "TS_02.mrc"]
    for i, (name, x, y, z, _) in enumerate(PARTICLES):
        assert data.volumes[i, 4, 4, 4] == expected_centre_value(name, x, y, z)


def test_the_cut_cache_keeps_rows_that_match_the_list(folder):
    """Same particles, other rows (a blank line added): the cut set's rows are the new
    list's, not the cached ones."""
    write_csv(folder / "picks.csv")
    first = source("picks.csv").load(context(folder))
    assert first.source_ids[0] == "TS_01 picks.csv line 2"
    text = (folder / "picks.csv").read_text().replace("\n", "\n\n", 1)
    (folder / "picks.csv").write_text(text)
    assert source("picks.csv").load(context(folder)).source_ids[0] == "TS_01 picks.csv line 3"
