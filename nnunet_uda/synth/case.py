"""Plan the cases of a folder and render one case: image, label and paired image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnunet_uda.crossmoda import (LABELS, SOURCE_TRAINING, TARGET_TRAINING, TARGET_TRAINING_ABSENCE,
                                  TARGET_VALIDATION)
from nnunet_uda.synth.anatomy import case_rng, sample_anatomy
from nnunet_uda.synth.paint import Grid, sample, supersampling
from nnunet_uda.synth.presets import GridSpec, Preset
from nnunet_uda.synth.render import Acquisition, acquire
from nnunet_uda.synth.style import Style, draw_style
from nnunet_uda.synth.tissues import VS_TISSUES, Tissue

TARGET_TRAINING_ABSENCE_LABELS = "target_training_absence_labels"
FIRST_TARGET_ID = 106  # as in the CrossMoDA 2021 release: source 1-105, target from 106
TARGET_SITES = ("etz", "ldn")
_GRID_STREAM = 1
_ACQ_STREAM = {("ceT1", "ldn"): 2, ("hrT2", "etz"): 3, ("hrT2", "ldn"): 4}


@dataclass(frozen=True)
class CaseSpec:
    """One case of the folder: its name, id, split, site and (primary) modality."""

    name: str
    number: int
    split: str
    site: str
    modality: str

    @property
    def protocol_key(self) -> tuple[str, str]:
        return self.modality, self.site

    @property
    def paired_protocol_key(self) -> tuple[str, str]:
        """The other modality, as scanned at the source site (the only ceT1 protocol)."""
        return "hrT2" if self.modality == "ceT1" else "ceT1", "ldn"


def plan_cases(n_source: int, n_target: int, n_validation: int, n_absence: int = 0) -> list[CaseSpec]:
    """Source cases ``crossmoda2021_ldn_1..``; target ids from 106, sites alternating etz / ldn;
    the ``n_absence`` hrT2 cases without a schwannoma numbered after the validation cases."""
    cases = [CaseSpec(f"crossmoda2021_ldn_{i}", i, SOURCE_TRAINING, "ldn", "ceT1") for i in range(1, n_source + 1)]
    number = max(FIRST_TARGET_ID, n_source + 1)
    for split, n in ((TARGET_TRAINING, n_target), (TARGET_VALIDATION, n_validation), (TARGET_TRAINING_ABSENCE, n_absence)):
        for k in range(n):
            site = TARGET_SITES[(number - FIRST_TARGET_ID) % 2]
            cases.append(CaseSpec(f"crossmoda2021_{site}_{number}", number, split, site, "hrT2"))
            number += 1
    return cases


def draw_grid(spec: GridSpec, anatomy_pose: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> Grid:
    """The acquisition grid: scanner-aligned, centred on the region of interest with some jitter."""
    rot, trans = anatomy_pose
    nz = int(rng.integers(spec.slices[0], spec.slices[1] + 1))
    center = rot @ np.asarray(spec.center) + trans + rng.uniform(-3.0, 3.0, 3)
    nx, ny = spec.matrix
    n = np.array([nx, ny, nz])
    spacing = np.array([spec.spacing_xy, spec.spacing_xy, spec.spacing_z])
    origin = center - (n - 1) / 2 * spacing
    return Grid((nz, ny, nx), tuple(map(float, spacing)), tuple(float(round(o, 4)) for o in origin))


@dataclass
class RenderedCase:
    """A rendered case: its grid, image, paired image (other modality), label and metadata."""

    spec: CaseSpec
    grid: Grid
    image: np.ndarray
    paired: np.ndarray
    label: np.ndarray
    info: dict
    tissue: np.ndarray | None = None


def labels_from_fractions(vs: np.ndarray, cochleae: list[np.ndarray]) -> np.ndarray:
    """Label map (uint8): a structure where it fills at least half a voxel.

    A structure too small for that on a coarse grid still gets the voxels it fills
    most (at least half its maximum fraction), so every case has both labels.
    """
    label = np.zeros(vs.shape, np.uint8)
    for frac, value in [(c, LABELS["cochlea"]) for c in cochleae] + [(vs, LABELS["VS"])]:
        mask = frac >= 0.5
        if not mask.any() and frac.max() > 0:
            mask = frac >= 0.5 * frac.max()
        label[mask] = value
    return label


def render_case(spec: CaseSpec, preset: Preset, seed: int, with_tissue: bool = False,
                style: Style | None = None) -> RenderedCase:
    """Render one case from its own random streams (reproducible without the other cases).

    ``style``: the folder's protocols, grids and tumour statistics (default: the one
    :func:`~nnunet_uda.synth.style.draw_style` draws for ``seed``).
    """
    style = style or draw_style(preset, seed)
    anatomy = sample_anatomy(case_rng(seed, spec.number, 0), style.tumour.intracanalicular_fraction,
                             style.tumour.radius_mm, tumour=spec.split != TARGET_TRAINING_ABSENCE)
    grid_spec = style.grids["ceT1" if spec.modality == "ceT1" else spec.site]
    grid = draw_grid(grid_spec, (anatomy.rotation, anatomy.translation), case_rng(seed, spec.number, _GRID_STREAM))
    main, other = style.protocols[spec.protocol_key], style.protocols[spec.paired_protocol_key]
    acq_main = Acquisition.draw(main, case_rng(seed, spec.number, _ACQ_STREAM[(main.modality, main.site)]))
    acq_other = Acquisition.draw(other, case_rng(seed, spec.number, _ACQ_STREAM[(other.modality, other.site)]))
    sampled = sample(
        anatomy,
        grid,
        supersampling(grid, preset.supersample_mm),
        {"main": acq_main.lut, "other": acq_other.lut},
        {"vs": VS_TISSUES, "cochlea_l": (Tissue.COCHLEA_L,), "cochlea_r": (Tissue.COCHLEA_R,)},
        with_tissue=with_tissue,
    )
    f = sampled.fractions
    label = labels_from_fractions(f["vs"], [f["cochlea_l"], f["cochlea_r"]])
    image = acquire(sampled.signals["main"], grid, main, acq_main)
    paired = acquire(sampled.signals["other"], grid, other, acq_other, clean=True)
    info = dict(anatomy.info)
    info["vs_volume_mm3"] = round(float((label == LABELS["VS"]).sum()) * grid.voxel_volume(), 2)
    return RenderedCase(spec, grid, image, paired, label, info, sampled.tissue)
