"""The user's files: one clear line for every way reading or writing them can fail."""

from __future__ import annotations

import os

import pytest

from cryobench.errors import CryobenchError, DataError
from cryobench.files import check_writable_folder, read_text


def test_a_results_folder_that_is_a_symlink_loop_is_named_as_one(tmp_path):
    loop = tmp_path / "loop"
    os.symlink(loop.name, loop)
    with pytest.raises(CryobenchError, match="is a broken symbolic link \\(or a loop\\)"):
        check_writable_folder(loop, "results folder")


def test_a_device_or_a_folder_is_not_read_as_text(tmp_path):
    with pytest.raises(DataError, match="/dev/zero: is not a regular file"):
        read_text("/dev/zero", "a benchmark file")
    with pytest.raises(DataError, match="is a folder, not a benchmark file"):
        read_text(tmp_path, "a benchmark file")


def test_a_byte_order_mark_is_dropped_and_other_encodings_refused(tmp_path):
    path = tmp_path / "t.toml"
    path.write_bytes(b"\xef\xbb\xbfname = 1\n")
    assert read_text(path, "a file") == "name = 1\n"
    path.write_bytes(b"a = 1\nb = 'caf\xe9'\n")
    with pytest.raises(DataError, match=r"t.toml \(line 2\): not UTF-8 text \(byte 0xe9 in "
                                        r"column 9\)"):
        read_text(path, "a file")


def test_an_oversized_file_is_refused_from_its_size(tmp_path):
    from cryobench.errors import DataError
    from cryobench.files import MAX_TEXT_BYTES, read_bytes

    big = tmp_path / "labels.csv"
    with open(big, "wb") as handle:  # sparse: nothing is written but the size
        handle.truncate(MAX_TEXT_BYTES + 1)
    with pytest.raises(DataError, match="is larger than 1 GiB; expected a label file"):
        read_bytes(big, "a label file")
