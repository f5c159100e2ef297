from __future__ import annotations

import os
import struct
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from cryobench.data.mrc import header_shape, read_stack, read_volume
from cryobench.errors import DataError

from .conftest import write_mrc


def error_of(read, path: Path, **kw) -> str:
    with pytest.raises(DataError) as info:
        read(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def complex_mrc(path: Path, shape: tuple[int, ...], mode: int = 4) -> Path:
    """A Fourier transform as MRC mode 4; mode 3 (complex int16, which mrcfile cannot
    write) by patching the mode word of the header."""
    with mrcfile.new(path, data=np.zeros(shape, np.complex64)) as mrc:
        assert mrc.header.mode == 4
    if mode != 4:
        raw = bytearray(path.read_bytes())
        raw[12:16] = struct.pack("<i", mode)
        path.write_bytes(bytes(raw))
    return path


FOURIER = "is a Fourier transform, not a volume; write the real-space map (mode 2, float32)"


@pytest.mark.parametrize("mode, kind", [(4, "complex float32"), (3, "complex int16")])
def test_complex_modes_are_refused(tmp_path, mode, kind):
    volume = complex_mrc(tmp_path / "ft.mrc", (8, 8, 8), mode)
    assert error_of(read_volume, volume, record="line 3") == (
        f"{volume} (line 3): MRC mode {mode} ({kind}) {FOURIER}")
    stack = complex_mrc(tmp_path / "ft.mrcs", (2, 8, 8, 8), mode)
    assert error_of(read_stack, stack) == f"{stack}: MRC mode {mode} ({kind}) {FOURIER}"


def test_folder_in_place_of_a_volume_or_stack(tmp_path):
    (tmp_path / "p0.mrc").mkdir()
    (tmp_path / "x.mrcs").mkdir()
    assert error_of(read_volume, tmp_path / "p0.mrc", record="line 2") == (
        f"{tmp_path / 'p0.mrc'} (line 2): is a folder, not an MRC file; "
        "give the path of the file itself")
    assert error_of(read_stack, tmp_path / "x.mrcs", record="line 5") == (
        f"{tmp_path / 'x.mrcs'} (line 5): is a folder, not an MRC file; "
        "give the path of the file itself")


def test_symlink_loop_and_broken_link(tmp_path):
    loop = tmp_path / "p0.mrc"
    os.symlink(loop.name, loop)
    assert error_of(read_volume, loop) == (
        f"{loop}: symbolic link loop; point the link at a real file")
    broken = tmp_path / "p1.mrc"
    os.symlink("gone.mrc", broken)
    assert error_of(read_volume, broken) == (
        f"{broken}: broken symbolic link (to gone.mrc); point it at a real file")
    assert error_of(read_volume, tmp_path / "p2.mrc") == f"{tmp_path / 'p2.mrc'}: file not found"


def test_header_shape_reads_no_data(tmp_path):
    write_mrc(tmp_path / "v.mrc", np.zeros((6, 7, 8)))
    assert header_shape(tmp_path / "v.mrc") == (6, 7, 8)
    huge = tmp_path / "huge.mrc"  # a header that promises 4 TB; the data is not there
    raw = bytearray((tmp_path / "v.mrc").read_bytes())
    raw[0:12] = struct.pack("<3i", 10000, 10000, 10000)
    huge.write_bytes(bytes(raw))
    assert header_shape(huge) == (10000, 10000, 10000)
    (tmp_path / "junk.mrc").write_bytes(b"junk" * 300)
    assert header_shape(tmp_path / "junk.mrc") is None
    assert header_shape(tmp_path / "missing.mrc") is None
