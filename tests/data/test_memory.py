from __future__ import annotations

import os

from cryobench.data import memory
from cryobench.data.memory import GIB, available_bytes, gib, shortfall, volumes_bytes


def test_available_memory_from_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683656 kB\nMemFree:         1000000 kB\n"
                       "MemAvailable:   20000000 kB\n")
    assert available_bytes(meminfo) == 20000000 * 1024


def test_falls_back_to_free_pages_without_meminfo(tmp_path, monkeypatch):
    pages = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(os, "sysconf", pages.__getitem__)
    assert available_bytes(tmp_path / "missing") == 4096000
    (tmp_path / "old").write_text("MemTotal: 100 kB\nMemFree: 50 kB\n")  # kernels before 3.14
    assert available_bytes(tmp_path / "old") == 4096000


def test_unknown_without_meminfo_or_sysconf(tmp_path, monkeypatch):
    def unsupported(name: str) -> int:
        raise ValueError(f"unrecognized configuration name {name}")

    monkeypatch.setattr(os, "sysconf", unsupported)
    assert available_bytes(tmp_path / "missing") is None


def test_this_machine_reports_some_memory():
    assert available_bytes() > 2**20


def test_float32_volumes():
    assert volumes_bytes(1634, 40) == 1634 * 64000 * 4
    assert volumes_bytes(1634, 1000) / GIB > 6000  # the default set at box 1000: TiB


def test_shortfall_says_how_much_and_how_much_is_free(monkeypatch):
    assert shortfall(GIB, available=2 * GIB) is None
    assert shortfall(2 * GIB, available=2 * GIB) is None
    assert shortfall(3 * GIB, available=2 * GIB) == (
        "about 3.0 GiB of memory and 2.0 GiB is available")
    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    assert shortfall(10**18) is None  # unknown: never block a run it cannot judge
    monkeypatch.setattr(memory, "available_bytes", lambda: GIB)
    assert shortfall(2 * GIB) == "about 2.0 GiB of memory and 1.0 GiB is available"


def test_gib_reads_well_from_kilobytes_to_terabytes():
    assert gib(8471 * GIB + GIB // 3) == "8,471.3 GiB"
    assert gib(GIB // 2) == "0.5 GiB"
    assert gib(12288) == "1.1e-05 GiB"
