"""MLflow stores as users have them, refused in one line before any training: a file
store, a damaged or truncated SQLite file, a read-only folder, a folder not there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cryobench.errors import CryobenchError
from cryobench.tracking.store import LATER, check_store
from tests.test_cli import cli


def real_store(folder: Path) -> Path:
    """A SQLite file MLflow made, with an experiment and a run in it."""
    from mlflow import MlflowClient

    path = folder / "mlflow.db"
    client = MlflowClient(f"sqlite:///{path}")
    experiment = client.create_experiment("made")
    client.set_terminated(client.create_run(experiment).info.run_id)
    return path


def problem(uri: str) -> str:
    with pytest.raises(CryobenchError) as caught:
        check_store(uri)
    message = str(caught.value)
    assert message.startswith(f"MLflow store {uri}: ") and message.endswith(LATER)
    assert "--no-tracking" in message and "cryobench sync" in message
    return message


def test_a_whole_store_and_a_new_one_pass(tmp_path):
    check_store(f"sqlite:///{real_store(tmp_path)}")
    check_store(f"sqlite:///{tmp_path / 'new.db'}")  # MLflow creates it
    check_store("http://127.0.0.1:5000")  # a server is asked by the tracker itself


def test_a_file_store_is_refused_with_the_way_to_sqlite(tmp_path):
    for uri in (f"file://{tmp_path}/mlruns", str(tmp_path / "mlruns")):
        assert "no longer supports" in problem(uri)
        assert "mlflow migrate-filestore" in problem(uri)


def test_a_truncated_or_foreign_sqlite_file_is_damaged(tmp_path):
    path = real_store(tmp_path)
    cut = tmp_path / "cut.db"
    shutil.copy(path, cut)
    os.truncate(cut, cut.stat().st_size // 2)  # a full disk, a copy cut short
    assert f"{cut} is damaged (database disk image is malformed" in problem(
        f"sqlite:///{cut}")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database " * 100)
    assert f"{junk} is damaged (file is not a database" in problem(f"sqlite:///{junk}")


def test_a_folder_that_is_not_there(tmp_path):
    uri = f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}"
    assert f"its folder {tmp_path / 'nowhere'} does not exist" in problem(uri)


@pytest.fixture
def read_only_folder(tmp_path):
    """A real read-only file system (tests run as root, whom file modes do not stop)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a file system here: {made.stderr.decode()[:200]}")
    try:
        made_elsewhere = tmp_path / "made"
        made_elsewhere.mkdir()
        # copied in: MLflow's client keeps its own file open, and a mount with a file
        # open for writing cannot be made read-only
        shutil.copy(real_store(made_elsewhere), folder / "mlflow.db")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_store_in_a_read_only_folder_is_one_line_before_any_work(tmp_path,
                                                                   read_only_folder):
    for name in ("mlflow.db", "new.db"):  # the store there, or one to be made there
        uri = f"sqlite:///{read_only_folder / name}"
        assert (f"its folder {read_only_folder} cannot be written to (read-only file "
                "system)") in problem(uri)
    bench = tmp_path / "b.toml"
    bench.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "synthetic"\nbox = 12\n'
                     '[[arm]]\nname = "cnn"\nmodel = "cnn"\n')
    result = cli("run", str(bench), "--executor", "local", "--results", str(tmp_path / "r"),
                 "--tracking-uri", f"sqlite:///{read_only_folder / 'mlflow.db'}",
                 env={"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}, timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: MLflow store sqlite:///{read_only_folder}")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_run_with_a_damaged_store_trains_nothing(tmp_path):
    path = real_store(tmp_path)
    os.truncate(path, path.stat().st_size // 2)
    bench = tmp_path / "b.toml"
    bench.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "synthetic"\nbox = 12\n'
                     '[[arm]]\nname = "cnn"\nmodel = "cnn"\n')
    for command in ("run", "sync"):
        extra = ("--executor", "local") if command == "run" else ()
        (tmp_path / "r").mkdir(exist_ok=True)
        (tmp_path / "r" / "b.jsonl").touch()
        result = cli(command, str(bench), *extra, "--results", str(tmp_path / "r"),
                     "--tracking-uri", f"sqlite:///{path}",
                     env={"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}, timeout=120)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error: MLflow store sqlite:///{path}: {path} is damaged (database disk image "
            "is malformed; a full disk or a copy cut short?); move it away (MLflow starts "
            f"a new one) or give another --tracking-uri, {LATER}"]
    assert not list((tmp_path / "cache").glob("synthetic-*"))  # nothing simulated
