"""Concurrent builders of one cache entry: both succeed, and they share one entry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BUILDER = """
import sys, time
from pathlib import Path
from cryobench.data.cache import cached_folder, save_file

root, barrier, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
(barrier / sys.argv[4]).touch()


def wait_for_both():
    deadline = time.time() + 30
    while len(list(barrier.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.01)


def build(folder):
    folder.mkdir()
    (folder / "part").write_text(sys.argv[4])
    wait_for_both()  # both builders are now mid-build
    (folder / "done").write_text("yes")


def complete(folder):
    return (folder / "done").exists()


if mode == "folder":
    path, built = cached_folder(root, "entry", complete, build)
    print(path, (path / "part").read_text())
else:
    def write(target):
        with open(target, "w") as handle:
            handle.write(sys.argv[4] * 1000)
            handle.flush()
            wait_for_both()
            handle.write(sys.argv[4] * 1000)
    save_file(root / "weights.pt", write)
    print(root / "weights.pt")
"""


def race(tmp_path: Path, mode: str) -> list[str]:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    runs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(tmp_path / "cache"),
                              str(barrier), mode, name], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for name in "ab"]
    outputs = [run.communicate(timeout=60) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err
    return [out.strip() for out, _ in outputs]


def test_two_builders_of_one_folder_both_get_the_winners_entry(tmp_path):
    first, second = race(tmp_path, "folder")
    assert first == second  # the loser uses the winner's entry (one name, one content)
    entry = tmp_path / "cache" / "entry"
    assert first.split()[0] == str(entry) and (entry / "done").exists()
    assert sorted(os.listdir(tmp_path / "cache")) == ["entry"]  # no private copies left


def test_two_writers_of_one_file_never_mix(tmp_path):
    race(tmp_path, "file")
    content = (tmp_path / "cache" / "weights.pt").read_text()
    assert content in ("a" * 2000, "b" * 2000)
    assert sorted(os.listdir(tmp_path / "cache")) == ["weights.pt"]
