"""The MLflow leaderboard link that ``cryobench run`` prints, opened as a user opens it:
headless Chromium on ``cryobench ui``, a fresh browser profile. It must land on the
model-training side, on the summary runs, best first, with the score columns shown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.report.test_report import chromium
from tests.test_cli import cli
from tests.tracking.test_mlflow import env, free_port, write

SCORE_COLUMNS = ["metrics.`macro_f1_mean`", "metrics.`macro_f1_std`",
                 "metrics.`macro_gmean_mean`", "metrics.`macro_gmean_std`", "metrics.`n`"]


@pytest.mark.slow
def test_the_printed_link_opens_on_the_score_columns(tmp_path):
    bench = write(tmp_path, epochs=1)
    result = cli("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"),
                 env={**env(tmp_path), "COLUMNS": "400"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    link = re.search(r"MLflow leaderboard: (\S+)", result.stdout).group(1)
    port = free_port()
    link = link.replace("http://127.0.0.1:5000/", f"http://127.0.0.1:{port}/")
    ui = subprocess.Popen([sys.executable, "-m", "cryobench.cli", "ui", "--port", str(port)],
                          env={**os.environ, **env(tmp_path)}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert ui.poll() is None and time.time() < deadline, "no MLflow UI"
                time.sleep(1)
        dom = chromium("--window-size=1600,900", "--virtual-time-budget=20000",
                       "--dump-dom", link, profile=tmp_path / "profile")
        shot = tmp_path / "leaderboard.png"
        chromium("--window-size=1600,900", "--virtual-time-budget=20000",
                 f"--screenshot={shot}", link, profile=tmp_path / "profile2")
    finally:
        os.killpg(ui.pid, signal.SIGINT)
        ui.wait(timeout=60)

    headers = re.findall(r'role="columnheader"[^>]*col-id="(metrics\.[^"]+)"', dom)
    assert headers == SCORE_COLUMNS, headers  # those columns, in that order, and no others
    assert "You're viewing a shared view" in dom  # the view the link names was found
    assert "Model registry" in dom and "Evaluation runs" not in dom  # not the GenAI side
    assert "tags.cryobench_kind = &#39;summary&#39;" in dom or \
        "tags.cryobench_kind = 'summary'" in dom
    rows = re.findall(r'row-id="[^"]+"', dom)
    assert len(set(rows)) == 2  # the two arms' summary runs, no trial runs
    best_first = re.findall(r'col-id="metrics.`macro_f1_mean`"[^>]*>(?:<[^>]+>)*([0-9.]+)<',
                            dom)
    assert best_first == sorted(best_first, reverse=True) and len(best_first) == 2
    assert shot.stat().st_size > 20_000  # a page was drawn, not a blank one
