"""Sizes of the generated data: ``tiny`` (tests), ``demo`` (nnuda-demo), ``small`` (CPU
benchmarks), ``full`` (CrossMoDA-sized).

``tiny`` images a field of view of about 100 x 100 x 45 mm around the internal auditory
canals at 2.2-2.75 mm, where the cochlea is a few voxels: enough to exercise the code,
too coarse to learn the cochlea. ``small`` images PAST's region of interest, about
96 x 66 x 42 mm (both cochleae, the cisterns and the tumour), at 0.7-0.82 mm in plane
and 1.3-1.6 mm slices, so the cochlea spans 150-350 voxels and an nnU-Net learns both
structures on a CPU in minutes (measured in ``benchmarks/uda_accuracy``). ``demo`` images the
same region at 0.96-1.1 mm and 1.8-2 mm slices with fewer cases, for nnuda-demo's 15
minutes (the cochlea spans 90-170 voxels). ``full`` images
the whole head in ceT1 and a slab through the posterior fossa in hrT2, with CrossMoDA's
in-plane matrices (512 ceT1, 448 etz, 384 ldn). A seed varies these grids (see
:mod:`nnunet_uda.synth.style`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nnunet_uda.errors import InputError


@dataclass(frozen=True)
class GridSpec:
    """One acquisition's grid: in-plane matrix, spacing (mm), number of slices, FOV centre.

    ``in_plane`` is the matrix, square (one number) or ``(x, y)`` (left-right, anterior-
    posterior); ``center`` is the field-of-view centre in the head frame (mm); ``slices`` a
    (min, max) range drawn per case.
    """

    in_plane: int | tuple[int, int]
    spacing_xy: float
    spacing_z: float
    slices: tuple[int, int]
    center: tuple[float, float, float]

    @property
    def matrix(self) -> tuple[int, int]:
        """In-plane matrix ``(x, y)``."""
        return (self.in_plane, self.in_plane) if isinstance(self.in_plane, int) else tuple(self.in_plane)


@dataclass(frozen=True)
class Preset:
    """A named size: case counts, the grid of each protocol, and the painting resolution.

    ``supersample_mm``: the tissue map is sampled at about this resolution inside each
    voxel (at most 3 points per axis) and averaged, which gives partial-volume effects.
    """

    name: str
    n_source: int
    n_target: int
    n_validation: int
    grids: dict[str, GridSpec]  # keys: "ceT1", "etz", "ldn"
    supersample_mm: float


PREVIEW = "preview.png"  # written beside the data
METADATA = "synth.json"

_ROI = (0.0, 4.0, -1.0)

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        6,
        6,
        2,
        {
            "ceT1": GridSpec(40, 2.45, 3.0, (16, 18), _ROI),
            "etz": GridSpec(44, 2.25, 2.2, (20, 22), _ROI),
            "ldn": GridSpec(36, 2.75, 2.5, (17, 19), _ROI),
        },
        1.5,
    ),
    "small": Preset(
        "small",
        20,
        20,
        6,
        {
            "ceT1": GridSpec((128, 88), 0.75, 1.5, (26, 30), _ROI),
            "etz": GridSpec((138, 94), 0.7, 1.3, (30, 34), _ROI),
            "ldn": GridSpec((118, 80), 0.82, 1.6, (24, 28), _ROI),
        },
        0.8,
    ),
    "demo": Preset(
        "demo",
        8,
        8,
        4,
        {
            "ceT1": GridSpec((96, 66), 1.0, 2.0, (20, 22), _ROI),
            "etz": GridSpec((100, 68), 0.96, 1.8, (22, 24), _ROI),
            "ldn": GridSpec((88, 60), 1.1, 2.0, (20, 22), _ROI),
        },
        1.0,
    ),
    "full": Preset(
        "full",
        105,
        105,
        32,
        {
            "ceT1": GridSpec(512, 0.45, 1.5, (100, 120), (0.0, -5.0, 18.0)),
            "etz": GridSpec(448, 0.47, 0.8, (60, 80), (0.0, -5.0, -1.0)),
            "ldn": GridSpec(384, 0.55, 1.0, (40, 60), (0.0, -5.0, -1.0)),
        },
        0.8,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is an :class:`InputError`."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
