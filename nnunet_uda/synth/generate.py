"""Write a CrossMoDA-style phantom folder: images, labels, paired renders, metadata, preview."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from nnunet_uda import __version__
from nnunet_uda.cli_utils import atomic_output_dir
from nnunet_uda.crossmoda import (
    LABEL_SUFFIX,
    LABELS,
    PAIRED,
    SOURCE_TRAINING,
    TARGET_TRAINING,
    TARGET_TRAINING_LABELS,
    TARGET_VALIDATION,
    TARGET_VALIDATION_LABELS,
)
from nnunet_uda.errors import InputError
from nnunet_uda.synth.case import (TARGET_TRAINING_ABSENCE, TARGET_TRAINING_ABSENCE_LABELS, RenderedCase, plan_cases,
                                   render_case)
from nnunet_uda.synth.paint import Grid
from nnunet_uda.synth.presets import METADATA, PREVIEW, get_preset
from nnunet_uda.synth.style import draw_style

_LABEL_FOLDER = {
    SOURCE_TRAINING: SOURCE_TRAINING,
    TARGET_TRAINING: TARGET_TRAINING_LABELS,
    TARGET_VALIDATION: TARGET_VALIDATION_LABELS,
    TARGET_TRAINING_ABSENCE: TARGET_TRAINING_ABSENCE_LABELS,
}


def _count(name: str, value: int | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} (--{name.replace('_', '-')}) must be a whole number >= 1, got {value!r}")
    return int(value)


def _write(arr: np.ndarray, grid: Grid, path: Path) -> None:
    img = sitk.GetImageFromArray(arr)
    img.CopyInformation(grid.reference())
    sitk.WriteImage(img, str(path), useCompression=True)


def _write_case(rc: RenderedCase, root: Path) -> dict:
    """Write image, label and paired image of one case; return its metadata record."""
    spec = rc.spec
    other = rc.spec.paired_protocol_key[0]
    image = Path(spec.split) / f"{spec.name}_{spec.modality}.nii.gz"
    label = Path(_LABEL_FOLDER[spec.split]) / f"{spec.name}_{LABEL_SUFFIX}.nii.gz"
    paired = Path(PAIRED) / f"{spec.name}_{other}.nii.gz"
    _write(rc.image, rc.grid, root / image)
    _write(rc.label, rc.grid, root / label)
    _write(rc.paired, rc.grid, root / paired)
    return {
        "case": spec.name,
        "split": spec.split,
        "site": spec.site,
        "modality": spec.modality,
        "image": image.as_posix(),
        "label": label.as_posix(),
        "paired": paired.as_posix(),
        "paired_modality": other,
        "shape_zyx": list(rc.grid.shape),
        "spacing_xyz": list(rc.grid.spacing),
        "origin_xyz": list(rc.grid.origin),
        "cochlea_voxels": int((rc.label == LABELS["cochlea"]).sum()),
        **rc.info,
    }


def synthesize(
    output: Path,
    preset: str = "tiny",
    seed: int = 0,
    overwrite: bool = False,
    n_source: int | None = None,
    n_target: int | None = None,
    n_validation: int | None = None,
    preview: bool = True,
    vary: bool = True,
    n_absence: int = 0,
) -> Path:
    """Generate a CrossMoDA-style phantom folder at ``output``.

    Layout: ``source_training/`` (ceT1 + Label), ``target_training/`` and
    ``target_validation/`` (hrT2, sites alternating etz / ldn), their labels in
    ``target_*_labels/`` (evaluation and oracle only), ``paired/`` (every case rendered in
    the other modality on its own grid, without bias field and noise, to score
    translation), ``synth.json`` and ``preview.png``. With ``n_absence``, also
    ``target_training_absence/`` (hrT2 cases drawn without a schwannoma, the absence domain of
    ``nnUNetTrainerPresenceAbsence``) and their labels (cochleae only) in
    ``target_training_absence_labels/``. Each case is drawn from its own
    random streams of ``seed``, so the output is deterministic.

    Args:
        output: folder to create; built in a temporary sibling and moved into place.
        preset: ``tiny`` (tests), ``small`` (CPU demo) or ``full`` (CrossMoDA-sized).
        seed: random seed (>= 0).
        overwrite: replace an existing non-empty ``output``.
        n_source, n_target, n_validation: case counts (default: the preset's).
        n_absence: hrT2 cases without a schwannoma (default 0).
        preview: write ``preview.png``.
        vary: draw the folder's style (protocol tables, grids, tumour sizes) from
            ``seed`` (:mod:`nnunet_uda.synth.style`); ``False``: the reference style.

    Returns:
        ``output``.

    Raises:
        InputError: unknown preset, a count < 1 (``n_absence`` < 0), a negative seed, or an
            existing output without ``overwrite``.
    """
    spec = get_preset(preset)
    counts = (
        _count("n_source", n_source, spec.n_source),
        _count("n_target", n_target, spec.n_target),
        _count("n_validation", n_validation, spec.n_validation),
    )
    if isinstance(n_absence, bool) or not isinstance(n_absence, (int, np.integer)) or n_absence < 0:
        raise InputError(f"n_absence (--n-absence) must be a whole number >= 0, got {n_absence!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0, got {seed!r}")
    output = Path(output)
    cases = plan_cases(*counts, int(n_absence))
    style = draw_style(spec, int(seed), vary)
    with atomic_output_dir(output, overwrite) as tmp:
        absence_folders = () if n_absence else (TARGET_TRAINING_ABSENCE, TARGET_TRAINING_ABSENCE_LABELS)
        for folder in (*_LABEL_FOLDER, *_LABEL_FOLDER.values(), PAIRED):
            if folder not in absence_folders:
                (tmp / folder).mkdir(exist_ok=True)
        records = [_write_case(render_case(c, spec, int(seed), style=style), tmp)
                   for c in tqdm(cases, desc="nnuda-synth", unit="case", disable=None)]
        meta = {
            "generator": "nnuda-synth",
            "version": __version__,
            "preset": preset,
            "seed": int(seed),
            "counts": dict(zip(("source_training", "target_training", "target_validation"), counts))
            | ({TARGET_TRAINING_ABSENCE: int(n_absence)} if n_absence else {}),
            "labels": LABELS,
            "paired": "each case rendered in the other modality on its own grid, without bias field and noise; "
            "source cases as hrT2 of site ldn, target cases as ceT1",
            "coordinates": "spacing and origin in mm, (x, y, z), identity direction; shape (z, y, x)",
            "style": {"varied": bool(vary), **style.record()},
            "cases": records,
        }
        (tmp / METADATA).write_text(json.dumps(meta, indent=1))
        if preview:
            from nnunet_uda.synth.preview import write_preview

            write_preview(tmp, records, tmp / PREVIEW)
    return output
