"""First-party batch augmentations, applied during training only."""

from __future__ import annotations

import numpy as np

from cryobench.api import Augmentation, Param, hookimpl


class NoAugmentation(Augmentation):
    """Trains on the volumes as they are."""

    name = "none"
    summary = "no augmentation"
    plain = True

    def apply(self, volumes, targets, generator):
        return volumes, targets


class Mixup(Augmentation):
    """Zhang et al. 2018: convex combinations of particle pairs and of their targets."""

    name = "mixup"
    summary = "mixup: x = lam x_i + (1 - lam) x_j, same for targets"
    params = (
        Param("alpha", float, 0.1, "lam ~ Beta(alpha, alpha); the paper's Beta(0.1)", low=1e-6),
        Param("probability", float, 1.0, "share of batches that are mixed", low=0.0, high=1.0),
    )

    def apply(self, volumes, targets, generator):
        import torch

        if float(torch.rand(1, generator=generator)) >= self.probability:
            return volumes, targets
        # lam ~ Beta(alpha, alpha), seeded from the trial's generator
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        lam = float(np.random.default_rng(seed).beta(self.alpha, self.alpha))
        perm = torch.randperm(len(volumes), generator=generator).to(volumes.device)
        return (lam * volumes + (1 - lam) * volumes[perm],
                lam * targets + (1 - lam) * targets[perm])


class WedgeFlip(Augmentation):
    """Random flips that keep the missing wedge where it is.

    The wedge (tilt axis y, beam z, asymmetric tilt range) is invariant under a 180-degree
    rotation about y (flip x and z together). Mirrors through y, or through the centre,
    keep the wedge too but invert the particle's hand, so they are opt-in. Flipping x or
    z alone, or rotating about z, would mirror an asymmetric wedge and is never used.
    """

    name = "wedge_flip"
    summary = "missing-wedge-safe flips (180 deg about the tilt axis; mirrors opt-in)"
    params = (Param("mirror", bool, False, "also mirror through y (changes the hand)"),)

    def apply(self, volumes, targets, generator):
        import torch

        rotate = torch.rand(len(volumes), generator=generator) < 0.5
        out = volumes.clone()
        out[rotate.to(out.device)] = out[rotate.to(out.device)].flip(2, 4)  # axes z, x
        if self.mirror:
            mirror = (torch.rand(len(volumes), generator=generator) < 0.5).to(out.device)
            out[mirror] = out[mirror].flip(3)  # axis y
        return out, targets


class Shift(Augmentation):
    """Random whole-voxel translations: a particle is never picked exactly at its centre.

    A translation changes only the phases of the Fourier transform, so the missing wedge
    stays where it is. Each particle moves by up to ``max_shift`` voxels along each axis,
    cyclically (what leaves one face enters the opposite one: a slab of background a few
    voxels thick at the box's edge).
    """

    name = "shift"
    summary = "random whole-voxel translations (missing-wedge-safe)"
    params = (Param("max_shift", int, 2, "largest shift along each axis, in voxels", low=0),)

    def apply(self, volumes, targets, generator):
        import torch

        if self.max_shift == 0:
            return volumes, targets
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (len(volumes), 3),
                               generator=generator).to(volumes.device)
        out = volumes
        for axis in range(3):  # a gather per axis: no Python loop over particles
            size = volumes.shape[2 + axis]
            source = (torch.arange(size, device=volumes.device)[None, :]
                      - shifts[:, axis:axis + 1]) % size  # [B, size]
            view = [len(volumes), 1, 1, 1, 1]
            view[2 + axis] = size
            out = out.gather(2 + axis, source.view(view).expand_as(out))
        if volumes.is_contiguous(memory_format=torch.channels_last_3d):
            out = out.contiguous(memory_format=torch.channels_last_3d)
        return out, targets


@hookimpl
def cryobench_register_augmentations() -> list[type[Augmentation]]:
    return [NoAugmentation, Mixup, WedgeFlip, Shift]
