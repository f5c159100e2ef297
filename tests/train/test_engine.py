from __future__ import annotations

import numpy as np
import pytest
import torch

from cryobench.config import parse_benchmark
from cryobench.data.simulator.simulate import SimulationSpec, simulate
from cryobench.data.splits import holdout_split
from cryobench.registry import Registry
from cryobench.run.trial import TrialEnvironment, run_trial
from cryobench.run.plan import expand_trials

EASY = {"source": "synthetic", "box": 16, "voxel_size": 3.0, "snr": 10.0, "crowding": 0.0,
        "shift_nm": 1.0, "class_counts": {"TRiC": 30, "ribosome": 30, "proteasome_d": 30}}


def bench(arm: dict, epochs: int = 3, seeds=(0,), **train):
    doc = {"benchmark": {"name": "t", "seeds": list(seeds)}, "dataset": dict(EASY),
           "train": {"max_epochs": epochs, "patience": 0, "batch_size": 16, **train},
           "arm": [{"name": "a", **arm}]}
    return parse_benchmark(doc, Registry())


def env(tmp_path):
    return TrialEnvironment(Registry(), tmp_path, tmp_path / "cache")


def test_same_seed_same_numbers(tmp_path):
    trial = expand_trials(bench({"model": "cnn", "augment": ["mixup", "wedge_flip"]}, 2))[0]
    e = env(tmp_path)
    first, second = run_trial(trial, e), run_trial(trial, e)
    assert first.metrics == second.metrics
    assert first.confusion == second.confusion
    state = torch.random.get_rng_state()
    run_trial(trial, e)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched


@pytest.mark.slow
def test_multipath_stage1_then_stage2_learns_and_reuses_stage1(tmp_path):
    arm = {"model": {"name": "multipath", "stage1_epochs": 2}, "loss": "focal"}
    trial = expand_trials(bench(arm, epochs=10, lr=0.003))[0]
    e = env(tmp_path)
    result = run_trial(trial, e)
    assert result.metrics["macro_f1"] > 0.7  # chance is 1/3
    rows = result.report["stage1"]
    assert [r["class"] for r in rows] == ["TRiC", "ribosome", "proteasome_d"]
    assert [r["path"] for r in rows] == ["conv3", "conv5", "dilated3"]
    assert all(0 <= r["f1"] <= 1 and 0 <= r["gmean"] <= 1 for r in rows)
    assert result.fit["parts"]["stage1 TRiC conv3"]["epochs_run"] == 2
    cached = sorted((tmp_path / "cache" / "stage1").glob("*.pt"))
    assert len(cached) == 3
    # another arm on the same data and seed reuses the stage-1 weights instead of training
    other = expand_trials(bench({**arm, "loss": "ce"}, epochs=1, lr=0.003))[0]
    e2 = env(tmp_path)
    result2 = run_trial(other, e2)
    assert result2.fit["parts"] == {}  # every path came from the cache
    assert sorted((tmp_path / "cache" / "stage1").glob("*.pt")) == cached


@pytest.mark.slow
def test_every_arm_and_every_member_of_a_split_shares_one_stage_1(tmp_path):
    """``share_stage1``: one stage 1 per split, trained once on the unsampled split with
    the trial's seed and the recipe, whatever the sampler, the ensemble or its members'
    own seeds."""
    base = {"model": {"name": "multipath", "stage1_epochs": 1, "widths": [4, 4, 4]}}
    arms = [base, {**base, "ensemble": {"name": "bagging", "members": 2}},
            {**base, "ensemble": {"name": "boosting", "members": 2}},
            {**base, "sampler": "oversample", "ensemble": {"name": "bagging", "members": 2}}]
    e = env(tmp_path)
    trained = []
    for arm in arms:
        trial = expand_trials(bench(arm, epochs=1, lr=0.003, augment=["wedge_flip"]))[0]
        record = run_trial(trial, e)
        assert record.ok, record.error
        trained.append(_stage1_parts(record.fit))
        assert len(list((tmp_path / "cache" / "stage1").glob("*.pt"))) == 3  # one per class
    assert trained == [3, 0, 0, 0]  # the first trial trained the three paths, once
    # not shared: each member learns stage 1 from its own bag
    own = {**base, "ensemble": {"name": "bagging", "members": 2, "share_stage1": False}}
    record = run_trial(expand_trials(bench(own, epochs=1, lr=0.003, augment=["wedge_flip"]))[0], e)
    assert _stage1_parts(record.fit) == 6
    assert len(list((tmp_path / "cache" / "stage1").glob("*.pt"))) == 9


@pytest.mark.slow
def test_stage_1_trains_with_the_recipe_but_not_the_arms_own_augmentations(tmp_path):
    """The recipe keeps stage 1 from memorising its split; the arm's own augmentation
    (mixup) is its strategy: an arm with it trains stage 1 on the recipe alone, which
    the plain arm then reuses, and another recipe gets a stage 1 of its own."""
    from unittest import mock

    import cryobench.train.engine as engine

    base = {"model": {"name": "multipath", "stage1_epochs": 1, "widths": [4, 4, 4]}}
    recipe = ["wedge_flip", {"name": "shift", "max_shift": 1}]
    e = env(tmp_path)
    seen: list[list[str]] = []
    real_fit = engine._fit

    def spy(module, criterion, batches, val, context, epochs, augment, precision):
        seen.append([type(a).__name__ for a in context.augmentations] if augment else [])
        return real_fit(module, criterion, batches, val, context, epochs, augment, precision)

    with mock.patch.object(engine, "_fit", spy):
        mixed = run_trial(expand_trials(bench({**base, "augment": "mixup"}, epochs=1,
                                              augment=recipe))[0], e)
    assert mixed.ok, mixed.error
    stage1, stage2 = seen[:3], seen[3]
    assert stage1 == [["WedgeFlip", "Shift"]] * 3, seen  # the recipe, for every path
    assert stage2 == ["WedgeFlip", "Shift", "Mixup"]
    cached = sorted((tmp_path / "cache" / "stage1").glob("*.pt"))
    plain = run_trial(expand_trials(bench(base, epochs=1, augment=recipe))[0], e)
    assert plain.ok and _stage1_parts(plain.fit) == 0  # the mixup arm's stage 1
    assert sorted((tmp_path / "cache" / "stage1").glob("*.pt")) == cached
    other = run_trial(expand_trials(bench(base, epochs=1, augment=["wedge_flip"]))[0], e)
    assert other.ok and _stage1_parts(other.fit) == 3  # another recipe: its own stage 1


def _stage1_parts(fit: dict) -> int:
    """Stage-1 paths trained within a fit (a cached path reports nothing)."""
    parts = fit.get("parts", {})
    return (sum(name.startswith("stage1") for name in parts)
            + sum(_stage1_parts(part) for part in parts.values()))


def test_a_tried_configuration_trains_stage_2_with_it_on_the_files_stage_1(tmp_path):
    """Tuning ``train.lr`` tunes the multi-path CNN's stage 2, the part where strategies
    differ; every configuration reuses the stage 1 trained with the file's ``[train]``."""
    from cryobench.contract.components import fit_report_of
    from cryobench.run.trial import fit_trial

    arm = {"model": {"name": "multipath", "stage1_epochs": 1, "widths": [4, 4, 4]}}
    trial = expand_trials(bench(arm, epochs=1, lr=0.003))[0]
    e = env(tmp_path)
    tried = [fit_trial(trial, e, {"train.lr": lr}) for lr in (0.03, 0.0003)]
    assert len(list((tmp_path / "cache" / "stage1").glob("*.pt"))) == 3  # one per class
    assert fit_report_of(tried[1].predictor).as_dict()["parts"] == {}  # all from the cache
    val = tried[0].val.volumes
    assert not np.allclose(tried[0].predictor.predict_proba(val),
                           tried[1].predictor.predict_proba(val))  # stage 2: its own lr
    assert fit_report_of(fit_trial(trial, e).predictor).as_dict()["parts"] == {}


def test_trial_returns_plain_data(tmp_path):
    trial = expand_trials(bench({"model": "resnet3d", "sampler": "oversample",
                                 "loss": "logit_adjusted"}, 1))[0]
    r = run_trial(trial, env(tmp_path))
    import json

    json.dumps(r.to_json())  # plain data: crosses a process boundary and goes into a JSON file
    assert r.sizes["test"] == 18 and r.sizes["train_resampled"] == 3 * 22
    assert set(r.metrics) == {"macro_f1", "macro_gmean", "balanced_accuracy"}
    assert r.fit["samples_per_second"] > 0 and r.device == "cpu"
    assert np.array(r.confusion).sum() == 18
    # what the figures depend on beyond the seed (another CPU's kernels give others)
    import torch

    assert r.machine["torch"] == torch.__version__ and r.machine["cpu"]
    assert r.machine["cpu_isa"] == torch.backends.cpu.get_cpu_capability()
    assert r.machine["threads"] == str(trial.threads) and "gpu" not in r.machine


def test_splits_never_leak_into_training(tmp_path):
    data = simulate(SimulationSpec(class_counts={"TRiC": 20, "ribosome": 20}, box=8))
    split = holdout_split(data.labels, 0.2, 0.1, 0, data.class_names)
    ids = [set(data.source_ids[p]) for p in (split.train, split.val, split.test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]


def test_without_validation_the_last_epoch_is_kept(tmp_path):
    doc = {"benchmark": {"name": "t", "seeds": [0]}, "dataset": dict(EASY),
           "split": {"val_fraction": 0.0},
           "train": {"max_epochs": 3, "patience": 1, "batch_size": 16},
           "arm": [{"name": "a", "model": "cnn"}]}
    trial = expand_trials(parse_benchmark(doc, Registry()))[0]
    result = run_trial(trial, env(tmp_path))
    assert result.sizes["val"] == 0
    assert result.fit["epochs_run"] == 3 and result.fit["best_epoch"] == 3


def test_table3_trains_every_path_on_every_class_and_chooses_per_class(tmp_path):
    arm = {"model": {"name": "multipath", "paths": ["conv3", "dilated3"], "stage1_epochs": 1,
                     "table3": True}}
    trial = expand_trials(bench(arm, epochs=1))[0]
    result = run_trial(trial, env(tmp_path))
    rows = result.report["stage1"]
    assert len(rows) == 3 * 2  # three classes x two path kinds
    assert {(r["class"], r["path"]) for r in rows} == {
        (c, p) for c in ("TRiC", "ribosome", "proteasome_d") for p in ("conv3", "dilated3")}
    chosen = [r for r in rows if r["chosen"]]
    assert sorted(r["class"] for r in chosen) == ["TRiC", "proteasome_d", "ribosome"]
    assert len(list((tmp_path / "cache" / "stage1").glob("*.pt"))) == 6
    assert len(result.fit["parts"]) == 6


def tiny_context(**changes):
    from cryobench.contract.components import FitContext

    config = bench({"model": "cnn"}, epochs=6, patience=2).arms[0].train
    context = FitContext(num_classes=2, train=config,
                         loss=Registry().create("loss", "ce"), augmentations=[], seed=0)
    return context.replace(**changes)


def tiny_split(n: int = 16):
    from cryobench.data.subtomograms import Subtomograms

    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    volumes = rng.normal(size=(n, 8, 8, 8)).astype(np.float32) + labels[:, None, None, None]
    data = Subtomograms(volumes, labels, ("a", "b"), 1.0)
    return data, data.take(np.arange(min(n, 4)))


def small_cnn():
    from cryobench_models.networks import PathClassifier, SerialPath

    return PathClassifier(SerialPath("conv3", (2, 2, 2)), 2)


def test_early_stopping_restores_the_weights_of_the_best_epoch(monkeypatch):
    from cryobench.train import engine

    scores, snapshots = iter([0.2, 0.9, 0.3, 0.1, 0.8, 0.8]), []

    def scripted(module, val, device, batch_size, precision):
        snapshots.append({k: v.clone() for k, v in module.state_dict().items()})
        return {"val_macro_f1": next(scores), "val_loss": 1.0}

    monkeypatch.setattr(engine, "_validate", scripted)
    train, val = tiny_split()
    result = engine.train_module(small_cnn, train, val, tiny_context())
    assert result.best_epoch == 2 and result.best_val_f1 == 0.9
    assert result.epochs_run == 4  # patience 2: epochs 3 and 4 without a gain
    for name, tensor in result.module.state_dict().items():
        assert torch.equal(tensor, snapshots[1][name]), name
    assert not torch.equal(snapshots[1]["head.3.weight"], snapshots[3]["head.3.weight"])


def with_training(context, **changes):
    return context.replace(train=type(context.train)(**{**context.train.__dict__, **changes}))


def test_early_stopping_on_validation_loss_keeps_the_epoch_of_lowest_loss(monkeypatch):
    from cryobench.train import engine

    # F1 would pick epoch 4; the loss picks epoch 2 and stops two epochs later
    figures = iter([(0.2, 1.0), (0.3, 0.4), (0.5, 0.6), (0.9, 0.7), (0.9, 0.1)])
    monkeypatch.setattr(engine, "_validate", lambda *args: dict(
        zip(("val_macro_f1", "val_loss"), next(figures))))
    train, val = tiny_split()
    context = with_training(tiny_context(), monitor="val_loss")
    result = engine.train_module(small_cnn, train, val, context)
    assert (result.best_epoch, result.epochs_run, result.best_val_f1) == (2, 4, 0.3)
    assert [r["val_loss"] for r in result.history] == [1.0, 0.4, 0.6, 0.7]


def test_a_validation_loss_that_is_not_a_number_still_keeps_an_epoch(monkeypatch):
    from cryobench.train import engine

    figures = iter([(0.2, float("nan")), (0.3, float("inf")), (0.5, 0.9)])
    monkeypatch.setattr(engine, "_validate", lambda *args: dict(
        zip(("val_macro_f1", "val_loss"), next(figures))))
    train, val = tiny_split()
    context = with_training(tiny_context(), monitor="val_loss", max_epochs=3)
    result = engine.train_module(small_cnn, train, val, context)
    assert (result.best_epoch, result.best_val_f1) == (3, 0.5)


def test_restore_last_keeps_the_last_epochs_weights_and_a_fixed_budget_runs_every_epoch(
        monkeypatch):
    from cryobench.train import engine

    scores, snapshots = iter([0.9, 0.2, 0.1, 0.3]), []

    def scripted(module, val, device, batch_size, precision):
        snapshots.append({k: v.clone() for k, v in module.state_dict().items()})
        return {"val_macro_f1": next(scores), "val_loss": 1.0}

    monkeypatch.setattr(engine, "_validate", scripted)
    train, val = tiny_split()
    context = with_training(tiny_context(), patience=0, restore="last", max_epochs=4)
    result = engine.train_module(small_cnn, train, val, context)
    assert (result.best_epoch, result.epochs_run, result.best_val_f1) == (4, 4, 0.3)
    for name, tensor in result.module.state_dict().items():
        assert torch.equal(tensor, snapshots[3][name]), name


def test_the_validation_figures_are_real_macro_f1_and_cross_entropy():
    from sklearn.metrics import f1_score, log_loss

    from cryobench.train import engine

    train, val = tiny_split()
    module = small_cnn().eval()
    figures = engine._validate(module, val, torch.device("cpu"), 8, "float32")
    logits = engine.predict_logits(module, val.volumes, torch.device("cpu"), 8)
    p = torch.softmax(torch.from_numpy(logits).double(), 1).numpy()
    assert figures["val_loss"] == pytest.approx(log_loss(val.labels, p, labels=[0, 1]),
                                                rel=1e-5)
    assert figures["val_macro_f1"] == pytest.approx(f1_score(
        val.labels, logits.argmax(1), average="macro", labels=np.unique(val.labels)))


def test_a_model_that_took_no_step_fails_the_trial():
    from cryobench.errors import TrialFailed
    from cryobench.train import engine

    train, val = tiny_split(1)  # one particle: every batch is skipped (batch norm needs two)
    with pytest.raises(TrialFailed, match="no optimiser step in epoch 1: every mini-batch "
                                          "was skipped"):
        engine.train_module(small_cnn, train, val, tiny_context())


def test_a_diverged_loss_fails_the_trial_and_is_recorded_as_failed(tmp_path, monkeypatch):
    from rich.console import Console

    from cryobench import hookimpl
    from cryobench.contract.components import Loss
    from tests.conftest import run_locally
    from cryobench.run.results import ResultStore

    class Diverging(Loss):
        name = "diverging"
        summary = "test-only loss that becomes NaN"

        def build(self, class_counts):
            class Module(torch.nn.Module):
                def forward(self, logits, targets):
                    return (logits * targets).sum(-1) * float("nan")
            return Module()

    class Plugin:
        @hookimpl
        def cryobench_register_losses(self):
            return [Diverging]

    registry = Registry(plugins=[Plugin()])
    doc = {"benchmark": {"name": "t", "seeds": [0]}, "dataset": dict(EASY),
           "train": {"max_epochs": 2, "batch_size": 16},
           "arm": [{"name": "nan", "model": "cnn", "loss": "diverging"}]}
    store = ResultStore(tmp_path / "r.jsonl")
    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    records = run_locally(parse_benchmark(doc, registry), registry, store,
                        Console(record=True, width=120))
    assert records[0].status == "failed"
    assert records[0].error.startswith("the training loss is nan in epoch 1: training "
                                          "diverged")
    assert store.finished() == {}


def test_ldam_trains_a_cosine_head_and_waits_for_its_reweighting_phase(monkeypatch):
    from cryobench.train import engine
    from cryobench.train.heads import CosineLinear

    # without the phase, patience 1 would stop at epoch 2 and keep epoch 1's weights
    scores = iter([0.9, 0.1, 0.1, 0.1, 0.5, 0.4])
    monkeypatch.setattr(engine, "_validate",
                        lambda *args: {"val_macro_f1": next(scores), "val_loss": 1.0})
    ldam = Registry().create("loss", "ldam", {"drw_start": 0.6, "scale": 10.0})
    train, val = tiny_split()
    context = with_training(tiny_context(loss=ldam), patience=1)
    result = engine.train_module(small_cnn, train, val, context)
    assert isinstance(result.module.head[-1], CosineLinear)
    assert result.best_epoch == 5 and result.epochs_run == 6  # the phase starts at epoch 4
    logits = engine.predict_logits(result.module, train.volumes * 100, torch.device("cpu"), 8)
    assert np.abs(logits).max() <= 10.0 + 1e-4  # cosine logits: within the scale


def test_sample_weights_are_a_split_wide_weighted_mean_whatever_the_batch():
    """A particle's weight is its own: the epoch's loss is mean_i(w_i l_i) over the split
    with w scaled to mean 1 (per-batch normalising made a weight of 27 act as 14.9)."""
    from cryobench.specs import TrainConfig
    from cryobench.train import engine

    train, _ = tiny_split(8)
    weights = np.array([27.0, 1, 1, 1, 1, 1, 1, 1])
    config = TrainConfig(max_epochs=1, batch_size=4, optimizer="sgd", lr=0.0, weight_decay=0,
                         momentum=0, schedule="constant", patience=0, device="cpu",
                         eval_batch_size=8)
    context = tiny_context(sample_weight=weights, train=config)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8**3, 2))
    criterion = torch.nn.CrossEntropyLoss(reduction="none")
    batches = engine._Batches(train, context, torch.device("cpu"), False)
    total, count, steps = engine._train_epoch(module, criterion, torch.optim.SGD(
        module.parameters(), lr=0.0), batches, [], torch.Generator().manual_seed(0), "float32")
    with torch.no_grad():
        per_sample = criterion(module(torch.from_numpy(train.volumes)),
                               torch.from_numpy(train.labels)).numpy()
    expected = np.mean(weights / weights.mean() * per_sample)
    assert count == 8 and steps == 2
    assert total / count == pytest.approx(expected, rel=1e-5)


def test_mixup_mixes_the_weights_with_the_same_lambda():
    from cryobench.train.engine import split_weights, unweigh_targets, weigh_targets

    weights = split_weights(np.array([4.0, 1.0, 1.0, 2.0]), 4)
    assert weights.mean().item() == pytest.approx(1.0)
    targets = torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 1]), 2).float()
    mixup = Registry().create("augmentation", "mixup", {"alpha": 1.0})
    volumes = torch.randn(4, 1, 4, 4, 4)
    _, mixed = mixup.apply(volumes, weigh_targets(targets, weights),
                           torch.Generator().manual_seed(3))
    soft, mixed_weights = unweigh_targets(mixed)
    assert torch.allclose(soft.sum(1), torch.ones(4))
    assert mixed_weights.sum().item() == pytest.approx(4.0)  # lam w + (1 - lam) w[perm]
    assert not torch.allclose(mixed_weights, weights)


def test_stage1_sees_the_original_split_whatever_the_sampler(tmp_path):
    """The paths are identified on the imbalanced data: a baseline arm and an
    undersampling arm with one seed share their stage-1 cache entries."""
    model = {"name": "multipath", "stage1_epochs": 1, "widths": [4, 4, 4], "hidden": 8}
    plain = expand_trials(bench({"model": model}, epochs=1))[0]
    under = expand_trials(bench({"model": model, "sampler": "undersample"}, epochs=1))[0]
    assert plain.key != under.key
    first = run_trial(plain, env(tmp_path))
    cached = sorted((tmp_path / "cache" / "stage1").glob("*.pt"))
    assert len(cached) == 3 and len(first.fit["parts"]) == 3
    second = run_trial(under, env(tmp_path))
    assert second.fit["parts"] == {}  # every path came from the baseline's entries
    assert sorted((tmp_path / "cache" / "stage1").glob("*.pt")) == cached


def test_sample_weights_change_what_a_network_learns():
    """With SGD (Adam's first steps follow the gradient's sign, which weights may keep)."""
    from dataclasses import replace

    from cryobench.train import engine

    train, val = tiny_split(16)
    sgd = tiny_context()
    sgd = sgd.replace(train=replace(sgd.train, optimizer="sgd", lr=0.1))
    uniform = engine.train_module(small_cnn, train, val, sgd)
    skewed = engine.train_module(small_cnn, train, val, sgd.replace(
        sample_weight=np.where(train.labels == 0, 10.0, 0.1)))
    a, b = (r.module.state_dict()["head.3.weight"] for r in (uniform, skewed))
    assert not torch.allclose(a, b)


def test_a_loss_that_is_zero_from_the_start_fails_the_trial():
    from cryobench.errors import TrialFailed
    from cryobench.train import engine

    class Zero(torch.nn.Module):
        def forward(self, logits, targets):
            return (logits * 0.0).sum(-1)

    train, val = tiny_split()
    with pytest.raises(TrialFailed, match="the training loss is exactly 0 in epoch 1"):
        engine.train_module(small_cnn, train, val, tiny_context(), loss=Zero())
