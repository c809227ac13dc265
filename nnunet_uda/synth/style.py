"""A data set's style: the protocols, grids and tumour statistics one seed draws.

Two folders of ``nnuda-synth`` with different seeds differ not only in their cases but
in how they were scanned: every tissue's signal in each protocol, noise, bias field and
blur, the in-plane spacing, slice thickness and field of view of each site, and how many
tumours are small intracanalicular ones. A method tuned to one style can then be checked
on another. The draws keep what defines the task: on hrT2, CSF and the inner-ear fluid
are bright, the tumour intermediate and bone dark; on ceT1, the tumour enhances and the
fluid is dark. ``vary=False`` gives the reference style (the tables in
:mod:`nnunet_uda.synth.render` and the preset's grids) for every seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from nnunet_uda.synth.presets import GridSpec, Preset
from nnunet_uda.synth.render import PROTOCOLS, Protocol
from nnunet_uda.synth.tissues import Tissue

STYLE_STREAM = 0
"""Random stream of the style: ``(seed, 0, STYLE_STREAM)``; cases use ids >= 1."""

# Signal ranges that keep the task's contrasts (relative to CSF = 1 on hrT2).
_HRT2_RANGES = {Tissue.VS: (0.25, 0.55), Tissue.VS_CYST: (0.7, 0.95), Tissue.LABYRINTH: (0.85, 1.0),
                Tissue.COCHLEA_L: (0.85, 1.0), Tissue.COCHLEA_R: (0.85, 1.0)}
_CET1_RANGES = {Tissue.VS: (0.75, 1.0), Tissue.VS_CYST: (0.12, 0.3), Tissue.CSF: (0.06, 0.16),
                Tissue.LABYRINTH: (0.08, 0.2), Tissue.COCHLEA_L: (0.08, 0.2), Tissue.COCHLEA_R: (0.08, 0.2)}
_FIXED = {Tissue.AIR, Tissue.CSF}  # air is 0; CSF is the hrT2 reference (CSF on ceT1 has its range)


@dataclass(frozen=True)
class TumourStyle:
    """How often the tumour is intracanalicular, and the radius range (mm) of the others."""

    intracanalicular_fraction: float = 0.25
    radius_mm: tuple[float, float] = (4.0, 17.0)


@dataclass(frozen=True)
class Style:
    """Protocols by ``(modality, site)``, grids by ``ceT1`` / site, and the tumour statistics."""

    protocols: dict[tuple[str, str], Protocol]
    grids: dict[str, GridSpec]
    tumour: TumourStyle

    def record(self) -> dict:
        """A JSON-able description (for ``synth.json``)."""
        return {
            "protocols": {f"{m}_{s}": {"values": {t.name.lower(): round(float(v), 4) for t, v in p.values.items()},
                                       "noise": round(p.noise, 4), "bias": round(p.bias, 4),
                                       "psf_voxels": [round(x, 3) for x in p.psf]}
                          for (m, s), p in self.protocols.items()},
            "grids": {k: {**asdict(g), "matrix_xy": list(g.matrix)} for k, g in self.grids.items()},
            "tumour": asdict(self.tumour),
        }


def _draw_protocol(base: Protocol, rng: np.random.Generator) -> Protocol:
    ranges = _CET1_RANGES if base.modality == "ceT1" else _HRT2_RANGES
    values = {}
    for tissue, v in base.values.items():
        if tissue in ranges:
            values[tissue] = float(rng.uniform(*ranges[tissue]))
        elif tissue in _FIXED:
            values[tissue] = v
        else:
            values[tissue] = float(np.clip(v * np.exp(rng.normal(0.0, 0.15)), 0.0, 1.0))
    return replace(
        base,
        values=values,
        noise=base.noise * float(rng.uniform(0.7, 1.4)),
        bias=base.bias * float(rng.uniform(0.7, 1.4)),
        psf=tuple(float(p * rng.uniform(0.8, 1.25)) for p in base.psf),
    )


def _draw_grid(base: GridSpec, rng: np.random.Generator) -> GridSpec:
    """Spacing, slice thickness and field of view of one protocol; the slab keeps its extent."""
    xy = base.spacing_xy * float(rng.uniform(0.9, 1.12))
    z = base.spacing_z * float(rng.uniform(0.8, 1.3))
    fov = float(rng.uniform(0.92, 1.1))
    matrix = tuple(max(8, int(round(n * base.spacing_xy * fov / xy))) for n in base.matrix)
    slices = tuple(max(2, int(round(n * base.spacing_z / z))) for n in base.slices)
    return GridSpec(matrix if matrix[0] != matrix[1] else matrix[0], round(xy, 4), round(z, 4), slices, base.center)


def draw_style(preset: Preset, seed: int, vary: bool = True) -> Style:
    """The style of a folder drawn with ``seed`` (the reference style if not ``vary``)."""
    if not vary:
        return Style(dict(PROTOCOLS), dict(preset.grids), TumourStyle())
    rng = np.random.default_rng([seed, 0, STYLE_STREAM])
    protocols = {key: _draw_protocol(p, rng) for key, p in sorted(PROTOCOLS.items())}
    grids = {key: _draw_grid(g, rng) for key, g in sorted(preset.grids.items())}
    tumour = TumourStyle(float(rng.uniform(0.15, 0.4)), (float(rng.uniform(2.5, 4.5)), float(rng.uniform(13.0, 18.0))))
    return Style(protocols, grids, tumour)
