from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from cryobench.data import loading, memory
from cryobench.data.loading import load_dataset
from cryobench.errors import CryobenchError, DataError

from .conftest import write_mrc


def test_csv_folder_reads_every_particle(csv_folder):
    data = load_dataset(csv_folder)
    assert data.class_names == ("TRiC", "ribosome")
    assert data.counts().tolist() == [3, 3]
    assert data.volumes.shape == (6, 8, 8, 8) and data.volumes.dtype == np.float32
    assert data.voxel_size == pytest.approx(1.368)
    assert data.source_ids[1] == "p1.mrc"
    assert data.volumes[5].mean() == pytest.approx(5, abs=0.3)


def test_class_name_mapping_orders_classes(csv_folder):
    data = load_dataset(csv_folder / "labels.csv",
                        class_names={"ribosome": "ribosome", "TRiC": "TRiC"})
    assert data.class_names == ("ribosome", "TRiC") and data.labels[0] == 0


STAR_31 = """
# version 30001

data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnImagePixelSize #3
1 opticsGroup1 13.680000

# version 30001

data_particles

loop_
_rlnImageName #1
_rlnOpticsGroup #2
_rlnClassNumber #3
sub/p0.mrc 1 2
sub/p1.mrc 1 1
sub/p2.mrc 1 2
sub/p3.mrc 1 1
"""


def test_relion_31_star_with_optics_block(csv_folder):
    star = csv_folder / "particles.star"
    star.write_text(STAR_31)
    data = load_dataset(star, class_names={"1": "TRiC", "2": "ribosome"})
    assert data.class_names == ("TRiC", "ribosome")
    assert data.labels.tolist() == [1, 0, 1, 0]
    numeric = load_dataset(star)
    assert numeric.class_names == ("1", "2")


def test_relion_30_star_with_stack_references(tmp_path):
    rng = np.random.default_rng(2)
    write_mrc(tmp_path / "stack.mrcs", rng.normal(size=(4, 6, 6, 6)))
    (tmp_path / "old.star").write_text(
        "data_\n\nloop_\n_rlnImageName #1\n_rlnClassNumber #2\n"
        "000001@stack.mrcs 1\n000002@stack.mrcs 2\n000004@stack.mrcs 1\n")
    data = load_dataset(tmp_path / "old.star")
    assert len(data) == 3 and data.source_ids.tolist() == ["stack.mrcs@0", "stack.mrcs@1",
                                                           "stack.mrcs@3"]


def test_stack_with_index_csv(tmp_path):
    rng = np.random.default_rng(3)
    stack = rng.normal(size=(5, 6, 6, 6)).astype(np.float32)
    write_mrc(tmp_path / "particles.mrcs", stack)
    (tmp_path / "particles.csv").write_text("index,label\n0,a\n1,b\n2,a\n3,b\n4,a\n")
    data = load_dataset(tmp_path / "particles.mrcs")
    assert data.counts().tolist() == [3, 2]
    np.testing.assert_allclose(data.volumes[3], stack[3])


def error_of(path, error=DataError, **kw) -> str:
    with pytest.raises(error) as info:
        load_dataset(path, **kw)
    assert type(info.value) is error
    message = str(info.value)
    assert "\n" not in message
    return message


def test_truncated_mrc_names_file_and_record(csv_folder):
    target = csv_folder / "sub" / "p2.mrc"
    target.write_bytes(target.read_bytes()[:1500])
    message = error_of(csv_folder)
    assert "p2.mrc (line 4): unreadable MRC" in message


def test_garbage_mrc(csv_folder):
    (csv_folder / "sub" / "p0.mrc").write_bytes(b"not an mrc" * 200)
    assert "p0.mrc (line 2): unreadable MRC" in error_of(csv_folder)


def test_non_cubic_volume(csv_folder):
    write_mrc(csv_folder / "sub" / "p1.mrc", np.zeros((8, 8, 6)))
    assert "p1.mrc (line 3): volume is not cubic: shape (8, 8, 6)" in error_of(csv_folder)


def test_mismatched_box_sizes(csv_folder):
    write_mrc(csv_folder / "sub" / "p3.mrc", np.zeros((10, 10, 10)))
    assert "p3.mrc (line 5): box 10 differs from box 8 of p0.mrc" in error_of(csv_folder)


def test_mismatched_voxel_sizes(csv_folder):
    write_mrc(csv_folder / "sub" / "p3.mrc", np.zeros((8, 8, 8)), voxel_angstrom=10.0)
    assert "p3.mrc (line 5): voxel size 1.0000 nm differs from 1.3680 nm" in error_of(csv_folder)


def test_nan_voxels(csv_folder):
    data = np.zeros((8, 8, 8))
    data[1, 2, 3] = np.nan
    data[0, 0, 0] = np.inf
    write_mrc(csv_folder / "sub" / "p4.mrc", data)
    assert "p4.mrc (line 6): 2 voxels are NaN or Inf" in error_of(csv_folder)


def test_label_for_missing_file(csv_folder):
    (csv_folder / "sub" / "p5.mrc").unlink()
    assert "p5.mrc (line 7): file not found" in error_of(csv_folder)


def test_duplicate_entry(csv_folder):
    with open(csv_folder / "labels.csv", "a") as f:
        f.write("sub/p0.mrc,TRiC\n")
    assert "labels.csv (line 8): duplicate entry for p0.mrc (also line 2)" in error_of(csv_folder)


def test_empty_and_unknown_class(csv_folder):
    text = (csv_folder / "labels.csv").read_text().replace("sub/p3.mrc,TRiC", "sub/p3.mrc,")
    (csv_folder / "labels.csv").write_text(text)
    assert "(line 5): empty class label" in error_of(csv_folder)
    text = text.replace("sub/p3.mrc,", "sub/p3.mrc,TRiC")
    (csv_folder / "labels.csv").write_text(text)
    message = error_of(csv_folder, class_names={"ribosome": "ribosome"})
    assert "(line 3): unknown class 'TRiC'" in message


def test_missing_columns(csv_folder, tmp_path):
    (csv_folder / "labels.csv").write_text("file,class\nsub/p0.mrc,a\n")
    assert "labels.csv (line 1): missing columns: need 'path,label'" in error_of(csv_folder)
    star = csv_folder / "x.star"
    star.write_text("data_\nloop_\n_rlnImageName #1\nsub/p0.mrc\n")
    assert "missing columns: no _rlnClassNumber" in error_of(star)


def test_folder_without_labels(tmp_path):
    assert "no labels.csv, .star, .csv or .mrcs file" in error_of(tmp_path)


def test_written_files_carry_voxel_size_and_labels(tmp_path):
    import mrcfile

    from cryobench.data.mrc import write_mrc

    stack = np.arange(2 * 4**3, dtype=np.float32).reshape(2, 4, 4, 4)
    write_mrc(tmp_path / "s.mrcs", stack, 1.368, labels=("hello",))
    write_mrc(tmp_path / "v.mrc", stack[1], 1.368)
    with mrcfile.open(tmp_path / "s.mrcs") as mrc:
        assert mrc.voxel_size.x == pytest.approx(13.68)
        assert mrc.header.label[1].decode().strip() == "hello"
        np.testing.assert_array_equal(mrc.data, stack)
    (tmp_path / "s.csv").write_text("index,label\n0,a\n1,b\n")
    data = load_dataset(tmp_path / "s.mrcs")
    np.testing.assert_array_equal(data.volumes, stack)


def test_label_errors_name_the_label_file_not_a_particle(csv_folder):
    labels = csv_folder / "labels.csv"
    message = error_of(csv_folder, class_names={"ribosome": "ribosome"})
    assert message.startswith(f"{labels} (line 3): unknown class 'TRiC'")
    labels.write_text(labels.read_text().replace("sub/p3.mrc,TRiC", "sub/p3.mrc,"))
    assert error_of(csv_folder) == f"{labels} (line 5): empty class label"


def test_stack_label_errors_name_the_csv(tmp_path):
    write_mrc(tmp_path / "particles.mrcs", np.zeros((3, 6, 6, 6)))
    csv = tmp_path / "particles.csv"
    csv.write_text("index,label\n0,a\n1,b\n0,b\n")
    assert error_of(tmp_path / "particles.mrcs") == (
        f"{csv} (line 4): duplicate entry for particles.mrcs@0 (also line 2)")
    csv.write_text("index,label\n0,a\n1,\n")
    assert error_of(tmp_path / "particles.mrcs") == f"{csv} (line 3): empty class label"


def test_star_label_errors_name_the_star_file(csv_folder):
    star = csv_folder / "particles.star"
    star.write_text(STAR_31.replace("sub/p1.mrc 1 1", "sub/p1.mrc 1 7"))
    message = error_of(star, class_names={"1": "TRiC", "2": "ribosome"})
    assert message.startswith(f"{star} (line 21): unknown class '7'")


def test_utf8_bom_csv_is_read(csv_folder):
    labels = csv_folder / "labels.csv"
    labels.write_bytes(b"\xef\xbb\xbf" + labels.read_bytes())
    assert load_dataset(csv_folder).counts().tolist() == [3, 3]


def test_non_utf8_label_file(csv_folder):
    labels = csv_folder / "labels.csv"
    labels.write_bytes(labels.read_bytes().replace(b"TRiC", b"TR\xefC"))
    assert error_of(csv_folder) == (f"{labels} (line 3): not UTF-8 text (byte 0xef in column "
                                    "14); save the file as UTF-8 (in Excel: 'CSV UTF-8')")


def test_folders_where_files_are_expected(csv_folder):
    (csv_folder / "lab").mkdir()
    write_mrc(csv_folder / "s.mrcs", np.zeros((2, 6, 6, 6)))
    assert error_of(csv_folder / "s.mrcs", labels=csv_folder / "lab") == (
        f"{csv_folder / 'lab'}: is a folder, not a label file; give the path of the file itself")
    star_folder = csv_folder / "x.star"
    star_folder.mkdir()
    assert error_of(star_folder) == (f"{star_folder}: is a folder, not a .star file, and holds "
                                     "no label file; give the path of the file itself")
    (csv_folder / "labels.csv").unlink()  # the folder's only *.star entry is a folder
    assert error_of(csv_folder) == (
        f"{star_folder}: is a folder, not a label file; give the path of the file itself")


def test_csv_row_naming_a_folder(csv_folder):
    target = csv_folder / "sub" / "p2.mrc"
    target.unlink()
    target.mkdir()
    assert error_of(csv_folder) == (f"{target} (line 4): is a folder, not an MRC file; "
                                    "give the path of the file itself")


def test_star_naming_a_stack_that_is_a_folder(tmp_path):
    (tmp_path / "stack.mrcs").mkdir()
    (tmp_path / "p.star").write_text("data_\nloop_\n_rlnImageName\n_rlnClassNumber\n"
                                     "1@stack.mrcs 1\n2@stack.mrcs 2\n")
    assert error_of(tmp_path / "p.star") == (f"{tmp_path / 'stack.mrcs'} (line 5): is a folder, "
                                             "not an MRC file; give the path of the file itself")


def test_symlink_loops(csv_folder):
    particle = csv_folder / "sub" / "p1.mrc"
    particle.unlink()
    os.symlink(particle.name, particle)
    assert error_of(csv_folder) == (
        f"{particle} (line 3): symbolic link loop; point the link at a real file")
    labels = csv_folder / "labels.csv"
    labels.unlink()
    os.symlink(labels.name, labels)
    loop = f"{labels}: symbolic link loop; point the link at a real file"
    assert error_of(csv_folder) == loop
    assert error_of(labels) == loop


def refuse_reading(monkeypatch):
    def read(*args, **kwargs):
        raise AssertionError("read a volume before checking the memory it needs")

    monkeypatch.setattr(loading, "read_volume", read)
    monkeypatch.setattr(loading, "read_stack", read)


def test_a_box_too_large_for_memory_is_refused_from_the_header(tmp_path, monkeypatch):
    write_mrc(tmp_path / "p.mrc", np.zeros((4, 4, 4)))
    raw = bytearray((tmp_path / "p.mrc").read_bytes())
    raw[0:12] = struct.pack("<3i", 10000, 10000, 10000)  # 4 TB promised, 256 bytes there
    (tmp_path / "p.mrc").write_bytes(bytes(raw))
    (tmp_path / "labels.csv").write_text("path,label\np.mrc,a\n")
    refuse_reading(monkeypatch)
    message = error_of(tmp_path, CryobenchError)  # the files are sound: not a DataError
    assert message.startswith(f"{tmp_path}: reading 1 particle of 10000^3 voxels needs about "
                              "3,725.3 GiB of memory and ")
    assert message.endswith(" GiB is available; bin the subtomograms to a smaller box or list "
                            "fewer particles")


def test_memory_estimate_counts_volumes_and_stacks(csv_folder, tmp_path, monkeypatch):
    need = 6 * 8**3 * 4  # six float32 particles
    monkeypatch.setattr(memory, "available_bytes", lambda: need)
    assert len(load_dataset(csv_folder)) == 6
    monkeypatch.setattr(memory, "available_bytes", lambda: need - 1)
    refuse_reading(monkeypatch)
    assert error_of(csv_folder, CryobenchError) == (
        f"{csv_folder}: reading 6 particles of 8^3 voxels needs about 1.1e-05 GiB of memory "
        "and 1.1e-05 GiB is available; bin the subtomograms to a smaller box or list fewer "
        "particles")
    stack = tmp_path / "s.mrcs"
    write_mrc(stack, np.zeros((5, 6, 6, 6)))
    (tmp_path / "s.csv").write_text("index,label\n0,a\n1,b\n")
    # two read particles, plus the stack held whole while read, twice (raw and float32)
    need = 2 * 6**3 * 4 + 2 * 5 * 6**3 * 4
    monkeypatch.setattr(memory, "available_bytes", lambda: need - 1)
    assert "reading 2 particles of 6^3 voxels needs" in error_of(stack, CryobenchError)


def test_star_positions_start_at_one(tmp_path):
    from cryobench.data.loading import read_records

    star = tmp_path / "p.star"
    star.write_text("data_particles\nloop_\n_rlnImageName\n_rlnClassNumber\n0@s.mrcs 1\n")
    with pytest.raises(DataError, match=r"p.star \(line 5\): image name '0@s.mrcs': STAR "
                                        "stack positions start at 1"):
        read_records(star)


def test_index_rows_of_a_csv_given_alone_name_the_stack_beside_it(tmp_path):
    from cryobench.data.loading import load_dataset

    write_mrc(tmp_path / "s.mrcs", np.zeros((3, 4, 4, 4)) + np.arange(3)[:, None, None, None])
    (tmp_path / "s.csv").write_text("index,label\n0,a\n1,b\n2,a\n")
    data = load_dataset(tmp_path)  # the folder: its one stack and its labels
    assert data.class_names == ("a", "b") and data.volumes[:, 0, 0, 0].tolist() == [0, 1, 2]
    (tmp_path / "t.mrcs").write_bytes((tmp_path / "s.mrcs").read_bytes())
    with pytest.raises(DataError, match="its rows give stack indices"):
        load_dataset(tmp_path / "s.csv")


def test_a_symlink_loop_given_as_the_path_is_named_as_one(tmp_path):
    import os

    from cryobench.data.loading import read_records

    loop = tmp_path / "loop"
    os.symlink(loop.name, loop)
    with pytest.raises(DataError, match="symbolic link loop"):
        read_records(loop)


def test_parameters_that_do_not_apply_are_refused(tmp_path):
    from cryobench.data.loading import read_records

    (tmp_path / "labels.csv").write_text("path,label\na.mrc,x\n")
    with pytest.raises(DataError, match="labels = .* is for a .mrcs stack"):
        read_records(tmp_path / "labels.csv", labels=tmp_path / "other.csv")
    with pytest.raises(DataError, match="label_column = '_rlnGroup' is for a STAR file"):
        read_records(tmp_path / "labels.csv", label_column="_rlnGroup")


def test_a_nul_byte_in_a_particle_path_is_one_line(tmp_path):
    from cryobench.data.loading import read_records

    (tmp_path / "labels.csv").write_bytes(b"path,label\na\x00b.mrc,x\n")
    with pytest.raises(DataError, match=r"labels.csv \(line 2\): the particle's path holds a "
                                        "NUL byte"):
        read_records(tmp_path / "labels.csv")
