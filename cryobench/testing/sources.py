"""Checks of data sources: what ``load`` gives, and that the cheap counts agree."""

from __future__ import annotations

from typing import Any

import numpy as np

from cryobench.contract.components import DataContext, DataSource
from cryobench.data.subtomograms import Subtomograms
from cryobench.testing.doubles import build


def check_data_source(cls: type, params: dict[str, Any], base_dir: Any = None,
                      cache_dir: Any = None) -> None:
    """``load`` gives a valid set; ``count_classes``, when it answers, agrees with it.

    Without ``base_dir`` and ``cache_dir``, it runs in an empty temporary folder: a
    source that can load from nothing (a simulator) is checked whole; one that needs
    files must refuse with one line, a ``CryobenchError`` (what the CLI shows as a user
    error), not any other exception."""
    import tempfile
    from pathlib import Path

    from cryobench.errors import CryobenchError

    if base_dir is None or cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="cryobench-check-") as empty:
            try:
                _check_loaded(build(cls, params), DataContext(Path(empty), Path(empty)))
            except CryobenchError as exc:
                message = str(exc)
                assert message and "\n" not in message.strip(), \
                    f"with no files, load() must refuse in one line; it said {message!r}"
            except AssertionError:
                raise
            except Exception as exc:
                raise AssertionError(
                    f"with no files, load() raised {type(exc).__name__}: {exc}; raise "
                    "cryobench.api.DataError saying what is missing and where") from exc
        return
    _check_loaded(build(cls, params), DataContext(Path(base_dir), Path(cache_dir)))


def _check_loaded(source: DataSource, context: DataContext) -> None:
    counted = source.count_classes(context)
    data = source.load(context)
    assert isinstance(data, Subtomograms), "load() must return a Subtomograms"
    assert len(data) > 0 and data.volumes.dtype == np.float32
    if counted is not None:
        loaded = dict(zip(data.class_names, map(int, data.counts())))
        assert counted == loaded, f"count_classes said {counted}, load gave {loaded}"
    by_tomogram = source.count_tomograms(context)
    if by_tomogram is not None:
        assert data.tomograms is not None, "count_tomograms answers, load names no tomograms"
        loaded_by = {}
        for tomo, label in zip(data.tomograms, data.labels):
            row = loaded_by.setdefault(str(tomo), {})
            row[data.class_names[label]] = row.get(data.class_names[label], 0) + 1
        assert by_tomogram == loaded_by, (f"count_tomograms said {by_tomogram}, load gave "
                                          f"{loaded_by}")
