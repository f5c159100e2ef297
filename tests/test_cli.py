"""The CLI as a user runs it: its console-script entry point, its exit status and its
two streams."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from cryobench import __version__

ROOT = Path(__file__).resolve().parents[1]
#: the longest a command may take in a test before the test fails (as a subprocess would
#: be killed): a command that hangs must not hang the suite
CLI_TIMEOUT_S = 600


class CommandTimedOut(BaseException):
    """Not an Exception: nothing in the command may catch it and carry on."""


def cli(*args: str, env: dict | None = None, cwd: Path | None = None,
        timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """``cryobench ARGS`` through its entry point (``cryobench.cli.main``), in this process:
    the same parsing, errors and exit status as a new process, without paying 3-10 s of
    imports (torch, scikit-learn, MLflow) for each call. The environment, working folder
    and terminal width (``COLUMNS``, else 200) are the call's own and restored after.
    What needs a process of its own goes through :func:`cli_process`: what libraries
    write to the file descriptors, or as warnings and log records (pytest catches those
    in its own process), signals, plugins found on another PYTHONPATH. A call that has not
    ended after ``timeout`` seconds fails the test."""
    from rich.console import Console

    import cryobench.cli as command
    from cryobench.cli import terminal

    out, err = io.StringIO(), io.StringIO()
    saved_environ, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    saved_consoles = terminal.console, terminal.err_console
    os.environ.update(env or {})
    sys.argv = ["cryobench", *args]
    # the width a new process would take from COLUMNS (the module's consoles took theirs
    # when it was first imported)
    width = int(os.environ.get("COLUMNS", "200"))
    terminal.console, terminal.err_console = Console(width=width), Console(stderr=True,
                                                                           width=width)
    code: int | str | None = 0

    def too_long(signum: int, frame: object) -> None:
        raise CommandTimedOut

    saved_alarm = signal.signal(signal.SIGALRM, too_long)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                command.main()
            except SystemExit as exc:
                code = exc.code
            except Exception:  # as the interpreter would end: a traceback, status 1
                traceback.print_exc()
                code = 1
    except CommandTimedOut:
        pytest.fail(f"cryobench {' '.join(args)}: not ended after {timeout:g} s\n"
                    f"{out.getvalue()[-2000:]}{err.getvalue()[-2000:]}", pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_alarm)
        sys.argv = saved_argv
        terminal.console, terminal.err_console = saved_consoles
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["cryobench", *args], status, out.getvalue(),
                                       err.getvalue())


def cli_process(*args: str, env: dict | None = None,
                cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``cryobench ARGS`` in a new process, as from a terminal 200 columns wide."""
    return subprocess.run([sys.executable, "-m", "cryobench.cli", *args], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200", **(env or {})},
                          cwd=cwd, timeout=600)


def test_a_command_that_hangs_fails_its_test_instead_of_the_suite(monkeypatch):
    import time

    import cryobench.cli as command

    monkeypatch.setattr(command, "main", lambda: time.sleep(30))
    with pytest.raises(pytest.fail.Exception, match="cryobench validate x.toml: not ended"):
        cli("validate", "x.toml", timeout=0.2)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # the alarm put back


def test_version_and_help():
    assert cli("--version").stdout.strip() == f"cryobench {__version__}"
    out = cli("--help").stdout
    for command in ("run", "validate", "simulate", "inspect", "plugins"):
        assert command in out


def test_plugins_lists_builtins_and_installed_example(example_plugin_site):
    env = {"PYTHONPATH": f"{example_plugin_site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = cli_process("plugins", env=env)
    assert result.returncode == 0, result.stderr
    for name in ("synthetic", "multipath", "smote", "focal", "mixup", "none"):
        assert name in result.stdout
    assert "poly1" in result.stdout and "cryobench-poly-loss" in result.stdout
    blocked = cli_process("plugins", "--kind", "loss",
                  env={**env, "CRYOBENCH_BLOCK_PLUGINS": "cryobench_poly"})
    assert "poly1" not in blocked.stdout and "focal" in blocked.stdout


def test_example_plugin_used_in_a_benchmark_file(example_plugin_site, tmp_path):
    env = {"PYTHONPATH": f"{example_plugin_site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    bench = tmp_path / "poly.toml"
    bench.write_text('[benchmark]\nname = "poly"\n[dataset]\nsource = "synthetic"\n'
                     '[[arm]]\nname = "cnn + poly1"\nmodel = "cnn"\n'
                     'loss = { name = "poly1", epsilon = 2.0 }\n')
    result = cli_process("validate", str(bench), env=env)
    assert result.returncode == 0, result.stderr
    assert "poly1" in result.stdout and "epsilon=2.0" in result.stdout and "5 trials" in result.stdout


def test_validate_shipped_benchmark():
    result = cli("validate", str(ROOT / "benchmarks" / "neural.toml"), "--profile", "quick")
    assert result.returncode == 0, result.stderr
    assert "6 arms, 6 trials" in result.stdout


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[benchmark]\nname = "x"\n[dataset]\nsource = "synthetic"\n[[arm]]\nname = "a"\n'
         'model = "multipth"\n', "arm[0].model: unknown model 'multipth'; did you mean 'multipath'?"),
        ('[benchmark]\nname = "x"\n[dataset]\nsource = "synthetic"\n[[arm]]\nname = "a"\n'
         'model = "cnn"\nloss = { name = "focal", gamma = -1.0 }\n',
         "arm[0].loss.gamma: got -1.0, expected a number >= 0.0"),
        ('[benchmark\n', "not valid TOML"),
    ],
)
def test_malformed_file_one_line_exit_2(tmp_path, body, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(body)
    result = cli_process("validate", str(bad))  # one line, not a library's warning too
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(bad) in lines[0]
    assert "Traceback" not in result.stderr
    debug = cli("--debug", "validate", str(bad))
    assert "Traceback" in debug.stderr


def test_simulate_then_inspect(tmp_path):
    out = tmp_path / "sim"
    made = cli("simulate", str(out), "--counts", "TRiC=6,ribosome=4", "--box", "16")
    assert made.returncode == 0, made.stderr
    assert not list(tmp_path.glob(".sim.partial*"))
    assert len(list((out / "particles").glob("*.mrc"))) == 10
    seen = cli("inspect", str(out))
    assert seen.returncode == 0, seen.stderr
    assert "TRiC" in seen.stdout and "60.00" in seen.stdout and "box 16^3" in seen.stdout
    again = cli("simulate", str(out), "--counts", "TRiC=6,ribosome=4")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_inspect_bad_file_one_line_exit_2(tmp_path):
    (tmp_path / "labels.csv").write_text("path,label\nmissing.mrc,a\n")
    result = cli("inspect", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("missing.mrc (line 2): file not found")


def test_run_one_arm_then_the_rest_by_key(tmp_path):
    # a trial checked again, or one arm carried forward: --arm runs only it, with the
    # keys the whole file has
    bench = tmp_path / "two.toml"
    bench.write_text(
        '[benchmark]\nname = "two"\nseeds = [0]\n'
        '[dataset]\nsource = "synthetic"\nbox = 12\nvoxel_size = 4.0\nsnr = 5.0\n'
        'class_counts = { TRiC = 12, ribosome = 12 }\n'
        '[train]\nmax_epochs = 1\nbatch_size = 8\n'
        '[[arm]]\nname = "plain cnn"\nmodel = "cnn"\n'
        '[[arm]]\nname = "+ focal"\nmodel = "cnn"\nloss = "focal"\n')
    env = {"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}
    run = ("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"),
           "--no-tracking")
    wrong = cli(*run, "--arm", "+ focl", env=env, cwd=tmp_path)
    assert wrong.returncode == 2
    assert "unknown arm '+ focl'; did you mean '+ focal'?" in wrong.stderr
    first = cli(*run, "--arm", "+ focal", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "trial + focal / seed 0" in first.stdout and "plain cnn /" not in first.stdout
    rest = cli(*run, env=env, cwd=tmp_path)
    assert "1 of 2 trials already finished" in rest.stdout
    assert "trial plain cnn / seed 0" in rest.stdout and "trial + focal" not in rest.stdout
    # the leaderboard at the end is the file's, whichever arms this invocation ran
    board = cli(*run, "--arm", "+ focal", env=env, cwd=tmp_path)
    assert "1 of 1 trials already finished" in board.stdout
    assert "plain cnn" in board.stdout and "+ focal" in board.stdout


def test_run_prints_leaderboard_and_resumes(tmp_path):
    bench = tmp_path / "tiny.toml"
    bench.write_text(
        '[benchmark]\nname = "tiny"\nseeds = [0, 1]\n'
        '[dataset]\nsource = "synthetic"\nbox = 12\nvoxel_size = 4.0\nsnr = 5.0\n'
        'class_counts = { TRiC = 12, ribosome = 12 }\n'
        '[train]\nmax_epochs = 1\nbatch_size = 8\n'
        '[[arm]]\nname = "plain cnn"\nmodel = "cnn"\n'
        '[reference]\ncitation = "made up"\n[reference.arms]\n"plain cnn" = { macro_f1 = 12.3 }\n')
    env = {"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}
    run = ("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"))
    wrong = cli(*run, "--seeds", "1,7", env=env, cwd=tmp_path)
    assert wrong.returncode == 2 and "has seeds 0, 1; choose among them" in wrong.stderr
    # a long run carried forward seed by seed: seed 1 first, then the rest by its keys
    first = cli(*run, "--seeds", "1", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "plain cnn" in first.stdout and "12.3" in first.stdout and "made up" in first.stdout
    # piped, not a terminal: plain lines say what happens (a phase, each finished trial)
    assert "simulating: 24 done" in first.stdout
    assert "trial plain cnn / seed 1: F1 " in first.stdout and "1/1 done" in first.stdout
    lines = (tmp_path / "res" / "tiny.jsonl").read_text().splitlines()
    assert len(lines) == 1
    second = cli(*run, env=env, cwd=tmp_path)
    assert "1 of 2 trials already finished" in second.stdout
    assert "trial plain cnn / seed 0: F1 " in second.stdout
    assert len((tmp_path / "res" / "tiny.jsonl").read_text().splitlines()) == 2
    third = cli(*run, env=env, cwd=tmp_path)
    assert "2 of 2 trials already finished" in third.stdout

    # records read back whatever wrote them: a field of the wrong type, a NaN score and a
    # cut last line are left out with a warning by run, leaderboard and report alike
    import json

    results = tmp_path / "res" / "tiny.jsonl"
    good = json.loads(results.read_text().splitlines()[0])
    with open(results, "a") as out:
        out.write(json.dumps({**good, "key": "other", "metrics": [0.5]}) + "\n")
        out.write(json.dumps({**good, "key": "nan"}).replace('"macro_f1": ',
                                                             '"macro_f1": NaN, "x": ') + "\n")
        out.write(json.dumps(good)[:60])
    said = (f"warning: {results}: skipped unreadable lines 3, 4, 5 (left in the file as they "
            "are); ")
    again = cli(*run, env=env, cwd=tmp_path)
    assert again.returncode == 0 and f"{said}those trials run again" in again.stdout
    board = cli("leaderboard", str(bench), "--results", str(tmp_path / "res"), "--format",
                "json", env=env)
    assert board.returncode == 0 and json.loads(board.stdout)[0]["n"] == 2
    assert board.stderr.strip() == f"{said}left out of the leaderboard"
    made = cli("report", str(bench), "--results", str(tmp_path / "res"), "--no-tracking",
               "--out", str(tmp_path / "report"), env=env)
    assert made.returncode == 0 and f"{said}left out of the report" in made.stderr

    # sync needs the results it is to log
    nowhere = cli("sync", str(bench), "--results", str(tmp_path / "nowhere"), env=env)
    assert nowhere.returncode == 2 and nowhere.stderr.startswith(
        f"error: --results {tmp_path / 'nowhere'}: no such folder; give the folder")
    (tmp_path / "empty").mkdir()
    empty = cli("sync", str(bench), "--results", str(tmp_path / "empty"), env=env)
    assert empty.returncode == 2 and empty.stderr.strip() == (
        f"error: {tmp_path / 'empty' / 'tiny.jsonl'}: no result file of this benchmark here; "
        f"run `cryobench run {bench}` first, or give the --results folder it wrote to")


def test_installed_console_script():
    script = Path(sys.executable).with_name("cryobench")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"cryobench {__version__}"


@pytest.mark.parametrize("width", ["30", "70", "200"])
def test_plugins_never_cut_a_name_at_any_width(width):
    import json

    listed = json.loads(cli("plugins", "--format", "json").stdout)
    shown = cli_process("plugins", "--params", env={"COLUMNS": width}).stdout
    words = set(shown.replace("│", " ").replace("(", " ").split())
    for row in listed:
        assert row["name"] in words, row["name"]
        for param in row["params"]:
            assert param["name"] in words, (row["name"], param["name"])
    assert {"kind", "name", "summary", "distribution", "version", "params"} <= set(listed[0])


def test_results_that_cannot_be_written_are_refused_before_training(tmp_path):
    bench = tmp_path / "b.toml"
    bench.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "synthetic"\nbox = 12\n'
                     '[[arm]]\nname = "a"\nmodel = "cnn"\n')
    (tmp_path / "taken").write_text("not a folder")
    env = {"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}
    for results, problem in ((tmp_path / "taken", "is a file, not a folder"),
                             (tmp_path / "taken" / "deeper", "a parent of this")):
        result = cli("run", str(bench), "--results", str(results), env=env)
        assert result.returncode == 2 and problem in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists()  # nothing simulated, nothing trained
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "b.jsonl").mkdir()
    result = cli("run", str(bench), "--results", str(tmp_path / "res"), env=env)
    assert result.returncode == 2 and "b.jsonl: is not a regular file" in result.stderr
    cache_file = tmp_path / "cache-file"
    cache_file.write_text("")
    result = cli("run", str(bench), "--results", str(tmp_path / "res2"),
                 env={"CRYOBENCH_CACHE_DIR": str(cache_file)})
    assert result.returncode == 2 and "choose another cache folder" in result.stderr


def test_brackets_in_messages_and_names_are_shown(tmp_path):
    bad = tmp_path / "[x].toml"
    bad.write_text('[benchmark]\nname = "[b]"\ncolour = 1\n')
    result = cli("validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}: benchmark.colour: unknown key in [benchmark] 'colour'" in result.stderr
    good = tmp_path / "good.toml"
    good.write_text('[benchmark]\nname = "[b]"\n[dataset]\nsource = "synthetic"\n'
                    '[[arm]]\nname = "[arm]"\nmodel = "cnn"\n')
    shown = cli("validate", str(good)).stdout
    assert "[b]" in shown and "[arm]" in shown


def test_simulate_needs_the_synthetic_source_and_says_so_when_blocked(tmp_path):
    result = cli("simulate", str(tmp_path / "out"), "--box", "12",
                 env={"CRYOBENCH_BLOCK_PLUGINS": "cryobench_sources"})
    assert result.returncode == 2
    assert "the simulator's data source 'synthetic' is not registered" in result.stderr


@pytest.mark.slow
def test_ensembles_end_to_end(tmp_path):
    bench = tmp_path / "ens.toml"
    bench.write_text(
        '[benchmark]\nname = "ens"\nseeds = [0]\n'
        '[dataset]\nsource = "synthetic"\nbox = 12\nvoxel_size = 4.0\nsnr = 5.0\n'
        'class_counts = { TRiC = 14, ribosome = 14 }\n'
        '[train]\nmax_epochs = 1\nbatch_size = 8\n'
        '[[arm]]\nname = "bagging"\nmodel = { name = "cnn", widths = [4, 4, 4] }\n'
        'ensemble = { name = "bagging", members = 2 }\n'
        '[[arm]]\nname = "smote + boosting"\nmodel = { name = "cnn", widths = [4, 4, 4] }\n'
        'sampler = "smote"\nensemble = { name = "boosting", members = 2 }\n')
    env = {"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}
    result = cli("run", str(bench), "--executor", "local", "--results", str(tmp_path / "res"), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import json

    records = [json.loads(line) for line in (tmp_path / "res" / "ens.jsonl").read_text()
               .splitlines()]
    assert [r["status"] for r in records] == ["ok", "ok"]
    for record in records:
        members = record["report"]["members"]
        assert 1 <= len(members) <= 2 and all("macro_f1" in m for m in members)
        assert set(record["fit"]["parts"]) == {f"member {m['member']}" for m in members}


def test_usage_mistakes_are_one_line(tmp_path):
    for args, message in ((("simulate", str(tmp_path / "x"), "--box", "abc"),
                           "Invalid value for '--box'"),
                          (("frob",), "No such command 'frob'"),
                          (("validate",), "Missing argument 'file'"),
                          (("simulate", str(tmp_path / "x"), "--counts", ""),
                           "--counts: expected NAME=VALUE"),
                          (("simulate", str(tmp_path / "x"), "--counts",
                            "ribosome=5,ribosome=6"), "'ribosome' is given twice")):
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "x").exists()


def test_broken_particles_stop_the_run_before_any_training(tmp_path):
    from cryobench.data.export import write_dataset
    from cryobench.testing import tiny_data

    write_dataset(tmp_path / "set", tiny_data(n=12, box=8))
    (tmp_path / "set" / "particles" / "particle_00003.mrc").write_bytes(b"garbage")
    bench = tmp_path / "b.toml"
    bench.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "mrc"\npath = "set"\n'
                     '[split]\nval_fraction = 0.0\ntest_fraction = 0.25\n'
                     '[[arm]]\nname = "a"\nmodel = "cnn"\n')
    # its own process: stderr holds all that a user would see, mrcfile's warnings too
    result = cli_process("run", str(bench), "--executor", "local", "--results",
                         str(tmp_path / "res"), env={"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert "particle_00003.mrc (line 4): unreadable MRC" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "res" / "b.jsonl").read_text() == ""  # no trial recorded as failed


@pytest.mark.slow
def test_from_simulated_tomograms_to_a_leaderboard(tmp_path):
    """simulate --tomograms -> inspect (STAR and copick) -> validate -> run, split by
    tomogram; a second run reuses the cut particles."""
    out = tmp_path / "tomo"
    made = cli("simulate", str(out), "--counts", "TRiC=12,ribosome=12", "--box", "16",
               "--tomograms", "3", "--tomogram-size", "64x64x32")
    assert made.returncode == 0, made.stderr
    assert "class numbers 1=TRiC, 2=ribosome" in " ".join(made.stdout.split())
    env = {"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}
    star = cli("inspect", str(out / "particles.star"), "--tomograms", str(out / "tomograms"),
               "--box", "16", "--class-names", "1=TRiC,2=ribosome", env=env)
    assert star.returncode == 0, star.stderr
    assert "3 tomograms" in star.stdout and "TS_03" in star.stdout
    assert "cross a tomogram's edge, padded with the mean" in star.stdout
    picks = cli("inspect", str(out / "copick" / "copick.json"), "--voxel-spacing", "13.68",
                "--box", "16", env=env)
    assert picks.returncode == 0, picks.stderr
    assert "│ TRiC     │    12 │   50.00 │" in picks.stdout
    missing = cli("inspect", str(out / "copick" / "copick.json"), "--box", "16", env=env)
    assert missing.returncode == 2 and "give --voxel-spacing" in missing.stderr
    bench = tmp_path / "mine.toml"
    bench.write_text(
        '[benchmark]\nname = "mine"\nseeds = [0]\n'
        '[dataset]\nsource = "tomograms"\ncoordinates = "tomo/particles.star"\n'
        'tomograms = "tomo/tomograms"\nbox = 16\n'
        'class_names = { "1" = "TRiC", "2" = "ribosome" }\n'
        '[split]\ngroup = "tomogram"\ntest_fraction = 0.34\nval_fraction = 0.2\n'
        '[train]\nmax_epochs = 1\nbatch_size = 8\n'
        '[[arm]]\nname = "plain cnn"\nmodel = "cnn"\n')
    checked = cli("validate", str(bench), env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    cut = {p: (p / "volumes.npy").stat().st_mtime_ns for p in (tmp_path / "cache").glob("cut-*")}
    assert len(cut) == 2  # by the two inspections: the STAR's, and the copick project's
    run = ("run", str(bench), "--executor", "local", "--no-tracking",
           "--results", str(tmp_path / "res"))
    first = cli(*run, env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "plain cnn" in first.stdout
    record = json.loads((tmp_path / "res" / "mine.jsonl").read_text().splitlines()[0])
    assert record["status"] == "ok" and record["config"]["split"]["group"] == "tomogram"
    (tmp_path / "res" / "mine.jsonl").unlink()
    again = cli(*run, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # the runs read what the STAR's inspection cut: nothing was cut again
    assert {p: (p / "volumes.npy").stat().st_mtime_ns
            for p in (tmp_path / "cache").glob("cut-*")} == cut


def test_inspect_says_what_a_coordinate_list_needs(tmp_path, tomogram_set):
    """A coordinate list without --tomograms, copick-only flags on it, and a file given
    as the tomograms folder: one line each."""
    star = str(tomogram_set / "particles.star")
    alone = cli("inspect", star)
    assert alone.returncode == 2 and alone.stderr.strip().endswith(
        "a list of particles in tomograms; give --tomograms DIR (the folder of the "
        "tomograms) and --box N to cut them"), alone.stderr
    flags = cli("inspect", star, "--tomograms", str(tomogram_set / "tomograms"), "--box", "16",
                "--voxel-spacing", "13.68", "--user-id", "me")
    assert flags.returncode == 2 and flags.stderr.strip().endswith(
        "--voxel-spacing, --user-id are for a copick project (copick.json), not a coordinate "
        "list; leave them out"), flags.stderr
    a_file = cli("inspect", star, "--tomograms", star, "--box", "16",
                 "--class-names", "1=TRiC,2=ribosome")
    assert a_file.returncode == 2 and len(a_file.stderr.strip().splitlines()) == 1
    assert f"tomograms = {star} is a file, not a folder" in a_file.stderr
    import inspect

    from cryobench.cli import simulate
    from cryobench.registry import Registry

    params = Registry().get("data_source", "synthetic").params
    crowding = next(p.default for p in params if p.name == "crowding")
    help_text = inspect.signature(simulate).parameters["crowding"].default.help
    assert f"(default {crowding})" in help_text
