"""The ``[tune]`` table: a search space over declared parameters and the budget every arm
shares, checked against each arm's components before anything runs.

``"train.lr" = { loguniform = [1e-4, 1e-2] }`` names a field of the arm (``train``,
``model``, ``sampler``, ``loss``, ``augment``, ``ensemble``) and one of its declared
parameters; the sampler's bounds and choices are validated by that parameter's
:class:`~cryobench.contract.params.Param`, so a range the component would refuse is refused here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, NoReturn

from cryobench.errors import ParamError, unknown_name_message
from cryobench.contract.params import SEED_MAX, Param
from cryobench.specs import Arm, SearchDimension, TuneSpec, values_of

TUNE_PARAMS = (
    Param("configurations", int, 8, "configurations sampled per arm, class subset and seed",
          low=1, high=10_000),
    Param("max_epochs", int, None, "epochs one configuration trains at most (default: "
          "[train] max_epochs)", low=1, nullable=True),
    Param("scheduler", str, "asha", "'asha' stops poor configurations early; 'fifo' "
          "trains every one to the end", choices=("asha", "fifo")),
    Param("grace_period", int, 2, "epochs every configuration trains before ASHA may stop "
          "it", low=1),
    Param("reduction_factor", int, 3, "ASHA keeps the best 1/reduction_factor at each rung",
          low=2),
    Param("seed", int, 0, "seed of the search (which configurations are sampled)", low=0,
          high=SEED_MAX),
    Param("include_file_values", bool, True, "the arm's values as the file gives them are "
          "its first configuration (one of the budget), so tuning chooses nothing that "
          "scored below them on validation (unless ASHA stopped them, with several "
          "configurations at once)"),
)
BUDGET_KEYS = tuple(p.name for p in TUNE_PARAMS)
KINDS = ("uniform", "loguniform", "randint", "choice")
FIELDS = ("train", "model", "sampler", "loss", "augment", "ensemble")
#: [train] settings that are not the method's to tune
UNTUNABLE = {
    "max_epochs": "the tuning budget sets it: [tune] max_epochs",
    "device": "it is where training runs, not how",
    "eval_batch_size": "it does not change what is learnt",
    "precision": "it is how this hardware computes, chosen once for the run",
}

Fail = Callable[[str, str], NoReturn]
#: the declared parameters of one field of an arm: field -> [(component name, params)]
Declared = dict[str, list[tuple[str, tuple[Param, ...]]]]


def parse_space(key: str, table: Any, fail: Fail) -> dict[str, SearchDimension]:
    """``{target: {kind: values}}`` read into dimensions, shapes checked; whether an arm
    declares the target is checked per arm (:func:`arm_space`)."""
    if not isinstance(table, dict):
        fail(key, f"expected a table of \"<field>.<parameter>\" = {{ kind = [...] }}, got "
                  f"{table!r}")
    out = {}
    for target, spec in table.items():
        where = f"{key}.{target}"
        field_, dot, param = target.partition(".")
        if not dot or not param or "." in param:
            fail(where, "name a field and one of its parameters, e.g. \"train.lr\" or "
                        "\"loss.gamma\"")
        if field_ not in FIELDS:
            fail(where, unknown_name_message("field", field_, FIELDS))
        if field_ == "train" and param in UNTUNABLE:
            fail(where, f"train.{param} cannot be tuned: {UNTUNABLE[param]}")
        if not (isinstance(spec, dict) and len(spec) == 1):
            fail(where, f"expected one sampler, e.g. {{ loguniform = [1e-4, 1e-2] }} "
                        f"({', '.join(KINDS)}), got {spec!r}")
        kind, values = next(iter(spec.items()))
        if kind not in KINDS:
            fail(where, unknown_name_message("sampler", kind, KINDS))
        out[target] = SearchDimension(target, kind, _values(f"{where}.{kind}", kind, values,
                                                            fail))
    return out


def _values(key: str, kind: str, values: Any, fail: Fail) -> tuple[Any, ...]:
    if kind == "choice":
        if not isinstance(values, list) or len(values) < 2:
            fail(key, f"expected a list of at least two values, got {values!r}")
        if any(v in values[:i] for i, v in enumerate(values)):
            fail(key, "a value is given twice")
        return tuple(values)
    number = int if kind == "randint" else (int, float)
    if not (isinstance(values, list) and len(values) == 2 and all(
            isinstance(v, number) and not isinstance(v, bool) for v in values)):
        what = "integers" if kind == "randint" else "numbers"
        fail(key, f"expected [low, high], two {what}, got {values!r}")
    low, high = values
    if not all(math.isfinite(v) for v in values):
        fail(key, f"expected finite bounds, got {values!r}")
    if not low < high:
        fail(key, f"the low bound {low!r} must be below the high bound {high!r}")
    if kind == "loguniform" and low <= 0:
        fail(key, f"a log-uniform range needs a low bound above 0, got {low!r}")
    return (low, high)


def declared_params(arm: Arm, registry: Any, train_params: tuple[Param, ...]) -> Declared:
    """What each field of the arm declares; ``train`` only when its model trains with it."""
    declared: Declared = {"train": [("train", train_params)] if arm.capabilities.uses_train
                          else []}
    for field_ in FIELDS[1:]:
        specs = arm.augment if field_ == "augment" else (getattr(arm, field_),)
        declared[field_] = [(s.name, registry.get(s.kind, s.name).params) for s in specs]
    return declared


def arm_space(key: str, dims: dict[str, SearchDimension], declared: Declared, fail: Fail,
              required: bool) -> tuple[SearchDimension, ...]:
    """The dimensions this arm's components declare, each checked against its parameter.

    ``required``: every dimension must apply (the arm's own space); otherwise the ones
    that do not are left out (a benchmark-wide ``loss.gamma`` skips an arm whose loss has
    none)."""
    out = []
    for target, dim in dims.items():
        owners = [(name, p) for name, params in declared[dim.field] for p in params
                  if p.name == dim.param]
        if not owners:
            if required:
                names = {p.name for _, params in declared[dim.field] for p in params}
                fail(f"{key}.{target}", unknown_name_message(
                    f"parameter of this arm's {dim.field}", dim.param, names)
                    if names else f"this arm's model does not train with [{dim.field}] "
                                  "settings, so there is nothing to tune")
            continue
        if len(owners) > 1:
            fail(f"{key}.{target}", f"several of the arm's augmentations declare "
                                    f"{dim.param!r} ({', '.join(n for n, _ in owners)}); "
                                    "tune an arm with one of them")
        check_dimension(f"{key}.{target}", dim, owners[0][1], fail)
        out.append(dim)
    return tuple(out)


def check_dimension(key: str, dim: SearchDimension, param: Param, fail: Fail) -> None:
    """The sampler fits the parameter's type, and every value it can give is allowed."""
    if param.type in (list, dict):
        fail(key, f"{dim.target} is {param.allowed()}; only single values can be tuned")
    if dim.kind in ("uniform", "loguniform") and param.type is not float:
        fail(key, f"{dim.target} is {param.allowed()}: use "
                  + ("randint or choice" if param.type is int else "choice"))
    if dim.kind == "randint" and param.type is not int:
        fail(key, f"{dim.target} is {param.allowed()}: use "
                  + ("uniform or loguniform" if param.type is float else "choice"))
    for i, value in enumerate(dim.values):
        where = f"{key}.{dim.kind}" + (f"[{i}]" if dim.kind == "choice" else "")
        try:
            param.validate(value)
        except ParamError as exc:
            fail(where, f"{dim.target} {exc.problem}")


def is_whole_grid(space: tuple[SearchDimension, ...], configurations: int) -> bool:
    """A space of choices only, no larger than the budget: tried whole, each combination
    once (random draws would repeat some and miss others)."""
    return all(d.kind == "choice" for d in space) and \
        math.prod(len(d.values) for d in space) <= configurations


def configurations_tried(space: tuple[SearchDimension, ...], configurations: int) -> int:
    """How many configurations a search trains: a grid tried whole has its own size,
    at most the budget."""
    if is_whole_grid(space, configurations):
        return math.prod(len(d.values) for d in space)
    return configurations


def tune_spec(space: tuple[SearchDimension, ...], budget: dict[str, Any],
              arm: Arm) -> TuneSpec | None:
    """The arm's search, or ``None`` when nothing of its space applies to it. Dimensions
    are sorted by name: a search samples them in order, so the same space written in another
    order samples the same configurations (and has the same trial key)."""
    if not space:
        return None
    space = tuple(sorted(space, key=lambda d: d.target))
    # a grid tried whole is the set of configurations as written, the file's values or not
    first = values_of(arm, [d.target for d in space]) if budget["include_file_values"] \
        and not is_whole_grid(space, budget["configurations"]) else {}
    return TuneSpec(space=space, first=tuple(first.items()),
                    configurations=budget["configurations"],
                    max_epochs=budget["max_epochs"] or arm.train.max_epochs,
                    scheduler=budget["scheduler"], grace_period=budget["grace_period"],
                    reduction_factor=budget["reduction_factor"], seed=budget["seed"])


def sample_configurations(spec: TuneSpec) -> list[dict[str, Any]]:
    """The configurations a search trains, in order: a grid tried whole (the first
    dimension varying fastest), or the file's own values (when kept) and then draws
    seeded by ``spec.seed``, each dimension in name order.

    Every executor tries these, so a search run in this process or on a Ray cluster
    tries the same; they are the draws Ray Tune's ``BasicVariantGenerator`` makes from
    the same space and seed (tested), so searches recorded before keep their meaning."""
    import numpy as np

    if is_whole_grid(spec.space, spec.configurations):
        names = [d.target for d in reversed(spec.space)]
        combinations = itertools.product(*(d.values for d in reversed(spec.space)))
        return [dict(zip(names, values)) for values in combinations]
    rng = np.random.default_rng(spec.seed)
    out = [dict(spec.first)] if spec.first else []
    while len(out) < spec.configurations:
        out.append({d.target: _draw(d, rng) for d in spec.space})
    return out


def _draw(dim: SearchDimension, rng: Any) -> Any:
    """One value of a dimension (one call on the generator each, as Tune makes it)."""
    import numpy as np

    if dim.kind == "uniform":
        return float(rng.uniform(dim.values[0], dim.values[1], size=1)[0])
    if dim.kind == "loguniform":
        low, high = np.log(dim.values[0]), np.log(dim.values[1])
        return float(np.exp(rng.uniform(low, high, size=1))[0])
    if dim.kind == "randint":  # both bounds inclusive
        return int(rng.integers(dim.values[0], dim.values[1] + 1, size=1)[0])
    return dim.values[int(rng.choice(np.arange(len(dim.values)), size=1)[0])]
