"""``nnuda-convert``: a CrossMoDA-style folder -> an nnU-Net v2 raw dataset.

One modality becomes the labeled training set; the rest goes where nnU-Net or our
trainers look for it:

========================  =====================================  ===========================
``--modality``            labeled cases (imagesTr / labelsTr)    serves
========================  =====================================  ===========================
``ceT1``                  ``source_training`` ceT1 + Label       no-adaptation baseline
``hrT2``                  ``target_training`` hrT2 + labels      oracle (needs target labels,
                          from ``target_training_labels``        i.e. ``nnuda-synth`` data)
========================  =====================================  ===========================

``--unlabeled`` adds the ``target_training`` hrT2 scans that are not labeled cases to
``imagesTrUnlabeled/`` (the unlabeled pool of our trainers); ``--n-labeled N`` keeps only
the first N labeled cases and, with ``--unlabeled``, moves the others' images into the
pool (the semi-supervised setting). ``--absence`` adds the ``target_training_absence`` hrT2
scans (known to show no schwannoma) to ``imagesTrAbsence/``, the absence domain of
``nnUNetTrainerPresenceAbsence``. ``target_validation`` goes to ``imagesTs/``.
Cases keep their CrossMoDA names (``crossmoda2021_etz_106``), so ``nnUNetv2_predict``
output pairs with ``<case>_Label.nii.gz`` in ``nnuda-evaluate``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import SimpleITK as sitk
from tqdm import tqdm

from nnunet_uda import crossmoda as cm
from nnunet_uda.cli_utils import check_not_inside, require_dir, run_cli
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import check_same_geometry, read_image
from nnunet_uda.raw_dataset import nnunet_raw_root, raw_dataset

TARGET_MODALITY = "hrT2"


def _read_checked(path: Path) -> sitk.Image:
    img = read_image(path)
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"expected a single-channel image, got {img.GetNumberOfComponentsPerPixel()} channels: {path}")
    return img


def _labeled_cases(folder: Path, modality: str) -> dict[str, tuple[Path, Path]]:
    if modality == "ceT1":
        return cm.paired_cases(require_dir(folder / cm.SOURCE_TRAINING, "source_training folder"), "ceT1")
    images = cm.image_cases(require_dir(folder / cm.TARGET_TRAINING, "target_training folder"), modality)
    label_dir = folder / cm.TARGET_TRAINING_LABELS
    if not label_dir.is_dir():
        raise InputError(
            f"no target labels: {label_dir} not found (--modality {modality} trains the oracle and needs "
            f"labeled target scans, which only nnuda-synth data has)"
        )
    labels = cm.list_folder(label_dir, (cm.LABEL_SUFFIX,))
    missing = sorted(set(images) - set(labels))
    if missing:
        raise InputError(f"image without label: {images[missing[0]]} has no {missing[0]}_Label.nii.gz in {label_dir}")
    return {case: (images[case], labels[case][cm.LABEL_SUFFIX]) for case in images}


def convert(
    input_dir: Path,
    dataset_id: int,
    modality: str = "ceT1",
    name: str | None = None,
    unlabeled: bool = False,
    n_labeled: int | None = None,
    raw_root: Path | None = None,
    overwrite: bool = False,
    absence: bool = False,
) -> Path:
    """Write ``<nnUNet_raw>/DatasetXXX_<name>`` from a CrossMoDA-style folder.

    Args:
        input_dir: the CrossMoDA-style folder (never written to).
        dataset_id: nnU-Net dataset id (1-999).
        modality: ``ceT1`` (source labels) or ``hrT2`` (target labels, oracle).
        name: dataset name; default ``CrossMoDA_<modality>``.
        unlabeled: add the unused ``target_training`` hrT2 scans to ``imagesTrUnlabeled``.
        n_labeled: keep only the first N labeled cases (sorted by name).
        raw_root: defaults to ``$nnUNet_raw``.
        overwrite: replace an existing dataset of the same id and name.
        absence: add the ``target_training_absence`` hrT2 scans to ``imagesTrAbsence``.

    Returns:
        The dataset folder.

    Raises:
        InputError: missing folders, unpaired or unreadable files, NaNs, label values
            outside {0, 1, 2}, image/label geometry mismatch, an existing output.
    """
    input_dir = require_dir(Path(input_dir), "input folder")
    modality = cm.check_modality(modality)
    root = nnunet_raw_root(raw_root)
    check_not_inside(root, [input_dir])
    labeled = _labeled_cases(input_dir, modality)
    if n_labeled is not None:
        if not 1 <= n_labeled <= len(labeled):
            raise InputError(f"--n-labeled must be between 1 and {len(labeled)} (labeled cases in {input_dir}), got {n_labeled}")
        labeled = dict(sorted(labeled.items())[:n_labeled])
    pool: dict[str, Path] = {}
    if unlabeled:
        pool = cm.image_cases(require_dir(input_dir / cm.TARGET_TRAINING, "target_training folder"), TARGET_MODALITY)
        pool = {c: p for c, p in pool.items() if c not in labeled}
        if not pool:
            raise InputError(f"--unlabeled: no hrT2 scans left for the pool in {input_dir / cm.TARGET_TRAINING}")
    absent: dict[str, Path] = {}
    if absence:
        absent = cm.image_cases(require_dir(input_dir / cm.TARGET_TRAINING_ABSENCE, "target_training_absence folder"),
                                TARGET_MODALITY)
        if not absent:
            raise InputError(f"--absence: no *_{TARGET_MODALITY}.nii.gz scans in {input_dir / cm.TARGET_TRAINING_ABSENCE}")
    val_dir = input_dir / cm.TARGET_VALIDATION
    test = cm.image_cases(val_dir, TARGET_MODALITY) if val_dir.is_dir() else {}

    name = name or f"CrossMoDA_{modality}"
    with raw_dataset(dataset_id, name, modality, raw_root=root, overwrite=overwrite) as ds:
        ds.extra = {
            "made_by": "nnuda-convert",
            "source_folder": str(input_dir.resolve()),
            "modality": modality,
            "labeled_cases": sorted(labeled),
        }
        for case, (img_path, lab_path) in tqdm(sorted(labeled.items()), desc="labeled", unit="case"):
            img, lab = _read_checked(img_path), read_image(lab_path)
            check_same_geometry(img, lab, img_path, lab_path)
            ds.add_labeled(case, img, lab, source=str(lab_path))
        for case, path in tqdm(sorted(pool.items()), desc="unlabeled", unit="case", disable=not pool):
            ds.add_unlabeled(case, _read_checked(path))
        for case, path in tqdm(sorted(absent.items()), desc="absence", unit="case", disable=not absent):
            ds.add_absence(case, _read_checked(path))
        for case, path in tqdm(sorted(test.items()), desc="test", unit="case", disable=not test):
            ds.add_test(case, _read_checked(path))
    print(f"wrote {ds.destination}: {len(labeled)} labeled, {len(pool)} unlabeled, {len(absent)} absence, "
          f"{len(test)} test cases")
    return ds.destination


def convert_entry() -> None:
    """``nnuda-convert -i FOLDER -d ID [--modality ceT1|hrT2] [--unlabeled] ...``"""
    parser = argparse.ArgumentParser(
        prog="nnuda-convert", description="Convert a CrossMoDA-style folder into an nnU-Net raw dataset."
    )
    parser.add_argument("-i", "--input", required=True, type=Path, help="CrossMoDA-style folder")
    parser.add_argument("-d", "--dataset-id", required=True, type=int, help="nnU-Net dataset id, e.g. 501")
    parser.add_argument("--modality", default="ceT1", help="labeled modality: ceT1 (baseline) or hrT2 (oracle)")
    parser.add_argument("--name", help="dataset name (default CrossMoDA_<modality>)")
    parser.add_argument("--unlabeled", action="store_true", help="add target_training hrT2 scans as unlabeled pool")
    parser.add_argument("--n-labeled", type=int, help="keep only the first N labeled cases")
    parser.add_argument("--absence", action="store_true",
                        help="add target_training_absence hrT2 scans (no schwannoma) as imagesTrAbsence")
    parser.add_argument("--raw", type=Path, help="nnUNet_raw folder (default: $nnUNet_raw)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    args = parser.parse_args()
    run_cli(
        "nnuda-convert",
        lambda: convert(
            args.input, args.dataset_id, args.modality, args.name, args.unlabeled, args.n_labeled, args.raw, args.overwrite,
            args.absence,
        ),
    )
