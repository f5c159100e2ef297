"""Reading a benchmark file: TOML, every profile checked, one :class:`Benchmark` back."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryobench.config.arms import arms as read_arms
from cryobench.config.arms import dataset, train_config, without_recipe
from cryobench.config.profiles import (
    apply_profile, as_profile_error, check_overrides_used, component_overrides,
)
from cryobench.config.reader import FileReader
from cryobench.config.reference import reference, reference_paths, report_table
from cryobench.config.schema import (
    BENCHMARK_PARAMS, PROFILE_KEYS, RESOURCE_PARAMS, SPLIT_PARAMS, TOP_LEVEL, TRAIN_PARAMS,
    ClassCounts, TomogramCounts,
)
from cryobench.config.sweep import sweep
from cryobench.config.tune import (
    DEFAULT_SCHEDULER, check_fifo_keys, check_space_used, tune_table,
)
from cryobench.errors import ConfigError, unknown_name_message
from cryobench.files import read_text
from cryobench.registry import Registry
from cryobench.specs import Benchmark, ComponentSpec, Resources, SplitConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def load_benchmark(path: str | Path, registry: Registry, profile: str | None = None, *,
                   inspect_data: bool = True) -> Benchmark:
    """Read, apply a profile, and validate a benchmark file.

    With ``inspect_data``, data sources that can tell their classes cheaply (a label
    file, the simulator's parameters) are asked, so that class subsets and per-class
    needs are checked before any work.
    """
    path = Path(path)
    text = read_text(path, "a benchmark file")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(path, "", "not a benchmark file: its tables or arrays nest too "
                                    "deeply to read") from None
    counts = source_class_counts(registry, path.parent) if inspect_data else None
    tomograms = source_tomogram_counts(registry, path.parent) if inspect_data else None
    return parse_benchmark(raw, registry, path=path, profile=profile, class_counts=counts,
                           tomogram_counts=tomograms)


def source_class_counts(registry: Registry, base_dir: Path) -> ClassCounts:
    """Ask each distinct data source once for its class counts."""
    return _ask_each_source(registry, base_dir, "count_classes")


def source_tomogram_counts(registry: Registry, base_dir: Path) -> TomogramCounts:
    """Ask each distinct data source once which tomograms its particles sit in (asked
    only by a split that keeps tomograms apart)."""
    return _ask_each_source(registry, base_dir, "count_tomograms")


def _ask_each_source(registry: Registry, base_dir: Path, question: str
                     ) -> Callable[[ComponentSpec], Any]:
    """``DataSource.<question>(context)``, asked once per distinct source."""
    from cryobench.contract.components import DataContext
    from cryobench.data.cache import cache_root

    memo: dict[str, Any] = {}

    def answer(spec: ComponentSpec) -> Any:
        key = json.dumps(spec.as_dict(), sort_keys=True, default=str)
        if key not in memo:
            source = spec.build(registry)
            memo[key] = getattr(source, question)(DataContext(base_dir, cache_root()))
        return memo[key]

    return answer


def parse_benchmark(
    raw: dict[str, Any], registry: Registry, *, path: Path | None = None,
    profile: str | None = None, class_counts: ClassCounts | None = None,
    tomogram_counts: TomogramCounts | None = None,
) -> Benchmark:
    """Validate an already-parsed document (the TOML file's tables).

    Every profile is validated too, selected or not (a mistake in the quick profile is
    found before the user needs it); an error in a value a profile gave names the
    profile's key (``profile.quick.train.lr``).
    """
    reader = FileReader(path, registry, class_counts, tomogram_counts)
    reader.keys("", raw, TOP_LEVEL)
    if isinstance(raw.get("arm"), list):
        reader = FileReader(path, registry, class_counts, tomogram_counts, frozenset(
            a.get("name") for a in raw["arm"] if isinstance(a, dict)))
    profiles = reader.table("profile", raw.get("profile", {}))
    for name, body in profiles.items():
        reader.file_name(f"profile.{name}", name, "profile name")
        reader.table(f"profile.{name}", body)
        reader.keys(f"profile.{name}", body, PROFILE_KEYS)
    if profile is not None and profile not in profiles:
        reader.fail("profile", unknown_name_message("profile", profile, profiles))
    for name in profiles if profile is None else []:
        _with_profile(reader, raw, name)
    return _with_profile(reader, raw, profile)


def _with_profile(reader: FileReader, raw: dict[str, Any], profile: str | None
                  ) -> Benchmark:
    doc = {k: val for k, val in raw.items() if k != "profile"}
    indices = list(range(len(doc["arm"]))) if isinstance(doc.get("arm"), list) else []
    file_tune = doc.get("tune") if isinstance(doc.get("tune"), dict) else {}
    file_scheduler = file_tune.get("scheduler", DEFAULT_SCHEDULER)
    check_fifo_keys(reader, "tune", file_tune, file_scheduler)
    if profile is None:
        return _build(reader, doc, indices, None)
    body = raw["profile"][profile]
    if isinstance(body.get("tune"), dict):
        check_fifo_keys(reader, f"profile.{profile}.tune", body["tune"],
                        body["tune"].get("scheduler", file_scheduler))
    doc, indices = apply_profile(reader, doc, body, f"profile.{profile}")
    given = {(table, key) for table, values in body.items()
             if table not in ("arms", "components") for key in values}
    overrides = component_overrides(reader, f"profile.{profile}.components",
                                    body.get("components", {}))
    reader = reader.with_overrides(overrides)
    try:
        bench = _build(reader, doc, indices, profile)
    except ConfigError as exc:
        raise as_profile_error(exc, profile, given, overrides) from None
    check_overrides_used(reader, f"profile.{profile}.components", bench)
    return bench


def _build(reader: FileReader, doc: dict[str, Any], indices: list[int],
           profile: str | None) -> Benchmark:
    bench = reader.params("benchmark", doc.get("benchmark"), BENCHMARK_PARAMS)
    reader.file_name("benchmark.name", bench["name"], "name")
    reader = reader.with_seeds(tuple(bench["seeds"]))
    base = dataset(reader, "dataset", doc.get("dataset"))
    split = SplitConfig(**reader.params("split", doc.get("split", {}), SPLIT_PARAMS))
    train_raw = doc.get("train", {})
    train = train_config(reader.params("train", without_recipe(train_raw), TRAIN_PARAMS))
    resources = Resources(**reader.params("resources", doc.get("resources", {}),
                                          RESOURCE_PARAMS))
    search = tune_table(reader, doc.get("tune"), train)
    if search is not None and split.val_fraction == 0:
        reader.fail("split.val_fraction", "tuning chooses on the validation part: give it "
                                          "a share, e.g. 0.1 (the test split is never used)")
    arms, dimension_keys = read_arms(reader, doc.get("arm"), indices, base, train_raw,
                                     split, search)
    check_space_used(reader, search, arms)
    citation, figures = reference(reader, doc.get("reference", {}), arms)
    if doc.get("sweep") is not None:
        arms = sweep(reader, doc["sweep"], arms, split, dimension_keys)
    paths = reference_paths(reader, doc.get("reference", {}).get("paths", {}))
    baseline = report_table(reader, doc.get("report", {}), arms)
    return Benchmark(
        name=bench["name"], description=bench["description"], seeds=tuple(bench["seeds"]),
        primary_metric=bench["primary_metric"], dataset=base, split=split, train=train,
        resources=resources, arms=arms, reference=figures, reference_citation=citation,
        reference_paths=paths, path=reader.path, profile=profile, baseline=baseline,
    )
