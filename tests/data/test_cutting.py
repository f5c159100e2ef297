from __future__ import annotations

import numpy as np
import zarr

from cryobench.data.cutting import crosses_edge, cut_particles, normalise


def tomogram(shape=(20, 30, 40)) -> np.ndarray:
    """Each voxel holds its own flat index: a cut box says exactly where it came from."""
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def test_inside_box_is_the_exact_slice_centred_at_box_half():
    volume = tomogram()
    out = np.empty((1, 8, 8, 8), dtype=np.float32)
    cut_particles(volume, np.array([[10, 15, 20]]), 8, out)
    np.testing.assert_array_equal(out[0], volume[6:14, 11:19, 16:24])
    assert out[0, 4, 4, 4] == volume[10, 15, 20]  # the centre voxel at box // 2


def test_edge_box_is_padded_with_the_mean_inside():
    volume = tomogram()
    out = np.empty((1, 8, 8, 8), dtype=np.float32)
    cut_particles(volume, np.array([[1, 15, 38]]), 8, out)
    inside = volume[0:5, 11:19, 34:40]  # z from -3, x up to 41: 3 rows and 2 columns outside
    np.testing.assert_array_equal(out[0, 3:, :, :6], inside)
    assert np.allclose(out[0, :3], inside.mean()) and np.allclose(out[0, :, :, 6:], inside.mean())
    assert crosses_edge(np.array([[1, 15, 38], [10, 15, 20]]), 8, volume.shape).tolist() == [
        True, False]


def test_chunked_array_gives_the_same_boxes_as_a_plain_one(tmp_path):
    volume = tomogram((40, 40, 40))
    stored = zarr.open(str(tmp_path / "t.zarr"), mode="w", shape=volume.shape,
                       chunks=(16, 16, 16), dtype="f4")
    stored[:] = volume
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 40, size=(30, 3))
    plain = np.empty((30, 10, 10, 10), dtype=np.float32)
    chunked = np.empty_like(plain)
    cut_particles(volume, centres, 10, plain)
    finished = []
    reads = []

    class Counted:  # the zarr array, counting the reads of chunks
        shape = stored.shape

        def __getitem__(self, where):
            reads.append(where)
            return stored[where]

    cut_particles(Counted(), centres, 10, chunked, chunks=(16, 16, 16), done=finished.append)
    np.testing.assert_array_equal(plain, chunked)
    assert sum(finished) == 30
    assert len(reads) == len({str(r) for r in reads}) <= 27  # each chunk read once at most


def test_rows_place_particles_where_asked():
    volume = tomogram()
    out = np.zeros((3, 4, 4, 4), dtype=np.float32)
    cut_particles(volume, np.array([[10, 10, 10]]), 4, out, rows=np.array([2]))
    assert out[0].sum() == 0 and out[2, 2, 2, 2] == volume[10, 10, 10]


def test_normalise_each_particle():
    volumes = np.stack([np.full((4, 4, 4), 3.0, dtype=np.float32),
                        np.random.default_rng(1).normal(5, 2, (4, 4, 4)).astype(np.float32)])
    normalise(volumes)
    assert np.allclose(volumes[0], 0)
    assert abs(volumes[1].mean()) < 1e-5 and abs(volumes[1].std() - 1) < 1e-5
