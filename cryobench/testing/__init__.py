"""Conformance checks a plugin author runs on a component class.

In the manner of imbalanced-learn's estimator checks: the checks that apply follow from
the class's kind and what it declares, each runs on tiny data in a second or two, and a
failure says which promise of the contract (docs/writing-plugins.md) is broken::

    from cryobench.testing import check_component

    def test_my_loss():
        check_component(Poly1Loss)

or, one test per check::

    @pytest.mark.parametrize("check", yield_checks(Poly1Loss), ids=str)
    def test_my_loss(check):
        check()

``params`` gives the parameters to build the component with (the declared defaults
otherwise), e.g. to keep a model's check small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryobench.contract.components import Augmentation, DataSource, Ensemble, Loss, Model, Sampler
from cryobench.testing.doubles import (
    TINY_TRAINING, Centroid, CrossEntropy, build, tiny_context, tiny_data,
)
from cryobench.testing.kinds import (
    check_augmentation_output, check_augmentation_seeded, check_declaration,
    check_init_only_stores, check_loss_soft_targets, check_sampler_output, check_sampler_seeded,
)
from cryobench.testing.models import (
    check_ensemble_predicts, check_model_predicts, check_model_seeded, declaration_checks,
)
from cryobench.testing.sources import check_data_source

@dataclass(frozen=True)
class Check:
    """One named check of one component class; call it to run it."""

    name: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()

    def __str__(self) -> str:
        return self.name


def check_component(cls: type, params: dict[str, Any] | None = None, **context: Any) -> None:
    """Run every check that applies to ``cls``; an ``AssertionError`` names the one that
    failed. ``context`` goes to data-source checks (``base_dir``, ``cache_dir``)."""
    for check in yield_checks(cls, params, **context):
        check()


def yield_checks(cls: type, params: dict[str, Any] | None = None, **context: Any
                 ) -> list[Check]:
    """The checks for ``cls``: the shared ones, then those of its kind."""
    params = dict(params or {})
    checks = [Check(f"{cls.__name__}: {f.__name__}", _bind(f, cls, params))
              for f in (check_declaration, check_init_only_stores)]
    kind_checks: dict[type, tuple[Callable[..., None], ...]] = {
        Sampler: (check_sampler_output, check_sampler_seeded),
        Loss: (check_loss_soft_targets,),
        Augmentation: (check_augmentation_output, check_augmentation_seeded),
        Model: (check_model_predicts, check_model_seeded, *declaration_checks(cls)),
        Ensemble: (check_ensemble_predicts,),
        DataSource: (check_data_source,),
    }
    for base, functions in kind_checks.items():
        if isinstance(cls, type) and issubclass(cls, base):
            extra = context if base is DataSource else {}
            checks += [Check(f"{cls.__name__}: {f.__name__}", _bind(f, cls, params, **extra))
                       for f in functions]
    return checks


def _bind(function: Callable[..., None], *args: Any, **kwargs: Any) -> Callable[[], None]:
    return lambda: function(*args, **kwargs)


__all__ = ["Check", "check_component", "yield_checks", "build", "tiny_data", "tiny_context",
           "TINY_TRAINING", "Centroid", "CrossEntropy"]
