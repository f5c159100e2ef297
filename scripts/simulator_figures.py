"""Figures for docs/simulator.md: slices and projections of every class.

    python scripts/simulator_figures.py docs/figures [--snr 0.05]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cryobench.data.simulator.simulate import PRESETS, SimulationSpec, simulate_batch  # noqa: E402

CLASSES = ["proteasome_d", "proteasome_s", "TRiC", "ribosome", "proteasome_20s"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--snr", type=float, default=SimulationSpec.snr)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    imaging = {k: v for k, v in PRESETS["neuron-polyga"].items() if k != "class_counts"}
    spec = SimulationSpec(class_counts={c: 1 for c in CLASSES}, snr=args.snr, **imaging)
    stages = simulate_batch(spec, CLASSES, np.arange(len(CLASSES)) + 100)
    clean = SimulationSpec(class_counts={c: 1 for c in CLASSES}, crowding=0.0, shift_nm=0.0,
                           **imaging)
    upright = simulate_batch(clean, CLASSES, np.arange(len(CLASSES)) + 100)
    mid = spec.box // 2

    fig, axes = plt.subplots(4, len(CLASSES), figsize=(2.2 * len(CLASSES), 9))
    rows = [("noise-free XY", stages.density, lambda v: v[mid]),
            ("noise-free XZ", stages.density, lambda v: v[:, mid]),
            (f"SNR {args.snr} XY", stages.image, lambda v: v[mid]),
            (f"SNR {args.snr} XZ (wedge)", stages.image, lambda v: v[:, mid])]
    for r, (label, volumes, cut) in enumerate(rows):
        for c, name in enumerate(CLASSES):
            ax = axes[r, c]
            image = cut(volumes[c])
            # density is positive; the image has protein dark, as in a tomogram
            ax.imshow(-image if r < 2 else image, cmap="gray")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle("Central slices (protein dark), 40^3 voxels of 1.368 nm")
    fig.tight_layout()
    fig.savefig(args.out / "slices.png", dpi=110)

    fig, axes = plt.subplots(1, len(CLASSES), figsize=(2.4 * len(CLASSES), 2.8))
    for c, name in enumerate(CLASSES):
        axes[c].imshow(-upright.density[c].sum(axis=1), cmap="gray")
        axes[c].set_title(name, fontsize=9)
        axes[c].set_xticks([]), axes[c].set_yticks([])
    fig.suptitle("Projections of noise-free density (random orientation)")
    fig.tight_layout()
    fig.savefig(args.out / "projections.png", dpi=110)

    power = np.abs(np.fft.fftshift(np.fft.fftn(stages.image[3]))) ** 2
    fig, ax = plt.subplots(figsize=(3.4, 3.4))
    ax.imshow(np.log1p(power[:, mid, :]), cmap="magma")
    ax.set_title("|F|^2, kx-kz plane: missing wedge", fontsize=9)
    ax.set_xlabel("kx"), ax.set_ylabel("kz")
    fig.tight_layout()
    fig.savefig(args.out / "wedge.png", dpi=110)
    print(f"wrote {args.out}/slices.png, projections.png, wedge.png")


if __name__ == "__main__":
    main()
