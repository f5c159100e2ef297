"""First-party data sources: real subtomograms (``mrc``), particles cut from whole
tomograms (``tomograms``, ``copick``) and the simulator (``synthetic``)."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryobench.api import (
    DEFAULT_SNR, SEED_MAX, SIMULATOR_VERSION, DataContext, DataSource, Param, hookimpl,
)

if TYPE_CHECKING:  # the loader (mrcfile, numpy) is imported when data is loaded
    from cryobench.api import ParticlePlan, Subtomograms


class MrcSource(DataSource):
    """Subtomograms as extracted by RELION, Dynamo, Warp, EMAN2... : MRC plus labels."""

    name = "mrc"
    summary = "MRC files + CSV/STAR labels, or one .mrcs stack + CSV"
    params = (
        Param("path", str, None, "label file (.csv/.star), a folder with one, or a .mrcs stack"),
        Param("labels", str, None, "CSV (index,label) for a stack, if not beside it",
              nullable=True),
        Param("class_names", dict, None, "label text -> class name (e.g. RELION class numbers)",
              nullable=True),
        Param("label_column", str, "_rlnClassNumber", "STAR column that holds the label"),
    )

    def load(self, context: DataContext) -> Subtomograms:
        from cryobench.api import load_dataset

        return load_dataset(**self._where(context), class_names=_as_str_map(self.class_names),
                            label_column=self.label_column, progress=context.progress)

    def count_classes(self, context: DataContext) -> dict[str, int]:
        """From the label file alone: no volume is read."""
        from cryobench.api import count_classes

        return count_classes(**self._where(context), class_names=_as_str_map(self.class_names),
                             label_column=self.label_column)

    def _where(self, context: DataContext) -> dict[str, Path | None]:
        labels = context.base_dir / self.labels if self.labels else None
        return {"path": context.base_dir / Path(self.path), "labels": labels}


def _as_str_map(mapping: dict | None) -> dict[str, str] | None:
    return {str(k): str(v) for k, v in mapping.items()} if mapping else None


class SyntheticSource(DataSource):
    """The default data set: simulated once per parameter set, then read from the cache."""

    name = "synthetic"
    summary = "simulated subtomograms (bead models, CTF, missing wedge, noise)"
    revision = SIMULATOR_VERSION
    params = (
        Param("preset", str, "neuron-polyga", "imaging and class counts to start from",
              choices=("neuron-polyga",)),
        Param("snr", float, DEFAULT_SNR, "mean signal variance / noise variance", low=1e-4,
              high=100.0),
        Param("scale", float, 1.0, "multiply every class count (quick runs)", low=0.001),
        Param("class_counts", dict, None, "complex -> particles, replacing the preset's",
              items=int, low=1, min_len=2, nullable=True),
        Param("box", int, None, "box edge in voxels", low=8, nullable=True),
        Param("voxel_size", float, None, "nm per voxel", low=0.1, nullable=True),
        Param("tilt_min", float, None, "lowest tilt angle (degrees)", low=-90, high=0,
              nullable=True),
        Param("tilt_max", float, None, "highest tilt angle (degrees)", low=0, high=90,
              nullable=True),
        Param("defocus_um", float, None, "defocus in um (negative: underfocus)", nullable=True),
        Param("defocus_jitter_um", float, 0.3, "per-particle defocus spread (sd)", low=0.0),
        Param("bfactor_nm2", float, 20.0, "envelope B-factor in nm^2", low=0.0),
        Param("snr_jitter", float, 0.0, "per-particle spread of log SNR (sd)", low=0.0),
        Param("shift_nm", float, 2.0, "particle offset from the box centre (sd, nm): "
              "picking errors", low=0.0),
        Param("crowding", float, 0.5, "share of particles with a neighbour at the edge",
              low=0.0, high=1.0),
        Param("seed", int, 0, "data-set seed (trial seeds vary the splits, not the data)",
              low=0, high=SEED_MAX),
    )

    def spec(self):
        from cryobench.api import spec_from_params

        return spec_from_params(self.config)

    def count_classes(self, context: DataContext) -> dict[str, int]:
        """From the parameters alone: nothing is simulated."""
        return dict(self.spec().class_counts)

    def imbalanced(self, ratio: float) -> dict[str, Any]:
        """Class counts before ``scale`` (which still applies): the preset's or the given
        ones, their total kept, spread geometrically from largest to rarest."""
        from cryobench.api import imbalanced_counts, spec_from_params

        base = spec_from_params({**self.config, "scale": 1.0}).class_counts
        return {"class_counts": imbalanced_counts(dict(base), ratio)}

    def load(self, context: DataContext) -> Subtomograms:
        from cryobench.api import (
            cached_folder, content_key, discard, is_complete, load_dataset, write_simulation,
        )
        from cryobench.api import DataError

        spec = self.spec()
        key = content_key({"simulator": SIMULATOR_VERSION, **spec.as_dict()})

        def build(path: Path) -> None:
            write_simulation(path, spec, preset=self.preset, progress=context.progress)

        root = context.cache_dir
        folder, _ = cached_folder(root, f"synthetic-{key}", is_complete, build)
        order = {name: name for name in spec.class_counts}
        try:
            return load_dataset(folder, class_names=order, progress=context.progress)
        except DataError:  # damaged after it was written: rebuild once
            discard(folder)
            folder, _ = cached_folder(root, f"synthetic-{key}", is_complete, build)
            return load_dataset(folder, class_names=order, progress=context.progress)


BOX = Param("box", int, None, "box edge in voxels, cut centred on each particle", low=4,
            high=1024)
NORMALISE = Param("normalise", bool, True, "each particle to mean 0, std 1 (tomograms "
                  "differ in scale and offset)")


class _CutSource(DataSource):
    """Particles cut from whole tomograms: planned from coordinates and headers alone
    (what validation checks), cut once, then read from the cache."""

    @abstractmethod
    def plan(self, context: DataContext) -> tuple[ParticlePlan, list[Any]]:
        """The checked particle plan and one opener per tomogram; reads coordinates and
        headers (a copick tomogram: a 16^3 fingerprint), no particle's voxels."""

    def count_classes(self, context: DataContext) -> dict[str, int]:
        """From the coordinates and the tomograms' headers: no voxel is read."""
        return self.plan(context)[0].class_counts()

    def count_tomograms(self, context: DataContext) -> dict[str, dict[str, int]]:
        return self.plan(context)[0].tomogram_counts()

    def load(self, context: DataContext) -> Subtomograms:
        from cryobench.api import load_cut

        plan, openers = self.plan(context)
        return load_cut(plan, openers, context.cache_dir, source=self.name,
                        normalised=self.normalise, progress=context.progress)


class TomogramsSource(_CutSource):
    """Particles picked in MRC tomograms, listed by a RELION 5, RELION 3/4 or CSV file."""

    name = "tomograms"
    summary = "particles cut from MRC tomograms at RELION 5 / 3-4 STAR or CSV coordinates"
    params = (
        Param("coordinates", str, None, "particle list: RELION 5 or 3/4 STAR, or CSV "
              "(tomogram,x,y,z,label in voxels)"),
        Param("tomograms", str, None, "folder of the tomograms the list names (.mrc, .rec)"),
        BOX,
        Param("class_names", dict, None, "label text -> class name (e.g. RELION class numbers)",
              nullable=True),
        Param("label_column", str, None, "column holding the class (default: "
              "_rlnClassNumber in STAR, label in CSV)", nullable=True),
        Param("tomograms_star", str, None, "RELION 5 tomograms STAR: the tomograms' files "
              "(_rlnTomoReconstructedTomogram) and pixel sizes, checked against the MRC "
              "headers", nullable=True),
        NORMALISE,
        Param("coordinate_pixel_size", float, None, "pixel size (A) of RELION 3/4 or CSV "
              "coordinates, when not the tomogram's (e.g. unbinned tilt-series pixels)",
              low=0.01, nullable=True),
    )

    def plan(self, context: DataContext) -> tuple[ParticlePlan, list[Any]]:
        from cryobench.api import plan_from_list

        star = context.base_dir / self.tomograms_star if self.tomograms_star else None
        return plan_from_list(context.base_dir / self.coordinates,
                              context.base_dir / self.tomograms, self.box,
                              class_names=_as_str_map(self.class_names),
                              label_column=self.label_column, pixel_sizes=star,
                              root=context.base_dir,
                              coordinate_pixel_size=self.coordinate_pixel_size)


class CopickSource(_CutSource):
    """Particles of a copick project: its picks, cut from its OME-Zarr tomograms."""

    name = "copick"
    summary = "particles cut from a copick project's tomograms at its picks"
    params = (
        Param("project", str, None, "the copick project's configuration file "
              "(copick.json)"),
        Param("voxel_spacing", float, None, "voxel spacing (Angstrom) of the tomograms to cut",
              low=0.01),
        Param("tomogram_type", str, "wbp", "tomogram type (e.g. wbp, denoised)"),
        BOX,
        Param("objects", list, None, "pickable objects that are classes (default: every "
              "particle object with picks)", items=str, min_len=2, unique=True, nullable=True),
        Param("user_id", str, None, "count only this user's (or tool's) picks (needed when "
              "several pick sets of an object exist)", nullable=True),
        Param("session_id", str, None, "count only this session's picks", nullable=True),
        NORMALISE,
    )

    def plan(self, context: DataContext) -> tuple[ParticlePlan, list[Any]]:
        from cryobench.api import plan_from_project

        return plan_from_project(context.base_dir / self.project, self.voxel_spacing,
                                 self.tomogram_type, self.box, objects=self.objects,
                                 user_id=self.user_id, session_id=self.session_id)


@hookimpl
def cryobench_register_data_sources() -> list[type[DataSource]]:
    return [MrcSource, SyntheticSource, TomogramsSource, CopickSource]
