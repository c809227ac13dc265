"""The CrossMoDA folder layout and file names, shared by every command that reads one.

A CrossMoDA-style folder (the challenge release, or ``nnuda-synth`` output) holds::

    source_training/   <case>_ceT1.nii.gz  and  <case>_Label.nii.gz   (labeled source)
    target_training/   <case>_hrT2.nii.gz                             (unlabeled target)
    target_validation/ <case>_hrT2.nii.gz                             (images to segment)

``nnuda-synth`` adds ``target_training_labels/``, ``target_validation_labels/`` (truth
for evaluation and the oracle baseline only) and ``paired/`` (each case rendered in the
other modality, for scoring translation). Case names are e.g. ``crossmoda2021_ldn_1``
or, as in the 2021 release, ``crossmoda_1``; the site (``ldn``, ``etz``) is the token
after the prefix when there is one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nnunet_uda.errors import InputError
from nnunet_uda.image_io import is_nifti

MODALITIES = ("ceT1", "hrT2")
LABEL_SUFFIX = "Label"
LABELS = {"background": 0, "VS": 1, "cochlea": 2}

SOURCE_TRAINING = "source_training"
TARGET_TRAINING = "target_training"
TARGET_VALIDATION = "target_validation"
TARGET_TRAINING_LABELS = "target_training_labels"
TARGET_VALIDATION_LABELS = "target_validation_labels"
TARGET_TRAINING_ABSENCE = "target_training_absence"  # hrT2 scans known to show no schwannoma (weak labels)
PAIRED = "paired"

_NAME = re.compile(r"^(?P<case>.+)_(?P<kind>ceT1|hrT2|Label)\.nii(\.gz)?$")
_SITE = re.compile(r"^[^_]+_(?P<site>[A-Za-z]+)_\d+$")


@dataclass(frozen=True)
class CaseFile:
    """One file of a CrossMoDA folder: ``case`` id, ``kind`` (ceT1, hrT2 or Label), path."""

    case: str
    kind: str
    path: Path

    @property
    def site(self) -> str | None:
        """Site token of the case name (``crossmoda2021_etz_106`` -> ``etz``), if any."""
        return site_of(self.case)


def site_of(case: str) -> str | None:
    """Site token of a case id, or None for names without one (``crossmoda_1``)."""
    m = _SITE.match(case)
    return m.group("site") if m else None


def parse_name(path: Path) -> CaseFile:
    """Parse ``<case>_<ceT1|hrT2|Label>.nii.gz``; anything else is an :class:`InputError`."""
    path = Path(path)
    if not is_nifti(path):
        raise InputError(f"not a NIfTI file (.nii.gz expected): {path}")
    m = _NAME.match(path.name)
    if m is None:
        raise InputError(
            f"unknown file name {path.name} in {path.parent}: expected <case>_ceT1.nii.gz, "
            f"<case>_hrT2.nii.gz or <case>_Label.nii.gz"
        )
    return CaseFile(m.group("case"), m.group("kind"), path)


def list_folder(folder: Path, kinds: tuple[str, ...]) -> dict[str, dict[str, Path]]:
    """Map ``case -> {kind: path}`` for the files of ``folder`` whose kind is in ``kinds``.

    Hidden files and files of other kinds (e.g. the other modality in a folder that has
    both) are left alone; a non-NIfTI file or an unparseable NIfTI name is an error, as
    is a folder with no file of the wanted kinds.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"folder not found: {folder}")
    cases: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.is_dir():
            continue
        f = parse_name(p)
        if f.kind in kinds:
            cases.setdefault(f.case, {})[f.kind] = p
    if not cases:
        raise InputError(f"no {' or '.join('*_' + k + '.nii.gz' for k in kinds)} files in {folder}")
    return cases


def paired_cases(folder: Path, image_kind: str) -> dict[str, tuple[Path, Path]]:
    """``case -> (image, label)`` for a labeled folder; an unpaired file is an error."""
    cases = list_folder(folder, (image_kind, LABEL_SUFFIX))
    out = {}
    for case, files in cases.items():
        if image_kind not in files:
            raise InputError(f"label without image: {files[LABEL_SUFFIX]} has no {case}_{image_kind}.nii.gz beside it")
        if LABEL_SUFFIX not in files:
            raise InputError(f"image without label: {files[image_kind]} has no {case}_{LABEL_SUFFIX}.nii.gz beside it")
        out[case] = (files[image_kind], files[LABEL_SUFFIX])
    return out


def image_cases(folder: Path, image_kind: str) -> dict[str, Path]:
    """``case -> image`` for an unlabeled folder of one modality."""
    return {case: files[image_kind] for case, files in list_folder(folder, (image_kind,)).items() if image_kind in files}


def check_modality(name: str) -> str:
    """Return ``name`` if it is a known modality suffix, else a clear :class:`InputError`."""
    if name not in MODALITIES:
        raise InputError(f"unknown modality suffix {name!r}: expected one of {', '.join(MODALITIES)}")
    return name
