"""Fourier-space imaging model: bead form factor, CTF, B-factor envelope, missing wedge.

Arrays are in ``numpy.fft.rfftn`` layout over axes (z, y, x): the last axis holds the
non-negative x frequencies. Frequencies are in 1/nm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLANCK = 6.62607015e-34
ELECTRON_MASS = 9.1093837015e-31
ELECTRON_CHARGE = 1.602176634e-19
LIGHT_SPEED = 299792458.0


def electron_wavelength_nm(voltage_kv: float) -> float:
    """Relativistic electron wavelength (about 0.00197 nm at 300 kV)."""
    volts = voltage_kv * 1e3
    energy = ELECTRON_CHARGE * volts
    momentum = np.sqrt(2 * ELECTRON_MASS * energy * (1 + energy / (2 * ELECTRON_MASS * LIGHT_SPEED**2)))
    return float(PLANCK / momentum * 1e9)


@dataclass(frozen=True)
class FrequencyGrid:
    """Spatial frequencies of a D^3 box with voxel size ``voxel`` (nm)."""

    kz: np.ndarray
    ky: np.ndarray
    kx: np.ndarray

    @classmethod
    def for_box(cls, box: int, voxel: float) -> FrequencyGrid:
        kz = np.fft.fftfreq(box, d=voxel)[:, None, None]
        ky = np.fft.fftfreq(box, d=voxel)[None, :, None]
        kx = np.fft.rfftfreq(box, d=voxel)[None, None, :]
        return cls(kz, ky, kx)

    @property
    def k2(self) -> np.ndarray:
        return self.kz**2 + self.ky**2 + self.kx**2


def wedge_mask(grid: FrequencyGrid, tilt_min: float, tilt_max: float) -> np.ndarray:
    """True where the tilt series samples Fourier space (tilt axis along y, beam along z).

    At tilt angle t the sampled central plane contains y and the direction
    (cos t, -sin t) in (x, z); a frequency is sampled if its (x, z) angle lies in
    [tilt_min, tilt_max]. The rest, around the kz axis, is the missing wedge.
    """
    angle = np.degrees(np.arctan2(-grid.kz, grid.kx))  # kx >= 0: angle in [-90, 90]
    inside = (angle >= tilt_min) & (angle <= tilt_max)
    origin_line = (grid.kz == 0) & (grid.kx == 0)  # the tilt axis itself is always seen
    return np.broadcast_to(inside | origin_line, np.broadcast_shapes(
        grid.kz.shape, grid.ky.shape, grid.kx.shape)).copy()


def bead_transfer(grid: FrequencyGrid, sigma_nm: float) -> np.ndarray:
    """Fourier transform of a unit Gaussian bead: rendering by convolution."""
    return np.exp(-2.0 * np.pi**2 * sigma_nm**2 * grid.k2)


def ctf(grid: FrequencyGrid, defocus_nm: np.ndarray, *, voltage_kv: float, cs_mm: float,
        amplitude_contrast: float, bfactor_nm2: float) -> np.ndarray:
    """Phase-contrast CTF per particle, ``[B, ...]``; positive ``defocus_nm`` is underfocus.

    chi = pi lambda dz k^2 - pi/2 Cs lambda^3 k^4 and
    CTF = sqrt(1 - A^2) sin(chi) + A cos(chi), damped by exp(-B k^2 / 4).
    """
    lam = electron_wavelength_nm(voltage_kv)
    cs = cs_mm * 1e6
    k2 = grid.k2[None]
    dz = np.asarray(defocus_nm, dtype=np.float64)[:, None, None, None]
    chi = np.pi * lam * dz * k2 - 0.5 * np.pi * cs * lam**3 * k2**2
    a = amplitude_contrast
    envelope = np.exp(-bfactor_nm2 * k2 / 4.0)
    return (np.sqrt(1 - a * a) * np.sin(chi) + a * np.cos(chi)) * envelope
