"""Sizes of the generated data: ``tiny`` (tests), ``small`` (CPU demo), ``full`` (CrossMoDA-sized).

``tiny`` and ``small`` image a field of view of about 100 x 100 x 40-55 mm around the
internal auditory canals and posterior fossa (both cochleae, the cisterns and the
tumour), so the cochlea and small tumours span several voxels; ``full`` images the
whole head in ceT1 and a slab through the posterior fossa in hrT2, with CrossMoDA's
in-plane matrices (512 ceT1, 448 etz, 384 ldn).
"""

from __future__ import annotations

from dataclasses import dataclass

from nnunet_uda.errors import InputError


@dataclass(frozen=True)
class GridSpec:
    """One acquisition's grid: in-plane matrix, spacing (mm), number of slices, FOV centre.

    ``center`` is the field-of-view centre in the head frame (mm); ``slices`` a
    (min, max) range drawn per case.
    """

    in_plane: int
    spacing_xy: float
    spacing_z: float
    slices: tuple[int, int]
    center: tuple[float, float, float]


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
            "ceT1": GridSpec(72, 1.4, 1.8, (26, 30), _ROI),
            "etz": GridSpec(80, 1.25, 1.5, (28, 32), _ROI),
            "ldn": GridSpec(64, 1.55, 1.8, (24, 28), _ROI),
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
