"""Writing an nnU-Net v2 raw dataset (``nnUNet_raw/DatasetXXX_Name``), atomically.

Our additions to nnU-Net's layout, shared by ``nnuda-convert`` and ``nnuda-translate``:

- ``imagesTrUnlabeled/<case>_0000.nii.gz``: the unlabeled pool (real target scans);
  stock nnU-Net ignores the folder, our trainers preprocess it with nnU-Net's own
  preprocessor.
- ``imagesTrPairs/<case>_0000.nii.gz`` and ``<case>_0001.nii.gz``: twin pairs for the
  dual-teacher trainers (``nnuda-translate --twins``): one anatomy in the source domain's
  style (channel 0) and in the target domain's (channel 1), on one grid, so they are
  streamed and augmented together.
- ``imagesTrAbsence/<case>_0000.nii.gz``: scans known to show no target structure anywhere
  (the absence domain of :class:`nnUNetTrainerPresenceAbsence`); imagesTr and
  imagesTrUnlabeled then hold the presence domain, with and without masks.
- extra ``dataset.json`` keys: ``numUnlabeled`` (size of the pool), ``numPairs``, ``numAbsence``, ``nnunet_uda``
  (a dict saying how the dataset was made: source folder, modality, translation model).
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import SimpleITK as sitk

from nnunet_uda.cli_utils import atomic_output_dir
from nnunet_uda.crossmoda import LABELS
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import write_image

IMAGES_TR = "imagesTr"
LABELS_TR = "labelsTr"
IMAGES_TS = "imagesTs"
IMAGES_UNLABELED = "imagesTrUnlabeled"
IMAGES_PAIRS = "imagesTrPairs"
IMAGES_ABSENCE = "imagesTrAbsence"
PAIR_VIEWS = ("source style", "target style")  # channel 0, channel 1 of a pair
FILE_ENDING = ".nii.gz"


def nnunet_raw_root(raw_root: Path | None = None) -> Path:
    """``raw_root``, or the ``nnUNet_raw`` environment variable; an error if neither is set."""
    if raw_root is not None:
        return Path(raw_root)
    env = os.environ.get("nnUNet_raw")
    if not env:
        raise InputError("nnUNet_raw is not set: export nnUNet_raw=/path/to/nnUNet_raw (see the README)")
    return Path(env)


def dataset_folder_name(dataset_id: int, name: str) -> str:
    """``(501, 'CrossMoDA')`` -> ``'Dataset501_CrossMoDA'``; checks nnU-Net's rules."""
    if not 1 <= int(dataset_id) <= 999:
        raise InputError(f"dataset id must be between 1 and 999, got {dataset_id}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", name):
        raise InputError(f"dataset name {name!r} must be letters, digits, '-' and '_'")
    return f"Dataset{int(dataset_id):03d}_{name}"


def existing_datasets_with_id(raw_root: Path, dataset_id: int) -> list[Path]:
    """Folders ``DatasetXXX_*`` in ``raw_root`` with this id (nnU-Net needs ids to be unique)."""
    if not raw_root.is_dir():
        return []
    return sorted(p for p in raw_root.glob(f"Dataset{int(dataset_id):03d}_*") if p.is_dir())


class RawDatasetWriter:
    """Collects the cases of one dataset; ``raw_dataset`` writes its dataset.json at the end.

    ``folder`` is where files are written now (a temporary folder), ``destination`` the
    dataset folder they end up in.
    """

    def __init__(self, folder: Path, destination: Path, channel_name: str, labels: dict[str, int]):
        self.folder = folder
        self.destination = destination
        self.channel_name = channel_name
        self.labels = dict(labels)
        self.num_training = 0
        self.num_unlabeled = 0
        self.num_test = 0
        self.num_pairs = 0
        self.num_absence = 0
        self.extra: dict = {}
        for sub in (IMAGES_TR, LABELS_TR):
            (folder / sub).mkdir(parents=True, exist_ok=True)

    def add_labeled(self, case: str, image: sitk.Image, label: sitk.Image, source: str = "") -> None:
        """Add ``imagesTr/<case>_0000`` and ``labelsTr/<case>``; checks values and geometry."""
        self._check_label(label, source or case)
        if image.GetSize() != label.GetSize():
            raise InputError(f"image and label of {source or case} differ in size: {image.GetSize()} vs {label.GetSize()}")
        label = sitk.Cast(label, sitk.sitkUInt8)
        label.CopyInformation(image)
        write_image(image, self.folder / IMAGES_TR / f"{case}_0000{FILE_ENDING}")
        write_image(label, self.folder / LABELS_TR / f"{case}{FILE_ENDING}")
        self.num_training += 1

    def add_unlabeled(self, case: str, image: sitk.Image) -> None:
        """Add ``imagesTrUnlabeled/<case>_0000`` to the unlabeled pool."""
        write_image(image, self.folder / IMAGES_UNLABELED / f"{case}_0000{FILE_ENDING}")
        self.num_unlabeled += 1

    def add_pair(self, case: str, source_style: sitk.Image, target_style: sitk.Image) -> None:
        """Add ``imagesTrPairs/<case>_0000`` (source style) and ``<case>_0001`` (target style).

        Raises:
            InputError: the two images differ in size, spacing, origin or direction.
        """
        if not _same_grid(source_style, target_style):
            raise InputError(f"the twins of {case} are not on one grid: size {source_style.GetSize()} vs "
                             f"{target_style.GetSize()}, spacing {source_style.GetSpacing()} vs "
                             f"{target_style.GetSpacing()}")
        for channel, image in enumerate((source_style, target_style)):
            write_image(image, self.folder / IMAGES_PAIRS / f"{case}_{channel:04d}{FILE_ENDING}")
        self.num_pairs += 1

    def add_absence(self, case: str, image: sitk.Image) -> None:
        """Add ``imagesTrAbsence/<case>_0000``: a scan without the target structure (absence domain)."""
        write_image(image, self.folder / IMAGES_ABSENCE / f"{case}_0000{FILE_ENDING}")
        self.num_absence += 1

    def add_test(self, case: str, image: sitk.Image) -> None:
        """Add ``imagesTs/<case>_0000`` (images to predict)."""
        write_image(image, self.folder / IMAGES_TS / f"{case}_0000{FILE_ENDING}")
        self.num_test += 1

    def _check_label(self, label: sitk.Image, where: str) -> None:
        values = np.unique(sitk.GetArrayViewFromImage(label))
        unknown = sorted(set(values.tolist()) - set(self.labels.values()))
        if unknown:
            raise InputError(
                f"label values {unknown} in {where} are not in the dataset's labels {self.labels}"
            )

    def dataset_json(self) -> dict:
        """The dataset.json content: nnU-Net's keys plus ``numUnlabeled`` and ``nnunet_uda``."""
        return {
            "channel_names": {"0": self.channel_name},
            "labels": self.labels,
            "numTraining": self.num_training,
            "file_ending": FILE_ENDING,
            "numUnlabeled": self.num_unlabeled,
            **({"numPairs": self.num_pairs} if self.num_pairs else {}),
            **({"numAbsence": self.num_absence} if self.num_absence else {}),
            "nnunet_uda": self.extra,
        }


def _same_grid(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> bool:
    return a.GetSize() == b.GetSize() and all(
        np.allclose(getattr(a, f)(), getattr(b, f)(), atol=tol) for f in ("GetSpacing", "GetOrigin", "GetDirection"))


@contextmanager
def raw_dataset(
    dataset_id: int,
    name: str,
    channel_name: str,
    raw_root: Path | None = None,
    labels: dict[str, int] | None = None,
    overwrite: bool = False,
) -> Iterator[RawDatasetWriter]:
    """Write ``<raw_root>/DatasetXXX_<name>`` atomically.

    The dataset is built in a temporary sibling folder and moved into place only when
    the ``with`` block finishes without error, dataset.json included. An existing
    dataset with the same id (any name) is refused unless ``overwrite``; with it, a
    dataset of the same id but another name is refused too, since replacing it would
    silently rename the user's dataset.

    Yields:
        A :class:`RawDatasetWriter`; set ``writer.extra`` for the ``nnunet_uda`` key.
    """
    root = nnunet_raw_root(raw_root)
    folder = root / dataset_folder_name(dataset_id, name)
    others = [p for p in existing_datasets_with_id(root, dataset_id) if p.name != folder.name]
    if others:
        raise InputError(f"dataset id {dataset_id} is already used by {others[0]}; choose another id")
    with atomic_output_dir(folder, overwrite) as tmp:
        writer = RawDatasetWriter(tmp, folder, channel_name, labels or LABELS)
        yield writer
        if writer.num_training == 0:
            raise InputError(f"no labeled cases for {folder}")
        with open(tmp / "dataset.json", "w") as f:
            json.dump(writer.dataset_json(), f, indent=2)
