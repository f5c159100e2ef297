"""What plugins add where results are shown, and the declared baseline."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from cryobench.api import ResultTable, hookimpl
from cryobench.config import parse_benchmark
from cryobench.errors import ConfigError, PluginError
from cryobench.report import write_report
from cryobench.report.analysis import analyse
from cryobench.run.leaderboard import leaderboard_markdown
from tests.conftest import ToyPlugin
from tests.report.test_analysis import records_for


class SeedTablePlugin:
    """Counts the finished trials per arm: a table only this plugin knows how to make."""

    @hookimpl
    def cryobench_result_tables(self, benchmark, records):
        arms = sorted({r.arm for r in records if r.ok})
        return [ResultTable(f"{benchmark.name}: trials per arm", ("arm", "finished"),
                            tuple((a, str(sum(r.arm == a for r in records))) for a in arms),
                            note="made by a test plugin")]


def test_a_plugins_table_reaches_the_leaderboard_and_the_report(minimal_doc, tmp_path):
    from cryobench.registry import Registry

    registry = Registry(plugins=[ToyPlugin(), SeedTablePlugin()])
    bench = parse_benchmark(minimal_doc, registry)
    records = records_for(bench, lambda arm, seed: 0.5)
    tables = registry.result_tables(bench, records)
    assert [t.title for t in tables] == ["mini: trials per arm"]
    markdown = leaderboard_markdown(bench, records, tables)
    assert "## mini: trials per arm" in markdown and "| plain | 2 |" in markdown
    assert "paper" not in markdown  # no [reference]: no empty paper columns
    written = write_report(bench, records, tmp_path / "report", tables=tables)
    text = written.markdown.read_text()
    assert "trials per arm" in text and "made by a test plugin" in text


def test_a_table_that_is_not_a_result_table_is_a_plugin_error(minimal_doc):
    from cryobench.registry import Registry

    class Wrong:
        @hookimpl
        def cryobench_result_tables(self, benchmark, records):
            return [{"title": "a dict"}]

    registry = Registry(plugins=[ToyPlugin(), Wrong()])
    with pytest.raises(PluginError, match="must return a list of cryobench.api.ResultTable"):
        registry.result_tables(parse_benchmark(minimal_doc, registry), [])


def test_table_iii_comes_from_the_model_plugin(minimal_doc):
    """The paths' figures in a record's report become the plugin's table, beside the
    file's [reference.paths]; the core knows nothing of paths."""
    from cryobench.registry import Registry

    registry = Registry(plugins=[ToyPlugin()])
    bench = dataclasses.replace(parse_benchmark(minimal_doc, registry),
                                reference_paths={"a": ((80.0, 85.0), (70.0, 75.0))})
    records = records_for(bench, lambda arm, seed: 0.5)
    for r in records:
        r.report["stage1"] = [
            {"class": "a", "path": "conv3", "f1": 0.9, "gmean": 0.8, "chosen": True},
            {"class": "a", "path": "conv5", "f1": 0.7, "gmean": 0.6, "chosen": False}]
    (table,) = [t for t in registry.result_tables(bench, records) if "path" in t.columns]
    assert table.rows == (("a", "conv3", "90.0", "80.0", "80.0", "85.0", "*"),
                          ("", "conv5", "70.0", "60.0", "70.0", "75.0", ""))
    assert "Table III" in table.title


def test_table_iii_without_table3_has_one_row_per_class_beside_its_paper_path(minimal_doc):
    """Without ``table3`` each class trains one path: no column of dashes, and the
    paper's figure is the one for that path's place in the file's list."""
    from cryobench.registry import Registry

    registry = Registry(plugins=[ToyPlugin()])
    bench = dataclasses.replace(parse_benchmark(minimal_doc, registry),
                                reference_paths={"a": ((80.0, 85.0), (70.0, 75.0)),
                                                 "b": ((60.0, 65.0), (50.0, 55.0))})
    records = records_for(bench, lambda arm, seed: 0.5)
    for r in records:
        r.config["model"] = {"paths": ["conv3", "conv5"]}
        r.report["stage1"] = [
            {"class": "a", "path": "conv3", "f1": 0.9, "gmean": 0.8, "chosen": True},
            {"class": "b", "path": "conv5", "f1": 0.4 + 0.1 * r.seed, "gmean": 0.6,
             "chosen": True}]
    (table,) = [t for t in registry.result_tables(bench, records) if "path" in t.columns]
    mean_b = 100 * np.mean([0.4 + 0.1 * r.seed for r in records if r.ok])
    assert table.rows == (("a", "conv3", "90.0", "80.0", "80.0", "85.0"),
                          ("b", "conv5", f"{mean_b:.1f}", "60.0", "50.0", "55.0"))
    assert "chosen" not in table.columns
    bench = dataclasses.replace(bench, reference_paths={})
    (table,) = [t for t in registry.result_tables(bench, records) if "path" in t.columns]
    assert table.columns == ("class", "path", "F1", "G-mean")  # no empty paper columns
    assert table.rows[0] == ("a", "conv3", "90.0", "80.0")


def test_the_baseline_is_declared_in_the_file_or_is_the_first_plain_arm(minimal_doc,
                                                                        registry):
    bench = parse_benchmark(minimal_doc, registry)
    records = records_for(bench, lambda arm, seed: 0.5 + 0.01 * seed)
    assert all(a.is_plain for a in bench.arms)  # the strategy components declare it
    assert analyse(bench, records).baseline == "plain"
    doc = copy.deepcopy(minimal_doc)
    doc["report"] = {"baseline": "warm"}
    assert analyse(parse_benchmark(doc, registry), records).baseline == "warm"
    doc["report"] = {"baseline": "cold"}
    with pytest.raises(ConfigError, match=r"report\.baseline: unknown arm 'cold'"):
        parse_benchmark(doc, registry)
    doc["arm"][1]["sampler"] = "oversample"
    doc["report"] = {}
    assert [a.is_plain for a in parse_benchmark(doc, registry).arms] == [True, False]
