"""Whole simulated tomograms with their particles placed in them, written as labs keep
them: MRC tomograms, a RELION 5 particle STAR (and its tomograms STAR), and a copick
project (written through copick's API), so the road from picks to a leaderboard is
tested end to end without downloads.

Each particle is the simulator's imaged particle (bead model, rotation, CTF, missing
wedge, as in :mod:`cryobench.data.simulator.simulate`), added into the tomogram at its
centre voxel; neighbours are the other particles, where they fall close. The noise is
white noise through the missing wedge of the whole tomogram: the wedge does not depend
on the y frequency (the tilt axis), so filtering each y-slab in (z, x) is exactly the 3D
filter, and a tomogram is made slab by slab without holding it in memory.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

from cryobench import __version__
from cryobench.data import Progress
from cryobench.data.cutting import box_overlap
from cryobench.data.export import check_output_folder
from cryobench.data.simulator import optics
from cryobench.data.simulator.simulate import (
    CONTRAST, SimulationSpec, imaged_signal, particle_order, reference_signal_variance,
)
from cryobench.errors import CryobenchError

SLAB = 32  # y-planes of noise made at once
BATCH = 64  # particles rendered at once
TOMOGRAM_TYPE = "wbp"
COPICK_USER = "cryobench"


@dataclass(frozen=True)
class TomogramSet:
    """Simulated tomograms: ``particles`` gives the imaging and the class counts over all
    tomograms (its ``box`` is the box each particle is rendered in)."""

    particles: SimulationSpec
    tomograms: int = 4
    shape: tuple[int, int, int] = (150, 400, 400)  # z, y, x voxels

    def names(self) -> list[str]:
        return [f"TS_{i + 1:02d}" for i in range(self.tomograms)]

    @property
    def pixel_size(self) -> float:
        """Angstrom per voxel."""
        return round(self.particles.voxel_size * 10.0, 6)


def place(spec: TomogramSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class index, tomogram index, centre voxel z y x) of every particle: classes
    shuffled as the simulator's, dealt round the tomograms, centres uniform over each
    tomogram (a box may cross its edge) at least half a box apart."""
    labels = particle_order(spec.particles)
    tomogram = np.arange(len(labels)) % spec.tomograms
    rng = np.random.default_rng([spec.particles.seed, 3])
    shape = np.asarray(spec.shape)
    gap = spec.particles.box / 2
    centres = np.empty((len(labels), 3), dtype=np.int64)
    for t in range(spec.tomograms):
        members = np.flatnonzero(tomogram == t)
        placed: list[np.ndarray] = []
        for i in members:
            for _ in range(1000):
                c = (rng.random(3) * shape).astype(np.int64)
                if not placed or np.min(np.linalg.norm(np.array(placed) - c, axis=1)) >= gap:
                    break
            else:
                raise CryobenchError(f"{len(members)} particles do not fit half a box apart in "
                                     f"a tomogram of {spec.shape[2]} x {spec.shape[1]} x "
                                     f"{spec.shape[0]} voxels; use larger tomograms or more")
            placed.append(c)
            centres[i] = c
    return labels, tomogram, centres


def write_tomogram_set(out: Path, spec: TomogramSet, *, copick: bool = True,
                       progress: Progress | None = None) -> Path:
    """Write ``tomograms/TS_NN.mrc``, ``particles.star`` (RELION 5), ``tomograms.star``,
    ``copick/copick.json`` (with its overlay) and ``metadata.json`` into ``out`` (a new or
    empty folder); a failed write removes what it wrote."""
    out = Path(out)
    check_output_folder(out)
    labels, tomogram, centres = place(spec)
    try:
        (out / "tomograms").mkdir(parents=True)
        for t, name in enumerate(spec.names()):
            members = np.flatnonzero(tomogram == t)
            write_tomogram(out / "tomograms" / f"{name}.mrc", spec, t, labels[members],
                           centres[members], members)
            if progress:
                progress("tomograms", t + 1, spec.tomograms)
        write_relion5(out, spec, labels, tomogram, centres)
        if copick:
            write_copick(out / "copick", spec, labels, tomogram, centres, progress)
        _write_metadata(out, spec, labels, copick)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def write_tomogram(path: Path, spec: TomogramSet, index: int, labels: np.ndarray,
                   centres: np.ndarray, particle_ids: np.ndarray) -> None:
    """One tomogram: wedge-filtered noise slab by slab, then each imaged particle added
    at its centre (clipped at the edge); written through a memory map."""
    p = spec.particles
    sigma = float(np.sqrt(reference_signal_variance(p) / p.snr))
    names = list(p.class_counts)
    with mrcfile.new_mmap(path, shape=spec.shape, mrc_mode=2, overwrite=True) as mrc:
        mrc.voxel_size = spec.pixel_size
        _fill_noise(mrc.data, spec, index, sigma)
        for start in range(0, len(labels), BATCH):
            batch = slice(start, start + BATCH)
            signal = imaged_signal(p, [names[c] for c in labels[batch]], particle_ids[batch])
            for volume, centre in zip(signal, centres[batch]):
                _add(mrc.data, volume, centre)
        mrc.header.label[1] = f"cryobench {__version__}: simulated tomogram".encode()[:80]
        mrc.header.label[2] = CONTRAST.encode("ascii", "replace")[:80]
        mrc.header.nlabl = 3


def _fill_noise(data: np.ndarray, spec: TomogramSet, index: int, sigma: float) -> None:
    nz, ny, nx = spec.shape
    p = spec.particles
    grid = optics.FrequencyGrid(np.fft.fftfreq(nz, d=p.voxel_size)[:, None, None],
                                np.zeros((1, 1, 1)),
                                np.fft.rfftfreq(nx, d=p.voxel_size)[None, None, :])
    wedge = optics.wedge_mask(grid, p.tilt_min, p.tilt_max)
    for y0 in range(0, ny, SLAB):
        rng = np.random.default_rng([p.seed, 4, index, y0])
        white = rng.standard_normal((nz, min(SLAB, ny - y0), nx), dtype=np.float32)
        noise = np.fft.irfftn(np.fft.rfftn(white, axes=(0, 2)) * wedge, s=(nz, nx), axes=(0, 2))
        data[:, y0:y0 + SLAB, :] = noise * (sigma / noise.std())


def _add(data: np.ndarray, volume: np.ndarray, centre: np.ndarray) -> None:
    """Add a particle's box into the tomogram (its part inside), as cutting places it."""
    inside, part = box_overlap(centre, volume.shape[0], data.shape)
    data[inside] += volume[part]


def class_numbers(spec: TomogramSet) -> dict[str, str]:
    """RELION class number (text) -> class name: 1, 2, ... in the spec's class order."""
    return {str(k + 1): name for k, name in enumerate(spec.particles.class_counts)}


def write_relion5(out: Path, spec: TomogramSet, labels: np.ndarray, tomogram: np.ndarray,
                  centres: np.ndarray) -> None:
    """The particle STAR (Angstrom from each tomogram's centre) and the tomograms STAR."""
    names = spec.names()
    half = np.asarray(spec.shape) / 2.0
    rows = []
    for label, t, centre in zip(labels, tomogram, centres):
        z, y, x = (centre - half) * spec.pixel_size
        rows.append(f"{names[t]} {x:.3f} {y:.3f} {z:.3f} {label + 1}")
    columns = ["_rlnTomoName", "_rlnCenteredCoordinateXAngst", "_rlnCenteredCoordinateYAngst",
               "_rlnCenteredCoordinateZAngst", "_rlnClassNumber"]
    _write_star(out / "particles.star", "particles", columns, rows)
    nz, ny, nx = spec.shape
    columns = ["_rlnTomoName", "_rlnTomoTiltSeriesPixelSize", "_rlnTomoTomogramBinning",
               "_rlnTomoSizeX", "_rlnTomoSizeY", "_rlnTomoSizeZ", "_rlnTomoReconstructedTomogram"]
    rows = [f"{n} {spec.pixel_size:.4f} 1.0 {nx} {ny} {nz} tomograms/{n}.mrc" for n in names]
    _write_star(out / "tomograms.star", "global", columns, rows)


def _write_star(path: Path, block: str, columns: list[str], rows: list[str]) -> None:
    header = [f"# written by cryobench {__version__} (simulated)", "", f"data_{block}", "",
              "loop_", *(f"{c} #{i + 1}" for i, c in enumerate(columns))]
    path.write_text("\n".join([*header, *rows, ""]), encoding="utf-8")


def write_copick(folder: Path, spec: TomogramSet, labels: np.ndarray, tomogram: np.ndarray,
                 centres: np.ndarray, progress: Progress | None = None) -> Path:
    """A copick project over the same tomograms (OME-Zarr, one resolution level) and
    picks (Angstrom from the first voxel's centre), written through copick's API. Object
    names are the class names as copick allows them (no underscores: proteasome-d)."""
    import copick
    from copick.models import PickableObject

    classes = copick_names(spec)
    objects = [PickableObject(name=name, is_particle=True, label=k + 1,
                              radius=spec.particles.box * spec.pixel_size / 4)
               for k, name in enumerate(classes)]
    config = folder / "copick.json"
    root = copick.new_config(str(config), str((folder / "overlay").absolute()),
                             proj_name="cryobench simulated tomograms",
                             pickable_objects=objects)
    tomograms = folder.parent / "tomograms"
    for t, name in enumerate(spec.names()):
        run = root.new_run(name)
        voxels = run.new_voxel_spacing(spec.pixel_size)
        with mrcfile.mmap(tomograms / f"{name}.mrc", mode="r") as mrc:
            voxels.new_tomogram(TOMOGRAM_TYPE).from_numpy(np.asarray(mrc.data), levels=1)
        for k, obj in enumerate(classes):
            at = (tomogram == t) & (labels == k)
            if at.any():
                picks = run.new_picks(obj, session_id="0", user_id=COPICK_USER)
                picks.from_numpy(centres[at][:, ::-1] * spec.pixel_size)
        if progress:
            progress("copick", t + 1, spec.tomograms)
    return config


def copick_names(spec: TomogramSet) -> list[str]:
    """The class names as copick object names (it refuses underscores)."""
    from copick.util.escape import sanitize_name

    return [sanitize_name(n, suppress_warnings=True) for n in spec.particles.class_counts]


def _write_metadata(out: Path, spec: TomogramSet, labels: np.ndarray, copick: bool) -> None:
    meta = {"generator": f"cryobench {__version__}", "contrast": CONTRAST,
            "parameters": spec.particles.as_dict(), "tomograms": spec.names(),
            "shape_zyx": list(spec.shape), "pixel_size_angstrom": spec.pixel_size,
            "particles": int(len(labels)), "class_numbers": class_numbers(spec),
            "copick": {"project": "copick/copick.json", "voxel_spacing":
                       spec.pixel_size, "tomogram_type": TOMOGRAM_TYPE,
                       "user_id": COPICK_USER, "objects": copick_names(spec)}
            if copick else None,
            "complete": True}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
