"""`cryobench validate` catches, before any work, all that a benchmark file can tell."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cryobench.cli import app

BASE = """\
[benchmark]
name = {name}
seeds = {seeds}

[dataset]
source = "synthetic"
box = 12
{dataset}

[split]
val_fraction = {val}

[train]
max_epochs = 1
batch_size = {batch}
lr = {lr}

[[arm]]
name = "a"
model = {model}
loss = {loss}
"""
DEFAULTS = {"name": '"b"', "seeds": "[0]", "dataset": "", "val": "0.1", "batch": "8",
            "lr": "0.001", "model": '"cnn"', "loss": '"ce"'}


def validate(tmp_path, **changes) -> tuple[int, str]:
    path = tmp_path / "b.toml"
    path.write_text(BASE.format(**{**DEFAULTS, **changes}))
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(("changes", "message"), [
    ({"lr": "nan"}, "train.lr: got nan, expected a finite number"),
    ({"dataset": "snr = inf"}, "dataset.snr: got inf, expected a finite number"),
    ({"seeds": "[0, 4294967296]"},
     "benchmark.seeds[1]: got 4294967296, expected an integer in [0, 4294967295]"),
    ({"batch": "1"}, "train.batch_size: got 1, expected an integer >= 2"),
    ({"name": '"../x"'}, "benchmark.name: name '../x' is a path; a file name is needed"),
    ({"name": '"/x"'}, "benchmark.name: name '/x' is a path"),
    ({"name": '""'}, "benchmark.name: name '' is empty"),
    ({"name": '"b.tuning"'}, "benchmark.name: name 'b.tuning' ends in 'tuning', the name of "
                             "a file kept beside the results"),
    ({"name": '"measured"'}, "benchmark.name: name 'measured' ends in 'measured'"),
    ({"name": '"a\\u0007b"'},
     "benchmark.name: name 'a\\x07b' contains control or invisible characters"),
    ({"name": '"a\\u2028b"'},
     "benchmark.name: name 'a\\u2028b' contains control or invisible characters"),
    ({"dataset": 'classes = ["ribosome", "nope"]'},
     "dataset.classes: unknown class of data source 'synthetic' 'nope'"),
    ({"dataset": "class_counts = { ribosome = 10, TRiC = 0 }"},
     "dataset.class_counts.TRiC: got 0, expected an integer >= 1"),
    ({"model": '{ name = "multipath", paths = ["conv3", "conv7"] }'},
     "arm[0].model.paths[1]: got 'conv7', expected one of 'conv3', 'conv5', 'dilated3', "
     "'factorised'"),
    ({"model": '{ name = "cnn", widths = [16, 32] }'},
     "arm[0].model.widths: got 2 items, expected a list of 3 integers >= 1"),
    ({"loss": '{ name = "weighted_ce", weights = [1.0, 2.0] }'},
     "arm[0].loss.weights: 2 values for 4 classes (proteasome_d, ribosome, TRiC, "
     "proteasome_s); give one per class"),
    ({"model": '{ name = "multipath", table3 = true }', "val": "0.0"},
     "arm[0].model.table3: chooses each class's path on the validation part, and [split] "
     "val_fraction = 0 leaves none; raise it"),
    ({"dataset": "[benchmark.x]"}, "unknown key in [benchmark] 'x'"),
])
def test_refused_with_one_line_naming_the_key(tmp_path, changes, message):
    code, stderr = validate(tmp_path, **changes)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert lines[0].startswith(f"error: {tmp_path / 'b.toml'}: ")


def test_mrc_classes_are_checked_from_the_label_file_before_any_work(tmp_path):
    (tmp_path / "labels.csv").write_text("path,label\nmissing1.mrc,ribosome\n"
                                         "missing2.mrc,TRiC\n")
    path = tmp_path / "b.toml"
    path.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "mrc"\npath = "labels.csv"\n'
                    'classes = ["ribosome", "proteasome"]\n[[arm]]\nname = "a"\nmodel = "cnn"\n')
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert ("dataset.classes: unknown class of data source 'mrc' 'proteasome'"
            in result.stderr)  # the particle files are never opened


def test_a_classical_model_refuses_settings_it_would_ignore(tmp_path):
    from cryobench import hookimpl
    from cryobench.config import parse_benchmark
    from cryobench.errors import ConfigError
    from cryobench.registry import Registry
    from tests.conftest import CentroidModel, ToySource

    class Plugin:
        @hookimpl
        def cryobench_register_models(self):
            return [CentroidModel]

        @hookimpl
        def cryobench_register_data_sources(self):
            return [ToySource]

    registry = Registry(plugins=[Plugin()])
    doc = {"benchmark": {"name": "b"}, "dataset": {"source": "toy"},
           "arm": [{"name": "a", "model": "centroid", "augment": "mixup"}]}
    with pytest.raises(ConfigError, match="arm\\[0\\].augment: model 'centroid' does not "
                                          "train on batches"):
        parse_benchmark(doc, registry)
    doc["arm"][0] = {"name": "a", "model": "centroid", "loss": "focal"}
    with pytest.raises(ConfigError, match="arm\\[0\\].loss: model 'centroid' does not "
                                          "train with a loss"):
        parse_benchmark(doc, registry)


def test_errors_in_a_profile_name_the_arm_as_written(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "synthetic"\n'
                    '[[arm]]\nname = "a"\nmodel = "cnn"\n'
                    '[[arm]]\nname = "b"\nmodel = "cnn"\nloss = { name = "focal", '
                    'gamma = nan }\n[profile.quick]\narms = ["b"]\n')
    result = CliRunner().invoke(app, ["validate", str(path), "--profile", "quick"])
    assert result.exit_code == 2 and "arm[1].loss.gamma: got nan" in result.stderr


PROFILED = """\
[benchmark]
name = "b"
[dataset]
source = "synthetic"
box = 12
[[arm]]
name = "a"
model = "cnn"
[profile.{name}]
{body}
"""


@pytest.mark.parametrize(("name", "body", "message"), [
    ('"../../evil"', 'train = { max_epochs = 1 }',
     "profile.../../evil: profile name '../../evil' is a path"),
    ('"x\\ny"', 'train = { max_epochs = 1 }', "contains control or invisible characters"),
    ("tuning", 'train = { max_epochs = 1 }',
     "profile.tuning: profile name 'tuning' ends in 'tuning', the name of a file kept"),
    ("quick", 'train = { lr = -1.0 }',
     "profile.quick.train.lr: got -1.0, expected a number >= 1e-12"),
    ("quick", 'arms = []', "profile.quick.arms: expected a non-empty list of arm names"),
    ("quick", 'arms = ["nope"]', "profile.quick.arms: unknown arm 'nope'"),
])
def test_every_profile_is_checked_even_when_not_selected(tmp_path, name, body, message):
    path = tmp_path / "b.toml"
    path.write_text(PROFILED.format(name=name, body=body))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_a_seed_given_twice_is_refused(tmp_path):
    code, stderr = validate(tmp_path, seeds="[0, 1, 0]")
    assert code == 2 and "benchmark.seeds[2]: 0 is given twice" in stderr


@pytest.mark.parametrize(("dataset", "message"), [
    ("scale = 0.001", "dataset: class 'proteasome_d' has 1 particles; this split"),
    ("class_counts = { ribosome = 10, TRiC = 10, proteasome_s = 10, proteasome_d = 10, "
     "proteasome_20s = 10 }",
     "dataset: the validation part (0.1 of the split: 4 particles) cannot hold one "
     "particle of each of the 5 classes"),
    ('classes = ["ribosome"]', "dataset.classes: needs at least two distinct class names"),
])
def test_a_split_the_data_cannot_make_is_found_before_any_work(tmp_path, dataset, message):
    code, stderr = validate(tmp_path, dataset=dataset)
    assert code == 2 and message in stderr, stderr


def test_a_data_set_with_one_class_is_refused(tmp_path):
    (tmp_path / "labels.csv").write_text("path,label\na.mrc,x\nb.mrc,x\n")
    path = tmp_path / "b.toml"
    path.write_text('[benchmark]\nname = "b"\n[dataset]\nsource = "mrc"\npath = "labels.csv"\n'
                    '[[arm]]\nname = "a"\nmodel = "cnn"\n')
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "dataset: the data set has 1 class (x); classifying needs at least two" in \
        result.stderr


def test_class_weights_that_are_all_zero_are_refused(tmp_path):
    code, stderr = validate(tmp_path, loss='{ name = "focal", alpha_values = [0.0, 0.0, '
                                          '0.0, 0.0] }')
    assert code == 2 and "arm[0].loss.alpha_values: every value is 0" in stderr


def test_a_profile_can_shrink_every_arms_components(tmp_path):
    from cryobench.config import load_benchmark
    from cryobench.registry import Registry

    body = PROFILED.format(name="quick", body='components = { ensemble = { members = 2 } }')
    body = body.replace('model = "cnn"\n', 'model = "cnn"\nensemble = { name = "bagging", '
                                           'members = 5 }\n[[arm]]\nname = "b"\nmodel = "cnn"\n')
    path = tmp_path / "b.toml"
    path.write_text(body)
    full = load_benchmark(path, Registry())
    quick = load_benchmark(path, Registry(), profile="quick")
    assert full.arms[0].ensemble.params["members"] == 5
    assert quick.arms[0].ensemble.params["members"] == 2
    assert quick.arms[1].ensemble.name == "none"  # declares no members: untouched
    path.write_text(body.replace("members = 2 }", "membres = 2 }"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "profile.quick.components.ensemble.membres: unknown parameter of the arms' " \
           "ensemble 'membres'; did you mean 'members'?" in result.stderr
    path.write_text(body.replace("members = 2 }", "members = 0 }"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert "profile.quick.components.ensemble.members: got 0" in result.stderr


def test_measure_trains_two_epochs_of_each_arm_once_for_the_estimate(tmp_path):
    import json

    from tests.test_cli import cli

    path = tmp_path / "m.toml"
    path.write_text('[benchmark]\nname = "m"\nseeds = [0, 1]\n'
                    '[dataset]\nsource = "synthetic"\nbox = 12\nvoxel_size = 4.0\n'
                    'class_counts = { TRiC = 12, ribosome = 12 }\n'
                    '[train]\nmax_epochs = 5\nbatch_size = 8\n'
                    '[[arm]]\nname = "cnn"\nmodel = { name = "cnn", widths = [4, 4, 4] }\n'
                    '[[arm]]\nname = "svm"\nmodel = "svm"\n')
    env = {"CRYOBENCH_CACHE_DIR": str(tmp_path / "cache")}
    results = tmp_path / "res"
    fresh = cli("validate", str(path), "--results", str(results), env=env)
    assert fresh.returncode == 0 and "not measured yet for 2 arm(s)" in fresh.stdout
    assert "--measure trains two epochs" in fresh.stdout
    measured = cli("validate", str(path), "--results", str(results), "--measure", env=env)
    assert measured.returncode == 0, measured.stderr
    assert "estimated: at most" in measured.stdout
    kept = results / "m.measured.jsonl"
    records = [json.loads(line) for line in kept.read_text().splitlines()]
    assert [(r["arm"], r["seed"], r["status"]) for r in records] == [("cnn", 0, "ok"),
                                                                      ("svm", 0, "ok")]
    assert records[0]["fit"]["epochs_run"] == 2
    # the network's second epoch; a model without epochs is its whole fit
    assert records[0]["timings"]["member_epoch_seconds"] > 0
    assert records[0]["timings"]["members"] == 1
    assert "member_epoch_seconds" not in records[1]["timings"]
    before = kept.read_text()
    again = cli("validate", str(path), "--results", str(results), "--measure", env=env)
    assert "estimated: at most" in again.stdout and kept.read_text() == before
    assert not (results / "m.jsonl").exists()  # not the run's results: none of its trials


CUT = """\
[benchmark]
name = "cut"
seeds = [0]
[dataset]
{dataset}
[split]
group = "tomogram"
test_fraction = 0.5
val_fraction = 0.3
[[arm]]
name = "a"
model = "cnn"
"""
STAR = ('source = "tomograms"\ncoordinates = "{set}/particles.star"\n'
        'tomograms = "{set}/tomograms"\nbox = 16\nclass_names = {{ "1" = "TRiC", "2" = "ribosome" }}\n')


def validate_cut(tmp_path, dataset: str, set_path) -> tuple[int, str, str]:
    path = tmp_path / "cut.toml"
    path.write_text(CUT.format(dataset=dataset.format(set=set_path)))
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.stdout, result.stderr


def test_tomograms_and_copick_sources_validate_with_a_split_by_tomogram(tmp_path, tomogram_set):
    code, out, err = validate_cut(tmp_path, STAR, tomogram_set)
    assert code == 0, err
    assert "split: holdout, whole tomograms" in out
    copick = ('source = "copick"\nproject = "{set}/copick/copick.json"\nvoxel_spacing = 13.68\n'
              'box = 16\nobjects = ["ribosome", "TRiC"]\n')
    code, out, err = validate_cut(tmp_path, copick, tomogram_set)
    assert code == 0, err
    assert not list((tmp_path).glob("**/volumes.npy"))  # nothing was cut


def test_bad_picks_are_found_by_validate_in_one_line(tmp_path, tomogram_set):
    star = (tomogram_set / "particles.star").read_text() + "TS_02 9999.0 0.0 0.0 1\n"
    (tmp_path / "particles.star").write_text(star)
    code, _, err = validate_cut(tmp_path, STAR.replace("{set}/particles.star",
                                                       f"{tmp_path}/particles.star"),
                                tomogram_set)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: {tmp_path / 'cut.toml'}: dataset: ")
    assert (f"{tmp_path / 'particles.star'} (line 29): particle at voxel x 763, y 32, z 16 "
            "lies outside tomogram 'TS_02' (64 x 64 x 32 voxels: x 0-63") in lines[0]
    copick = ('source = "copick"\nproject = "{set}/copick/copick.json"\nvoxel_spacing = 13.68\n'
              'box = 16\nobjects = ["ribosome", "TRiX"]\n')
    code, _, err = validate_cut(tmp_path, copick, tomogram_set)
    assert code == 2 and "unknown pickable object 'TRiX'; did you mean 'TRiC'?" in err


def test_a_split_by_tomogram_needs_a_source_that_knows_tomograms(tmp_path):
    code, _, err = validate_cut(tmp_path, 'source = "synthetic"\nbox = 12\n', None)
    assert code == 2
    assert ("split.group: data source 'synthetic' does not say which tomogram each particle "
            "comes from") in err


def test_too_few_tomograms_for_the_split_are_found_by_validate(tmp_path, tomogram_set):
    path = tmp_path / "cut.toml"
    path.write_text(CUT.format(dataset=STAR.format(set=tomogram_set)).replace(
        'test_fraction = 0.5', 'method = "kfold"\nfolds = 3'))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "split by tomogram: 2 tomograms cannot make 3 folds of whole tomograms" in result.stderr


def tiny_tomograms(folder, rows) -> None:
    """Two 32 x 32 x 16 tomograms and a CSV of ``rows`` (tomogram, x, y, z, label)."""
    import numpy as np

    from tests.data.conftest import write_mrc

    (folder / "tomos").mkdir(exist_ok=True)
    for name in ("TS_1", "TS_2"):
        write_mrc(folder / "tomos" / f"{name}.mrc", np.zeros((16, 32, 32)), 10.0)
    (folder / "picks.csv").write_text("tomogram,x,y,z,label\n" + "".join(
        f"{t},{x},{y},{z},{c}\n" for t, x, y, z, c in rows))


CSV_SOURCE = 'source = "tomograms"\ncoordinates = "picks.csv"\ntomograms = "tomos"\nbox = 8\n'


def test_every_fold_of_a_grouped_kfold_is_tried_by_validate(tmp_path):
    rows = [(t, 2 + 2 * i, 5, 8, "a") for t in ("TS_1", "TS_2") for i in range(10)]
    rows += [("TS_1", 3, 20, 8, "rare"), ("TS_2", 3, 20, 8, "rare"), ("TS_2", 9, 20, 8, "rare")]
    tiny_tomograms(tmp_path, rows)
    path = tmp_path / "cut.toml"
    path.write_text(CUT.format(dataset=CSV_SOURCE).replace(
        "test_fraction = 0.5", 'method = "kfold"\nfolds = 2'))
    result = CliRunner().invoke(app, ["validate", str(path)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert lines[0] == (
        f"error: {path}: dataset: class 'rare' has 1 particle in the training tomograms: the "
        "validation part, carved from them by stratification, needs at least 2 of each class; "
        "add particles of it to more tomograms, drop the class, or set val_fraction = 0 (at "
        "seed 0, fold 1; the splits before it can be made)")


def test_validate_states_the_real_test_share_of_whole_tomograms(tmp_path):
    rows = [(t, 2 + 2 * i, 5, 8, "a") for t, k in (("TS_1", 12), ("TS_2", 6)) for i in range(k)]
    rows += [(t, 3 + 3 * i, 20, 8, "b") for t, k in (("TS_1", 6), ("TS_2", 3)) for i in range(k)]
    tiny_tomograms(tmp_path, rows)
    path = tmp_path / "cut.toml"
    path.write_text(CUT.format(dataset=CSV_SOURCE).replace("seeds = [0]", "seeds = [0, 1]"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert ("test part: whole tomograms make its share of the particles 0.33 (seed 0), "
            "0.67 (seed 1), not 0.5") in out or (
            "0.67 (seed 0), 0.33 (seed 1), not 0.5") in out, out
