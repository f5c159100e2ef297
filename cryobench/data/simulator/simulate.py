"""Simulating a labelled set of subtomograms, deterministic for a seed."""

from __future__ import annotations

import math
from functools import lru_cache
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from cryobench.data.memory import shortfall, volumes_bytes
from cryobench.data.simulator import DEFAULT_SNR, optics
from cryobench.data.simulator.render import splat
from cryobench.data.simulator.structures import BEAD_SIGMA, STRUCTURES, particle_beads
from cryobench.data.subtomograms import Subtomograms
from cryobench.errors import CryobenchError

#: Contrast convention of every simulated volume (also written to the MRC header).
CONTRAST = "protein dark (negative density), each particle normalised to mean 0, std 1"
BATCH = 64
#: Peak working arrays of one batch, in float32 volumes per particle (splat, FFTs, CTF,
#: noise, stages); measured with tracemalloc at boxes 32-64: 9.2-9.4.
BATCH_WORKING_VOLUMES = 10

PRESETS: dict[str, dict[str, object]] = {
    # The paper's data set (Table II): rat-neuron tomogram with poly-GA aggregates.
    "neuron-polyga": {
        "class_counts": {"proteasome_d": 1043, "ribosome": 80, "TRiC": 125, "proteasome_s": 386},
        "box": 40, "voxel_size": 1.368, "tilt_min": -50.0, "tilt_max": 70.0,
        "voltage_kv": 300.0, "cs_mm": 2.7, "defocus_um": -6.0,
    },
}


@dataclass(frozen=True)
class SimulationSpec:  # frozen and hashable: it keys the noise-level cache
    """Every parameter of a simulated data set; its hash keys the cache."""

    class_counts: dict[str, int] = field(hash=False)
    box: int = 40
    voxel_size: float = 1.368  # nm
    snr: float = DEFAULT_SNR  # mean var(signal) / var(noise), after CTF and wedge
    snr_jitter: float = 0.0  # sd of log(SNR) across particles
    tilt_min: float = -50.0  # degrees
    tilt_max: float = 70.0
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    defocus_um: float = -6.0  # negative: underfocus
    defocus_jitter_um: float = 0.3
    amplitude_contrast: float = 0.07
    bfactor_nm2: float = 20.0
    shift_nm: float = 2.0  # sd of the particle's offset from the box centre, per axis
    crowding: float = 0.5  # share of particles with a neighbour entering the box
    seed: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(self.class_counts.values())


@dataclass
class Stages:
    """Intermediate volumes of a batch, for tests and figures."""

    density: np.ndarray  # noise-free rendered density, no optics
    signal: np.ndarray  # after CTF and wedge, contrast inverted
    noise: np.ndarray  # wedge-filtered noise at the particle's SNR
    image: np.ndarray  # normalised signal + noise


def particle_order(spec: SimulationSpec) -> np.ndarray:
    """Class index of each particle, shuffled so files are not grouped by class."""
    labels = np.repeat(np.arange(len(spec.class_counts)), list(spec.class_counts.values()))
    return np.random.default_rng([spec.seed, 0]).permutation(labels)


def simulate(spec: SimulationSpec,
             progress: Callable[[str, int, int], None] | None = None) -> Subtomograms:
    """The whole data set in memory."""
    check_memory(spec)
    labels = particle_order(spec)
    names = tuple(spec.class_counts)
    volumes = np.empty((len(labels), spec.box, spec.box, spec.box), dtype=np.float32)
    for start in range(0, len(labels), BATCH):
        index = np.arange(start, min(start + BATCH, len(labels)))
        volumes[index] = simulate_batch(spec, [names[c] for c in labels[index]], index).image
        if progress:
            progress("simulating", int(index[-1]) + 1, len(labels))
    return Subtomograms(volumes, labels, names, spec.voxel_size,
                        np.array([f"particle_{i + 1:05d}.mrc" for i in range(len(labels))],
                                 dtype=object))


def memory_needed(spec: SimulationSpec) -> int:
    """Bytes of the data set plus the working arrays of the largest batch (a batch of
    particles, or the reference particles behind the noise level)."""
    batch = max(min(BATCH, spec.total), REFERENCE_PER_CLASS * len(spec.class_counts))
    return (volumes_bytes(spec.total, spec.box)
            + BATCH_WORKING_VOLUMES * volumes_bytes(batch, spec.box))


def check_memory(spec: SimulationSpec) -> None:
    """Refuse, before any work, a data set that cannot fit (a box of 1000 asks for TiB)."""
    problem = shortfall(memory_needed(spec))
    if problem:
        particles = f"{spec.total} particle{'s' if spec.total != 1 else ''}"
        raise CryobenchError(f"simulating {particles} of {spec.box}^3 voxels needs "
                             f"{problem}; use a smaller box or fewer particles (scale, "
                             "class_counts)")


def simulate_batch(spec: SimulationSpec, names: list[str], index: np.ndarray) -> Stages:
    """Particles ``index`` (each with its own seeded generator, so batching is invisible)."""
    rngs = [np.random.default_rng([spec.seed, 1, int(i)]) for i in index]
    density, signal, wedge = _render(spec, names, rngs, crowding=True)
    shape, axes = (spec.box,) * 3, (1, 2, 3)
    white = np.stack([rng.standard_normal(shape, dtype=np.float32) for rng in rngs])
    noise = np.fft.irfftn(np.fft.rfftn(white, axes=axes) * wedge, s=shape, axes=axes)
    snr = spec.snr * np.exp(np.array([rng.normal(0, spec.snr_jitter) for rng in rngs]))
    # unit variance exactly, then the data set's noise level at this particle's SNR
    scale = np.sqrt(reference_signal_variance(spec) / snr / noise.var(axis=axes))
    noise *= scale[:, None, None, None]
    image = signal + noise
    image -= image.mean(axis=axes, keepdims=True)
    image /= image.std(axis=axes, keepdims=True)
    return Stages(density.astype(np.float32), signal.astype(np.float32),
                  noise.astype(np.float32), image.astype(np.float32))


def imaged_signal(spec: SimulationSpec, names: list[str], index: np.ndarray) -> np.ndarray:
    """Noise-free imaged particles ``index`` (bead blur, CTF, wedge, contrast; no crowding
    neighbour: in a tomogram the neighbours are real), each from its own seeded generator,
    as :func:`simulate_batch` draws them: to be placed in a whole tomogram."""
    rngs = [np.random.default_rng([spec.seed, 1, int(i)]) for i in index]
    return _render(spec, names, rngs, crowding=False)[1].astype(np.float32)


def _render(spec: SimulationSpec, names: list[str], rngs: list[np.random.Generator],
            crowding: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free density, and the imaged signal (bead blur, CTF, wedge, contrast)."""
    points = [_particle_voxels(spec, name, rng, crowding) for name, rng in zip(names, rngs)]
    grid = optics.FrequencyGrid.for_box(spec.box, spec.voxel_size)
    shape, axes = (spec.box,) * 3, (1, 2, 3)
    density_f = np.fft.rfftn(splat(points, spec.box).astype(np.float32), axes=axes)
    density_f *= optics.bead_transfer(grid, BEAD_SIGMA).astype(np.float32)
    density = np.fft.irfftn(density_f, s=shape, axes=axes)
    wedge = optics.wedge_mask(grid, spec.tilt_min, spec.tilt_max)
    defocus = np.array([-(spec.defocus_um + rng.normal(0, spec.defocus_jitter_um)) * 1e3
                        for rng in rngs])
    transfer = optics.ctf(grid, defocus, voltage_kv=spec.voltage_kv, cs_mm=spec.cs_mm,
                          amplitude_contrast=spec.amplitude_contrast,
                          bfactor_nm2=spec.bfactor_nm2) * wedge
    signal = -np.fft.irfftn(density_f * transfer.astype(np.float32), s=shape, axes=axes)
    return density, signal, wedge


REFERENCE_PER_CLASS = 16


@lru_cache(maxsize=32)
def reference_signal_variance(spec: SimulationSpec) -> float:
    """The data set's noise level: the SNR is var(signal) / var(noise) on average over
    the classes (a few particles each), not per particle. As in a tomogram, every particle
    gets the same noise, so small complexes are harder to see than large ones."""
    names = [n for n in spec.class_counts for _ in range(REFERENCE_PER_CLASS)]
    rngs = [np.random.default_rng([spec.seed, 2, i]) for i in range(len(names))]
    _, signal, _ = _render(spec, names, rngs, crowding=False)
    return float(signal.var(axis=(1, 2, 3)).mean())


def _particle_voxels(spec: SimulationSpec, name: str, rng: np.random.Generator,
                     crowding: bool = True) -> np.ndarray:
    """Bead centres in voxel coordinates (z, y, x) after a uniform random rotation."""
    beads = Rotation.random(rng=rng).apply(particle_beads(name, rng))
    beads += rng.normal(0.0, spec.shift_nm, size=3)
    if rng.random() < spec.crowding and crowding:
        beads = np.concatenate([beads, _neighbour(spec, rng)])
    return beads[:, ::-1] / spec.voxel_size + spec.box // 2


def _neighbour(spec: SimulationSpec, rng: np.random.Generator) -> np.ndarray:
    """Another complex just outside the box, so that part of it enters at the edge."""
    other = list(spec.class_counts)[rng.integers(len(spec.class_counts))]
    beads = Rotation.random(rng=rng).apply(particle_beads(other, rng))
    radius = float(np.linalg.norm(beads, axis=1).max())
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    distance = spec.box * spec.voxel_size / 2 + radius * rng.uniform(0.2, 0.7)
    return beads + direction * distance


def imbalanced_counts(counts: dict[str, int], ratio: float) -> dict[str, int]:
    """The same total spread geometrically over the classes, the largest ``ratio`` times
    the rarest; classes keep their order of size (ties in the given order). Rounded by
    largest remainder: the total is exact and the ratio as near as whole particles allow
    (every class keeps at least one particle, taken from the largest)."""
    order = sorted(counts, key=lambda name: -counts[name])
    steps = max(len(order) - 1, 1)
    weights = {name: ratio ** (-rank / steps) for rank, name in enumerate(order)}
    total = sum(counts.values())
    exact = {name: total * w / sum(weights.values()) for name, w in weights.items()}
    out = {name: max(int(math.floor(x)), 1) for name, x in exact.items()}
    by_remainder = sorted(order, key=lambda name: -(exact[name] - math.floor(exact[name])))
    for name in by_remainder[:max(total - sum(out.values()), 0)]:
        out[name] += 1
    while sum(out.values()) > total:  # the floor of one particle took some: give back
        out[order[0]] -= 1
    return {name: out[name] for name in counts}


def spec_from_params(params: dict[str, object]) -> SimulationSpec:
    """Preset, then explicit parameters, then a scale on the class counts."""
    params = dict(params)
    preset = dict(PRESETS[str(params.pop("preset", "neuron-polyga"))])
    scale = float(params.pop("scale", 1.0))  # type: ignore[arg-type]
    counts = params.pop("class_counts", None) or preset.pop("class_counts")
    preset.pop("class_counts", None)
    merged = {**preset, **{k: v for k, v in params.items() if v is not None}}
    scaled = {name: max(int(math.floor(n * scale + 0.5)), 1) for name, n in counts.items()}
    unknown = [n for n in scaled if n not in STRUCTURES]
    if unknown:
        from cryobench.errors import CryobenchError
        from cryobench.registry import unknown_name_message

        raise CryobenchError(unknown_name_message("simulated complex", unknown[0], STRUCTURES))
    return SimulationSpec(class_counts=scaled, **merged)  # type: ignore[arg-type]
