"""The result file: damage costs a line, never the file; one run at a time holds it."""

from __future__ import annotations

import json
import os
from dataclasses import replace
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cryobench.errors import CryobenchError
from cryobench.run.records import TrialRecord
from cryobench.run.results import ResultStore


def record(key: str, f1: float = 0.5, status: str = "ok") -> dict:
    out = {"key": key, "arm": "a", "seed": 0, "status": status}
    if status == "ok":
        out.update(classes=["x", "y"],
                   metrics={"macro_f1": f1, "macro_gmean": f1, "balanced_accuracy": f1})
    else:
        out["error"] = "broken"
    return out


def line(r: dict) -> bytes:
    return json.dumps(r).encode() + b"\n"


def test_damaged_lines_are_skipped_with_their_numbers_and_the_rest_kept(tmp_path):
    path = tmp_path / "r.jsonl"
    missing = record("k3")
    del missing["metrics"]
    path.write_bytes(line(record("k1")) + b"not json at all\n" + line(missing)
                     + b'{"key": "k4", "arm": "a", "status": "ok", "caf\xe9"}\n'
                     + line(record("k5", status="failed")) + b"\n"
                     + line(record("k2", 0.7))[:-20])  # the last line cut short
    before = path.read_bytes()
    store = ResultStore(path)
    loaded = store.read()
    assert sorted(loaded.records) == ["k1", "k5"]
    assert sorted(loaded.finished()) == ["k1"]
    assert loaded.unreadable == [2, 3, 4, 7]
    assert loaded.warning(path) == (f"{path}: skipped unreadable lines 2, 3, 4, 7 (left in "
                                    "the file as they are); those trials run again")
    assert path.read_bytes() == before  # nothing rewritten behind the user's back

    store.append(TrialRecord.from_json(record("k2", 0.8)))
    again = store.read()
    assert again.records["k2"].metrics["macro_f1"] == 0.8  # on its own line
    assert again.unreadable == [2, 3, 4, 7]
    assert path.read_bytes().startswith(before)


@pytest.mark.parametrize("line", [
    b'{"key": "k", "arm": "a", "status": "ok", "classes": [1, 2], "metrics": '
    b'{"macro_f1": 0.5, "macro_gmean": 0.5, "balanced_accuracy": 0.5}}',
    b'{"key": "k", "arm": "a", "status": "ok", "classes": ["x"], "metrics": '
    b'{"macro_f1": 5.0, "macro_gmean": 0.5, "balanced_accuracy": 0.5}}',
    b'{"key": "k", "arm": "a", "status": "ok", "classes": ["x"], "metrics": '
    b'{"macro_f1": -1.0, "macro_gmean": 0.5, "balanced_accuracy": 0.5}}',
    b"[" * 100_000 + b"]" * 100_000,
    # fields of the wrong type: a record read half would crash the leaderboard or report
    json.dumps({**record("k"), "metrics": [0.5, 0.5]}).encode(),
    json.dumps({**record("k"), "per_class": "f1"}).encode(),
    json.dumps({**record("k"), "per_class": [{"name": "x", "f1": "high"}]}).encode(),
    json.dumps({**record("k"), "confusion": [["a"]]}).encode(),
    json.dumps({**record("k"), "seed": "0"}).encode(),
    json.dumps({**record("k"), "fold": 1.5}).encode(),
    json.dumps({**record("k"), "fit": {"history": 3}}).encode(),
    json.dumps({**record("k"), "timings": {"fit_seconds": "slow"}}).encode(),
    json.dumps({**record("k"), "config": []}).encode(),
])
def test_records_that_would_break_or_mislead_the_ranking_are_unreadable(tmp_path, line):
    path = tmp_path / "r.jsonl"
    path.write_bytes(line + b"\n" + json.dumps(record("ok")).encode() + b"\n")
    loaded = ResultStore(path).read()
    assert loaded.unreadable == [1] and list(loaded.records) == ["ok"]


def test_a_byte_order_mark_before_the_first_record_is_accepted(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(record("k1")).encode() + b"\n")
    assert list(ResultStore(path).read().records) == ["k1"]


def test_non_finite_metrics_are_not_a_record(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "k", "arm": "a", "status": "ok", "classes": [], "metrics": '
                    '{"macro_f1": NaN, "macro_gmean": 0.5, "balanced_accuracy": 0.5}}\n')
    assert ResultStore(path).read().unreadable == [1]
    with pytest.raises(ValueError):  # and none is ever written
        ResultStore(path).append(replace(TrialRecord.from_json(record("k")),
                                         metrics={"macro_f1": float("nan")}))


HOLDER = """
import sys, time
from pathlib import Path
from cryobench.run.records import TrialRecord
from cryobench.run.results import ResultStore
with ResultStore(Path(sys.argv[1])).lock("holder"):
    print("locked", flush=True)
    time.sleep(60)
"""


def hold(path: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_process_is_refused_and_a_dead_holders_lock_taken_over(tmp_path):
    path = tmp_path / "r.jsonl"
    holder = hold(path)
    try:
        with pytest.raises(CryobenchError) as info:
            with ResultStore(path).lock():
                pass
        message = str(info.value)
        assert message.startswith(f"{path}: in use by holder (pid {holder.pid} on ")
        assert "\n" not in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with ResultStore(path).lock():  # the killed holder's lock is free again
        assert json.loads(path.with_name("r.jsonl.lock").read_text())["pid"] == os.getpid()
    assert not path.with_name("r.jsonl.lock").exists()


def test_run_refuses_results_held_by_another_run(tmp_path):
    bench = tmp_path / "b.toml"
    bench.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "synthetic"\n'
                     'box = 12\n[[arm]]\nname = "a"\nmodel = "cnn"\n')
    holder = hold(tmp_path / "res" / "b.jsonl")
    try:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "cryobench.cli", "run", str(bench), "--results",
             str(tmp_path / "res")], capture_output=True, text=True, timeout=120,
            env={**os.environ, "CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")})
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert result.returncode == 2, result.stderr
    assert f"in use by holder (pid {holder.pid}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    assert time.perf_counter() - start < 60


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_what_was_saved(tmp_path,
                                                                        monkeypatch):
    import errno

    path = tmp_path / "r.jsonl"
    store = ResultStore(path)
    store.append(TrialRecord.from_json(record("k1")))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CryobenchError) as info:
        store.append(TrialRecord.from_json(record("k2")))
    assert str(info.value).startswith(f"{path}: cannot save the result of trial k2 (No "
                                      "space left on device); what was saved before it is kept")
    monkeypatch.undo()
    assert "k1" in store.read().records
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(CryobenchError, match="cannot write the lock file"):
        with store.lock():
            pass
    monkeypatch.undo()
    assert not path.with_name("r.jsonl.lock").exists()
