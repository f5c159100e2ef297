"""The kept fits of tuning's configurations: a cache, so anything that cannot be kept or
read back is trained again, never an error."""

from __future__ import annotations

import threading

from cryobench.run.fitted import FittedStore, KeptFit


def test_a_kept_fit_reads_back_and_is_dropped_on_request(tmp_path):
    store = FittedStore(tmp_path)
    store.save("abc", KeptFit({"weights": [1, 2]}, "cpu", 3.5))
    kept = store.load("abc")
    assert kept == KeptFit({"weights": [1, 2]}, "cpu", 3.5)
    assert store.load("other") is None
    store.discard(["abc", "never-kept"])
    assert store.load("abc") is None and not list((tmp_path / "fitted").iterdir())


def test_what_cannot_be_kept_or_read_back_is_none_and_leaves_no_file(tmp_path):
    store = FittedStore(tmp_path)
    store.save("lock", KeptFit(threading.Lock(), "cpu", 1.0))  # cannot be pickled
    assert not list((tmp_path / "fitted").iterdir())  # not even a temporary file
    store.path("damaged").write_bytes(b"\x80\x05not a pickle")
    assert store.load("damaged") is None
    store.path("foreign").write_bytes(__import__("pickle").dumps({"not": "a KeptFit"}))
    assert store.load("foreign") is None


def test_a_cache_folder_that_cannot_be_written_is_not_an_error(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    store = FittedStore(blocked)
    store.save("abc", KeptFit(1, "cpu", 1.0))
    assert store.load("abc") is None
