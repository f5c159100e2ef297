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
    store.save("lock", KeptFit(1, "cpu", 1.0))
    store.save("lock", KeptFit(threading.Lock(), "cpu", 1.0))  # cannot be pickled
    # no file, not even a temporary one: the older fit under the key is gone too
    assert not list((tmp_path / "fitted").iterdir())
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


def test_dropping_a_fit_also_drops_what_a_killed_writer_left_of_it(tmp_path):
    from cryobench.data.cache import private_name

    store = FittedStore(tmp_path)
    store.save("abc", KeptFit(1, "cpu", 1.0))
    store.save("other", KeptFit(2, "cpu", 1.0))
    dead = store.path("abc").with_name(".abc.pkl.partial-999999999")  # no such process
    alive = store.path("abc").with_name(".abc.pkl.partial-1")  # init: still writing
    for path in (dead, alive):
        path.write_bytes(b"half")
    assert private_name(store.path("abc")).name.startswith(".abc.pkl.partial-")
    store.discard(["abc"])
    assert not dead.exists() and alive.exists() and store.load("abc") is None
    assert store.load("other") == KeptFit(2, "cpu", 1.0)


def test_searches_on_several_nodes_keep_fits_only_where_the_cache_folder_is_set(
        tmp_path, monkeypatch):
    """Asked of the Ray session: ray.init without an address also joins a cluster
    started on this machine, and an address may name a cluster of one node."""
    import ray

    from cryobench.run.fitted import fits_reach_trials
    from cryobench.run.ray.search import keeps_fits

    assert fits_reach_trials(False, {})
    assert not fits_reach_trials(True, {})
    assert fits_reach_trials(True, {"CRYOBENCH_CACHE_DIR": "/shared/cache"})
    monkeypatch.delenv("CRYOBENCH_CACHE_DIR", raising=False)
    nodes = [{"Alive": True}, {"Alive": False}]  # a node that left does not count
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    assert keeps_fits()
    nodes.append({"Alive": True})
    assert not keeps_fits()
    monkeypatch.setenv("CRYOBENCH_CACHE_DIR", str(tmp_path))
    assert keeps_fits()
