from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from cryobench.data import export
from cryobench.data.simulator import writer
from cryobench.data.simulator.simulate import SimulationSpec
from cryobench.data.simulator.writer import write_simulation
from cryobench.errors import CryobenchError

TINY = SimulationSpec(class_counts={"ribosome": 2, "TRiC": 2}, box=16, snr=0.2)


@pytest.fixture
def no_simulation(monkeypatch):
    """These errors must come before any simulation work."""
    def simulate(*args, **kwargs):
        raise AssertionError("simulated before checking the output folder")

    monkeypatch.setattr(writer, "simulate", simulate)


def error_of(out: Path, spec: SimulationSpec = TINY) -> str:
    with pytest.raises(CryobenchError) as info:
        write_simulation(out, spec)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_writes_a_complete_set(tmp_path):
    out = write_simulation(tmp_path / "a" / "b", TINY)
    assert export.is_complete(out) and len(list((out / "particles").glob("*.mrc"))) == 4
    assert sorted(p.name for p in tmp_path.joinpath("a").iterdir()) == ["b"]  # no leftovers


def test_output_that_is_a_file(tmp_path, no_simulation):
    out = tmp_path / "out"
    out.write_text("keep me")
    assert error_of(out) == f"{out}: is a file, not a folder; choose another folder"
    assert out.read_text() == "keep me"


def test_output_under_a_file(tmp_path, no_simulation):
    (tmp_path / "notes").write_text("keep me")
    for out in (tmp_path / "notes" / "out", tmp_path / "notes" / "a" / "out"):
        assert error_of(out) == (f"{out}: cannot create the folder: {tmp_path / 'notes'} is "
                                 "not a folder; choose another place")
    assert (tmp_path / "notes").read_text() == "keep me"


def test_output_in_a_read_only_place(tmp_path, monkeypatch, no_simulation):
    """Tests run as root, where a mode cannot deny writing: the answer the system gives a
    user (or anyone on a read-only mount) stands in."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    out = tmp_path / "out"
    assert error_of(out) == (f"{out}: cannot create the folder: {tmp_path} is not writable; "
                             "choose a folder you can write to")


def test_output_folder_that_cannot_be_created(tmp_path, monkeypatch, no_simulation):
    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    out = tmp_path / "new" / "out"
    assert error_of(out) == (f"{out}: cannot create the folder (Permission denied); "
                             "choose a folder you can write to")


def test_disk_full_while_writing_leaves_nothing(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "write_mrc", full)
    parent = tmp_path / "parent"  # tmp_path itself holds the test's MLflow store
    parent.mkdir()
    out = parent / "out"
    assert error_of(out) == (f"{out}: writing failed (No space left on device); nothing was "
                             "written there; free some space or choose another folder")
    assert list(parent.iterdir()) == []  # no partial copy left behind


def test_a_box_too_large_for_memory_fails_at_once(tmp_path, no_simulation):
    parent = tmp_path / "parent"
    parent.mkdir()
    out = parent / "out"
    spec = SimulationSpec(class_counts={"ribosome": 2}, box=10000)  # 4 TB a particle
    message = error_of(out, spec)
    assert message.startswith("simulating 2 particles of 10000^3 voxels needs about ")
    assert message.endswith(" GiB is available; use a smaller box or fewer particles "
                            "(scale, class_counts)")
    assert list(parent.iterdir()) == []
