from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import cryobench.files as files
from cryobench.data.labels import read_csv_labels, read_star_labels
from cryobench.errors import DataError

STAR = "data_\nloop_\n_rlnImageName #1\n_rlnClassNumber #2\nsub/p0.mrc 1\nsub/p1.mrc 2\n"


def error_of(read, path: Path) -> str:
    with pytest.raises(DataError) as info:
        read(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_records_know_their_label_file(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\nsub/p0.mrc,a\n\nsub/p1.mrc,b\n")
    first, second = read_csv_labels(csv)
    assert first.label_file == csv and first.path == tmp_path / "sub" / "p0.mrc"
    assert second.record == "line 4"  # a blank line does not shift the numbers
    star = tmp_path / "p.star"
    star.write_text(STAR)
    assert read_star_labels(star)[1].label_file == star


def test_cp1252_csv_names_line_and_column_and_says_save_as_utf8(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_bytes("path,label\nsub/p0.mrc,ribosome\nsub/p1.mrc,protéasome\n".encode("cp1252"))
    assert error_of(read_csv_labels, csv) == (
        f"{csv} (line 3): not UTF-8 text (byte 0xe9 in column 16); "
        "save the file as UTF-8 (in Excel: 'CSV UTF-8')")


def test_latin1_star_names_the_line(tmp_path):
    star = tmp_path / "p.star"
    star.write_bytes(STAR.replace("sub/p1.mrc 2", "sub/caf\xe9.mrc 2").encode("latin-1"))
    assert error_of(read_star_labels, star) == (
        f"{star} (line 6): not UTF-8 text (byte 0xe9 in column 8); save the file as UTF-8")


def test_a_star_block_without_loop_says_so_with_its_line(tmp_path):
    star = tmp_path / "p.star"
    star.write_text(STAR.replace("loop_\n", ""))
    assert error_of(read_star_labels, star) == (
        f"{star} (line 4): data_ has column names but no 'loop_' line, so its 2 rows of "
        "values are not a table; add a line 'loop_' after 'data_'")


def test_column_counts_characters_not_bytes(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_bytes("path,label\nsub/ü.mrc,a".encode() + b"\xff\n")  # ü: two bytes, one column
    assert "(line 2): not UTF-8 text (byte 0xff in column 12)" in error_of(read_csv_labels, csv)


def test_byte_order_mark_is_accepted(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_bytes(b"\xef\xbb\xbfpath,label\r\nsub/p0.mrc,a\r\n")
    (record,) = read_csv_labels(csv)
    assert (record.label, record.record) == ("a", "line 2")
    star = tmp_path / "p.star"
    star.write_bytes(b"\xef\xbb\xbf" + STAR.encode())
    assert [r.label for r in read_star_labels(star)] == ["1", "2"]


def test_folder_in_place_of_a_label_file(tmp_path):
    folder = tmp_path / "labels.csv"
    folder.mkdir()
    assert error_of(read_csv_labels, folder) == (
        f"{folder}: is a folder, not a label file; give the path of the file itself")
    assert "is a folder, not a label file" in error_of(read_star_labels, folder)


def test_symlink_loop(tmp_path):
    loop = tmp_path / "labels.csv"
    os.symlink(loop.name, loop)
    assert error_of(read_csv_labels, loop) == (
        f"{loop}: symbolic link loop; point the link at a real file")


def test_broken_symlink(tmp_path):
    link = tmp_path / "p.star"
    os.symlink("moved.star", link)
    assert error_of(read_star_labels, link) == (
        f"{link}: broken symbolic link (to moved.star); point it at a real file")


def test_unreadable_label_file(tmp_path, monkeypatch):
    """As root (as tests run here) chmod cannot deny reading: the open itself is refused."""
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\nsub/p0.mrc,a\n")

    def denied(file, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(file))

    monkeypatch.setattr(files, "open", denied, raising=False)
    expected = f"{csv}: permission denied; make the file readable (chmod a+r) or copy it"
    assert error_of(read_csv_labels, csv) == expected
    csv.write_text(STAR)
    assert error_of(read_star_labels, csv) == expected
