"""Checks of models (and of what they declare) and of ensembles.

Declared capabilities decide what enters the trial key: a model that says it ignores
[train] but reads it would have its stale results reused. Each declaration that leaves
something out of the key is proved by changing that thing and seeing nothing change;
``sample_weight = True`` is proved by weights changing the result."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from cryobench.contract.components import Capabilities
from cryobench.contract.records import EpochRecord, numbered_networks
from cryobench.testing.doubles import (
    TINY_TRAINING, EpochReportingCentroid, Noise, WeightedCrossEntropy, build, check_probabilities,
    global_random_states, tiny_context, tiny_data,
)


def _fit_and_predict(cls: type, params: dict[str, Any], seed: int) -> np.ndarray:
    data = tiny_data(classes=3, n=30)
    train, val, test = data.take(np.arange(18)), data.take(np.arange(18, 24)), \
        data.take(np.arange(24, 30))
    predictor = build(cls, params).fit(train, val, tiny_context(3, seed))
    return check_probabilities(predictor.predict_proba(test.volumes), len(test), 3,
                                cls.__name__)


def check_model_predicts(cls: type, params: dict[str, Any]) -> None:
    """``fit`` returns a predictor whose ``predict_proba`` gives one probability row per
    particle."""
    _fit_and_predict(cls, params, seed=0)


def check_model_seeded(cls: type, params: dict[str, Any]) -> None:
    """The same seed gives the same probabilities (on the CPU), and global random state
    is left alone."""
    first = _fit_and_predict(cls, params, seed=1)
    states = global_random_states()  # after a first fit: imports may draw (rich does)
    second = _fit_and_predict(cls, params, seed=1)
    assert global_random_states() == states, "fit used global random state"
    assert np.allclose(first, second, atol=1e-6), "the same seed gave other probabilities"


def declaration_checks(cls: type) -> tuple[Callable[..., None], ...]:
    caps = getattr(cls, "capabilities", None)
    if not isinstance(caps, Capabilities):
        return ()
    return tuple(check for flag, check in (
        (not caps.uses_train, check_model_ignores_train),
        (not caps.uses_loss, check_model_ignores_loss),
        (not caps.uses_augmentations, check_model_ignores_augmentations),
        (not caps.thread_dependent, check_model_ignores_threads),
        (caps.sample_weight, check_model_honours_sample_weight),
    ) if flag)


def _declared_fit(cls: type, params: dict[str, Any], **changes: Any) -> np.ndarray:
    data = tiny_data(classes=3, n=30)
    train, val, test = data.take(np.arange(18)), data.take(np.arange(18, 24)), \
        data.take(np.arange(24, 30))
    context = tiny_context(3, seed=2).replace(**changes)
    return check_probabilities(build(cls, params).fit(train, val, context).predict_proba(
        test.volumes), len(test), 3, cls.__name__)


def check_model_ignores_train(cls: type, params: dict[str, Any]) -> None:
    """Declared ``uses_train=False``: another learning rate, epoch count and batch size
    give the same probabilities."""
    from dataclasses import replace

    other = replace(TINY_TRAINING, lr=0.1, max_epochs=2, batch_size=4, optimizer="sgd")
    assert np.allclose(_declared_fit(cls, params), _declared_fit(cls, params, train=other),
                       atol=1e-6), "declares uses_train=False, but [train] changed its " \
                                   "probabilities: declare uses_train=True"


def check_model_ignores_loss(cls: type, params: dict[str, Any]) -> None:
    """Declared ``uses_loss=False``: another loss gives the same probabilities."""
    assert np.allclose(_declared_fit(cls, params),
                       _declared_fit(cls, params, loss=WeightedCrossEntropy()), atol=1e-6), \
        "declares uses_loss=False, but the loss changed its probabilities: declare " \
        "uses_loss=True"


def check_model_ignores_augmentations(cls: type, params: dict[str, Any]) -> None:
    """Declared ``uses_augmentations=False``: an augmentation changes nothing."""
    assert np.allclose(_declared_fit(cls, params),
                       _declared_fit(cls, params, augmentations=[Noise()]), atol=1e-6), \
        "declares uses_augmentations=False, but an augmentation changed its probabilities:" \
        " declare uses_augmentations=True"


def check_model_ignores_threads(cls: type, params: dict[str, Any]) -> None:
    """Declared ``thread_dependent=False``: one thread and two give the same numbers,
    told through ``FitContext.threads`` and set on the process's thread pools (BLAS,
    OpenMP, torch), which a model that ignores the context still computes with."""
    assert np.array_equal(_fit_on_threads(cls, params, 1), _fit_on_threads(cls, params, 2)), \
        "declares thread_dependent=False, but 1 and 2 threads gave other probabilities: " \
        "declare thread_dependent=True"


def _fit_on_threads(cls: type, params: dict[str, Any], threads: int) -> np.ndarray:
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    try:
        with threadpool_limits(limits=threads):
            torch.set_num_threads(threads)
            return _declared_fit(cls, params, threads=threads)
    finally:
        torch.set_num_threads(before)


def check_model_honours_sample_weight(cls: type, params: dict[str, Any]) -> None:
    """Declared ``sample_weight=True`` (boosting relies on it): weights that all but
    remove two thirds of the particles (of every class) change the probabilities."""
    weights = np.where(np.arange(18) % 3 == 0, 1.0, 1e-3)
    plain = _declared_fit(cls, params)
    weighted = _declared_fit(cls, params, sample_weight=weights)
    assert not np.allclose(plain, weighted, atol=1e-4), \
        "declares sample_weight=True, but FitContext.sample_weight changed nothing: " \
        "honour it or declare sample_weight=False"


def check_ensemble_predicts(cls: type, params: dict[str, Any]) -> None:
    """``fit(model, ...)`` trains through the model's own ``fit`` and returns a predictor
    of valid probabilities; the same seed gives the same ones; the context it was given
    is not changed."""
    data = tiny_data(classes=3, n=30)
    train, val, test = data.take(np.arange(18)), data.take(np.arange(18, 24)), \
        data.take(np.arange(24, 30))
    outputs = []
    for _ in range(2):
        given: list[Any] = []  # what the ensemble passed on, and what the core made of it
        seen: list[Any] = []
        numbered = numbered_networks(seen.append)

        def on_epoch(record: Any) -> None:
            given.append(record)
            numbered(record)

        context = tiny_context(3, seed=4).replace(on_epoch=on_epoch)
        before = copy.copy(context.__dict__)
        predictor = build(cls, params).fit(EpochReportingCentroid(), train, val, context)
        assert context.__dict__ == before, "fit changed the context it was given"
        _check_epoch_reports(given, seen)
        outputs.append(check_probabilities(predictor.predict_proba(test.volumes), len(test),
                                            3, cls.__name__))
    assert np.allclose(outputs[0], outputs[1]), "the same seed gave other probabilities"


def _check_epoch_reports(given: list[Any], seen: list[Any]) -> None:
    """What the ensemble passed on of its members' epochs: EpochRecords (a member's tag
    through ``record.for_member``), every network numbered from 1 on."""
    assert given, "the members' epochs never reached context.on_epoch: pass the " \
                  "context's on_epoch on to each member (context.replace(...))"
    wrong = [r for r in given if not isinstance(r, EpochRecord)]
    assert not wrong, f"context.on_epoch was given {type(wrong[0]).__name__}s: give " \
                      "cryobench.api.EpochRecord (tag members with record.for_member)"
    members = sorted({r.member for r in seen})
    assert members == list(range(1, len(members) + 1)), \
        f"networks numbered {members}: number members from 1, one after another"
