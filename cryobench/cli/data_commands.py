"""``cryobench simulate`` and ``cryobench inspect``: data sets written and read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.table import Table
from rich.text import Text

from cryobench.cli import terminal
from cryobench.cli.app import app, make_registry, user_errors


def _parse_mapping(text: Optional[str], what: str) -> Optional[dict[str, str]]:
    """"a=1,b=2" -> {"a": "1", "b": "2"} for command-line options."""
    from cryobench.errors import CryobenchError

    if text is None:
        return None
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() for p in pairs):
        raise CryobenchError(f"{what}: expected NAME=VALUE[,NAME=VALUE...], got {text!r}")
    names = [k.strip() for k, _ in pairs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise CryobenchError(f"{what}: {name!r} is given twice in {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


@app.command()
@user_errors
def simulate(
    out: Path = typer.Argument(..., help="Folder to create (MRC files, labels.csv, metadata.json)."),
    preset: str = typer.Option("neuron-polyga", help="Imaging and class counts to start from."),
    snr: Optional[float] = typer.Option(None, help="Mean signal variance / noise variance "
                                                   "(default: the calibrated one)."),
    scale: float = typer.Option(1.0, help="Multiply every class count."),
    seed: int = typer.Option(0, help="Data-set seed."),
    counts: Optional[str] = typer.Option(None, help="Class counts, e.g. 'ribosome=80,TRiC=125'."),
    box: Optional[int] = typer.Option(None, help="Box edge in voxels."),
    crowding: Optional[float] = typer.Option(None, help="Share of particles with a neighbour "
                                                        "at the edge (default 0.5)."),
    tomograms: int = typer.Option(0, min=0, help="Write this many whole tomograms with the "
                                                 "particles placed in them (RELION 5 STAR and "
                                                 "copick project beside them) instead."),
    tomogram_size: str = typer.Option("400x400x150", help="Tomogram size X x Y x Z in voxels."),
    copick: bool = typer.Option(True, help="With --tomograms: also write a copick project."),
) -> None:
    """Simulate a labelled data set of subtomograms as MRC files (or, with --tomograms,
    whole tomograms with their particle lists)."""
    import time

    from cryobench.contract.components import DataContext
    from cryobench.data.cache import cache_root
    from cryobench.data.export import check_output_folder, write_dataset
    from cryobench.errors import CryobenchError
    from cryobench.progress import phase_progress

    registry = make_registry()
    given = {"preset": preset, "scale": scale, "seed": seed, "box": box}
    given.update({k: v for k, v in (("snr", snr), ("crowding", crowding)) if v is not None})
    mapping = _parse_mapping(counts, "--counts")
    if mapping:
        try:
            given["class_counts"] = {k: int(v) for k, v in mapping.items()}
        except ValueError:
            raise CryobenchError(f"--counts: counts must be integers, got {counts!r}") from None
    info = registry.require("data_source", "synthetic", "simulator's")
    source = registry.create("data_source", info.name, given)
    check_output_folder(out)
    if tomograms:
        _simulate_tomograms(out, source.spec(), tomograms, tomogram_size, copick)
        return
    start = time.perf_counter()
    with phase_progress(terminal.console) as progress:
        data = source.load(DataContext(Path.cwd(), cache_root(), progress))
        write_dataset(out, data, {"source": info.name, "parameters": source.config,
                                  "code": info.code}, progress=progress)
    seconds = time.perf_counter() - start
    terminal.console.print(Text(f"wrote {len(data)} particles to {out} in {seconds:.1f} s"))


def _simulate_tomograms(out: Path, spec: Any, count: int, size: str, copick: bool) -> None:
    import time

    from cryobench.data.simulator.tomograms import TomogramSet, class_numbers, write_tomogram_set
    from cryobench.errors import CryobenchError
    from cryobench.progress import phase_progress

    try:
        x, y, z = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise CryobenchError(f"--tomogram-size: expected X x Y x Z in voxels, e.g. "
                             f"400x400x150, got {size!r}") from None
    if min(x, y, z) < 2:
        raise CryobenchError(f"--tomogram-size: {size!r} is not a 3D size")
    start = time.perf_counter()
    with phase_progress(terminal.console) as progress:
        write_tomogram_set(out, TomogramSet(spec, count, (z, y, x)), copick=copick,
                           progress=progress)
    numbers = ", ".join(f"{k}={v}" for k, v in class_numbers(TomogramSet(spec)).items())
    terminal.console.print(Text(f"wrote {spec.total} particles in {count} tomograms of {x} x {y} x {z} "
                       f"voxels to {out} in {time.perf_counter() - start:.1f} s: "
                       f"particles.star (RELION 5), tomograms.star"
                       f"{', copick/copick.json' if copick else ''}; class numbers {numbers}"))


@app.command()
@user_errors
def inspect(
    path: Path = typer.Argument(..., help="Label file (.csv/.star), a folder with one, a .mrcs "
                                          "stack, a coordinate list (with --tomograms) or a "
                                          "copick project (copick.json)."),
    labels: Optional[Path] = typer.Option(None, help="CSV (index,label) for a stack."),
    class_names: Optional[str] = typer.Option(None, help="Label -> name, e.g. '1=ribosome,2=TRiC'."),
    label_column: Optional[str] = typer.Option(None, help="Column holding the label "
                                                          "(default _rlnClassNumber; label in "
                                                          "a coordinate CSV)."),
    tomograms: Optional[Path] = typer.Option(None, help="Folder of the tomograms a coordinate "
                                                        "list names: cut its particles."),
    tomograms_star: Optional[Path] = typer.Option(None, help="RELION 5 tomograms STAR with "
                                                             "the pixel sizes."),
    box: Optional[int] = typer.Option(None, help="Box edge in voxels, for a coordinate list "
                                                 "or a copick project."),
    voxel_spacing: Optional[float] = typer.Option(None, help="copick: voxel spacing (A)."),
    tomogram_type: str = typer.Option("wbp", help="copick: tomogram type."),
    objects: Optional[str] = typer.Option(None, help="copick: objects that are classes, "
                                                     "e.g. 'ribosome,TRiC'."),
    user_id: Optional[str] = typer.Option(None, help="copick: only this user's picks."),
) -> None:
    """Read and validate every particle; print classes, box, voxel size and value
    statistics (and, for particles cut from tomograms, the counts per tomogram)."""
    import numpy as np

    from cryobench.data.loading import load_dataset
    from cryobench.progress import phase_progress

    names = _parse_mapping(class_names, "--class-names")
    cut = _cut_source(path, tomograms, tomograms_star, box, voxel_spacing, tomogram_type,
                      objects, user_id, names, label_column)
    with phase_progress(terminal.console) as progress:
        if cut is not None:
            data = _load_cut(cut, progress)
        else:
            data = load_dataset(path, labels=labels, class_names=names,
                                label_column=label_column or "_rlnClassNumber",
                                progress=progress)
    table = Table(title=Text(f"{path}: {len(data)} particles"))
    for column, justify in (("class", "left"), ("count", "right"), ("share %", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, count, share in data.summary():
        table.add_row(Text(name), str(count), f"{share:.2f}")
    terminal.console.print(table)
    if data.tomograms is not None:
        _print_tomograms(data)
    v = data.volumes
    terminal.console.print(f"box {data.box}^3 voxels, voxel size {data.voxel_size:.4f} nm "
                  f"(box edge {data.box * data.voxel_size:.1f} nm)")
    # float64: float32 sums of values near its largest overflow to inf
    terminal.console.print(f"values: mean {v.mean(dtype=np.float64):.4g}, std "
                  f"{v.std(dtype=np.float64):.4g}, min {v.min():.4g}, max {v.max():.4g}")


def _cut_source(path: Path, tomograms: Optional[Path], tomograms_star: Optional[Path],
                box: Optional[int], voxel_spacing: Optional[float], tomogram_type: str,
                objects: Optional[str], user_id: Optional[str],
                names: Optional[dict[str, str]], label_column: Optional[str]) -> Any:
    """The ``tomograms`` or ``copick`` source the options describe (None: pre-cut
    particles), built and checked as a benchmark file's would be."""
    from cryobench.errors import CryobenchError

    if path.suffix.lower() == ".json":
        given: dict[str, Any] = {"project": str(path), "voxel_spacing": voxel_spacing,
                                 "tomogram_type": tomogram_type, "box": box,
                                 "user_id": user_id}
        if objects:
            given["objects"] = [o.strip() for o in objects.split(",") if o.strip()]
        kind, needed = "copick", (("--voxel-spacing", voxel_spacing), ("--box", box))
    elif tomograms is not None:
        copick_only = [o for o, v in (("--voxel-spacing", voxel_spacing),
                                      ("--objects", objects), ("--user-id", user_id)) if v]
        if copick_only:
            raise CryobenchError(f"{path}: {', '.join(copick_only)} "
                                 f"{'is' if len(copick_only) == 1 else 'are'} for a copick "
                                 "project (copick.json), not a coordinate list; leave "
                                 f"{'it' if len(copick_only) == 1 else 'them'} out")
        given = {"coordinates": str(path), "tomograms": str(tomograms), "box": box,
                 "class_names": names, "label_column": label_column,
                 "tomograms_star": str(tomograms_star) if tomograms_star else None}
        kind, needed = "tomograms", (("--box", box),)
    elif _is_coordinate_list(path, label_column):
        raise CryobenchError(f"{path}: a list of particles in tomograms; give --tomograms "
                             "DIR (the folder of the tomograms) and --box N to cut them")
    else:
        return None
    for option, value in needed:
        if value is None:
            raise CryobenchError(f"{path}: give {option} to cut its particles")
    return make_registry().create("data_source", kind, given)


def _is_coordinate_list(path: Path, label_column: Optional[str]) -> bool:
    """A STAR or CSV that places particles in tomograms (not a label file of pre-cut
    particles)."""
    from cryobench.data.coordinates import read_picks
    from cryobench.errors import DataError

    if path.suffix.lower() not in (".star", ".csv") or not path.is_file():
        return False
    try:
        read_picks(path, label_column)
    except DataError:
        return False
    return True


def _load_cut(source: Any, progress: Callable[[str, int, int], None]) -> Any:
    from cryobench.contract.components import DataContext
    from cryobench.data.cache import cache_root

    return source.load(DataContext(Path.cwd(), cache_root(), progress))


def _print_tomograms(data: Any) -> None:
    import numpy as np

    table = Table(title=Text(f"{len(set(data.tomograms))} tomograms"))
    table.add_column("tomogram")
    for name in data.class_names:
        table.add_column(Text(name), justify="right")
    table.add_column("all", justify="right")
    for tomo in dict.fromkeys(data.tomograms):
        at = data.tomograms == tomo
        counts = np.bincount(data.labels[at], minlength=data.num_classes)
        table.add_row(Text(str(tomo)), *map(str, counts), str(int(at.sum())))
    terminal.console.print(table)
    meta = data.metadata
    terminal.console.print(Text(f"{meta.get('edge_particles', 0)} particles cross a tomogram's edge, "
                       f"padded with the {meta.get('padding', 'mean')}"))
