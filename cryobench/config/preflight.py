"""The checks that touch the data or build components, before any work: a class subset
the source lacks, a split a class is too small for, a setup a component refuses. Tuning
runs :func:`first_refusal` on each configuration it is about to train."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryobench.config.reader import FileReader
from cryobench.contract.components import ArmSetup
from cryobench.errors import ConfigError, CryobenchError, ParamError, unknown_name_message
from cryobench.registry import Registry
from cryobench.specs import Arm, ComponentSpec, DatasetSpec, SplitConfig, with_values


def component_fields(arm: Any) -> list[tuple[str, ComponentSpec]]:
    """An arm's (or a trial's) components, each with the key it has in the file."""
    return [("model", arm.model), ("sampler", arm.sampler), ("loss", arm.loss),
            *[("augment", a) for a in arm.augment], ("ensemble", arm.ensemble),
            *[("train.augment", a) for a in arm.batch_recipe]]


def first_refusal(arm: Any, registry: Registry, setup: ArmSetup
                  ) -> tuple[str, ComponentSpec, ParamError] | None:
    """The first component that refuses ``setup`` (its ``check_setup``), with its field;
    building a component may raise a CryobenchError (a broken plugin)."""
    for field_, spec in component_fields(arm):
        try:
            spec.build(registry).check_setup(setup)
        except ParamError as exc:
            return field_, spec, exc
    return None


def check_setup(reader: FileReader, key: str, arm: Arm, setup: ArmSetup) -> None:
    """Each component's own refusal of a setup it cannot work in, as this file's error."""
    for field_, spec in component_fields(arm):
        reader.fail_as(f"{key}.{field_}", lambda: spec.build(reader.registry))
    refused = first_refusal(arm, reader.registry, setup)
    if refused is not None:
        field_, _, exc = refused
        reader.fail(f"{key}.{field_}" + (f".{exc.param}" if exc.param else ""), exc.problem)


def check_datasets(reader: FileReader, key: str, where: str, arm: Arm, split: SplitConfig,
                   dimension_keys: Mapping[str, str]) -> None:
    """Each class subset of the arm: its classes exist, the split can be made, and every
    component (and each tuned dimension's ends) accepts the setup."""
    for subset in arm.datasets:
        counts = subset_counts(reader, where, subset)
        if counts is not None:
            check_split(reader, where, counts, split,
                        subset_tomograms(reader, where, subset, split))
        check_setup(reader, key, arm, ArmSetup(arm.capabilities, split, arm.train, counts))
        check_tuned_setups(reader, key, arm, split, counts, dimension_keys)


def check_tuned_setups(reader: FileReader, key: str, arm: Arm, split: SplitConfig,
                       counts: dict[str, int] | None,
                       dimension_keys: Mapping[str, str]) -> None:
    """Each dimension's ends, one at a time, through the components' own checks: a range
    that reaches a value the component refuses is found now (combinations are checked
    by each configuration before it trains). ``dimension_keys``: where the file gives
    each of this arm's dimensions."""
    for dim in arm.tune.space if arm.tune else ():
        for value in dim.values:  # the bounds, or every choice
            variant = with_values(arm, {dim.target: value})
            try:
                check_setup(reader, key, variant, ArmSetup(arm.capabilities, split,
                                                           variant.train, counts))
            except ConfigError as exc:
                reader.fail(dimension_keys.get(dim.target, f"tune.space.{dim.target}"),
                            f"{dim.target} = {value!r} is refused: {exc.message}")


def subset_counts(reader: FileReader, key: str, subset: DatasetSpec
                  ) -> dict[str, int] | None:
    """The subset's class counts when the source can tell; its classes must exist."""
    if reader.class_counts is None:
        return None
    class_counts = reader.class_counts
    counts = reader.fail_as(key, lambda: class_counts(subset.source))
    if counts is None:
        return None
    for name in subset.classes or ():
        if name not in counts:
            reader.fail(f"{key}.classes", unknown_name_message(
                f"class of data source {subset.source.name!r}", name, counts))
    if subset.classes:
        counts = {name: counts[name] for name in subset.classes}
    if len(counts) < 2:
        reader.fail(key, f"the data set has {len(counts)} class ({', '.join(counts)}); "
                         "classifying needs at least two")
    return counts


def subset_tomograms(reader: FileReader, key: str, subset: DatasetSpec,
                     split: SplitConfig) -> dict[str, dict[str, int]] | None:
    """Per tomogram, the subset's class counts, when the split keeps tomograms apart."""
    if split.group != "tomogram" or reader.tomogram_counts is None:
        return None
    tomogram_counts = reader.tomogram_counts
    found = reader.fail_as(key, lambda: tomogram_counts(subset.source))
    if found is None:
        reader.fail("split.group", f"data source {subset.source.name!r} does not say which "
                                   "tomogram each particle comes from; remove group, or use "
                                   "a source that cuts tomograms (tomograms, copick)")
    keep = subset.classes or None
    return {tomo: {c: n for c, n in by_class.items() if keep is None or c in keep}
            for tomo, by_class in found.items()}


def check_split(reader: FileReader, key: str, counts: dict[str, int], split: SplitConfig,
                tomograms: dict[str, dict[str, int]] | None = None) -> None:
    """Every split a run will make (each seed, each fold), tried on the class counts (and,
    split by tomogram, on each tomogram's): a class too small for any of them is found
    now, not after the data is simulated or read, nor in the middle of a run."""
    from cryobench.data.splits import holdout_split, kfold_split

    names = tuple(counts)
    labels, groups = particles_of(counts, tomograms)
    folds = range(split.folds) if split.method == "kfold" else (None,)
    tried = 0
    for seed in dict.fromkeys(reader.seeds):
        for fold in folds:
            try:
                if fold is not None:
                    kfold_split(labels, split.folds, fold, split.val_fraction, seed, names,
                                groups)
                else:
                    holdout_split(labels, split.test_fraction, split.val_fraction, seed,
                                  names, groups)
            except (CryobenchError, ValueError) as exc:  # ValueError: scikit-learn's
                text = str(exc).strip()
                first = text.splitlines()[0] if text else (
                    f"the split cannot be made ({type(exc).__name__})")
                which = f"seed {seed}" + (f", fold {fold}" if fold is not None else "")
                reader.fail(key, first + (f" (at {which}; the splits before it can be made)"
                                          if tried else ""))
            tried += 1


def particles_of(counts: Mapping[str, int], tomograms: Mapping[str, Mapping[str, int]] | None
                 ) -> tuple[Any, Any]:
    """Labels (and tomograms) of particles with these counts, as a split sees them."""
    import numpy as np

    names = tuple(counts)
    if tomograms is None:
        return np.repeat(np.arange(len(counts)), list(counts.values())), None
    pairs = [(names.index(c), t) for t, by_class in tomograms.items()
             for c, n in by_class.items() if c in names for _ in range(n)]
    return (np.array([c for c, _ in pairs], dtype=np.int64),
            np.array([t for _, t in pairs], dtype=object))


def grouped_test_shares(tomograms: Mapping[str, Mapping[str, int]], split: SplitConfig,
                        seeds: tuple[int, ...]) -> dict[int, float]:
    """Each seed's test share of the particles when the test part is whole tomograms
    (a holdout split by tomogram), which may differ from ``test_fraction``."""
    from cryobench.data.splits import holdout_split

    counts: dict[str, int] = {}
    for by_class in tomograms.values():
        for c, n in by_class.items():
            counts[c] = counts.get(c, 0) + n
    labels, groups = particles_of(counts, tomograms)
    return {seed: len(holdout_split(labels, split.test_fraction, split.val_fraction, seed,
                                    tuple(counts), groups).test) / len(labels)
            for seed in dict.fromkeys(seeds)}
