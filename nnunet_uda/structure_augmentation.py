"""Structure-intensity augmentation: rescale the intensities inside labeled structures.

Used by the CrossMoDA 2023 winners to make the segmenter robust to how bright the tumour
and the cochlea appear after translation: with a small probability per sample, the
voxels of each listed label are multiplied by a factor drawn from its range (VS by
U(1.2, 2), cochlea by U(0.5, 1)). It works on nnU-Net's preprocessed (normalised)
intensities and is placed first in nnU-Net's training pipeline, where image and label
are still aligned and before nnU-Net's own intensity transforms.
"""

from __future__ import annotations

import torch
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform

from nnunet_uda.self_training import label_ids


class StructureIntensityTransform(BasicTransform):
    """Multiply the image inside each label by a random factor, with probability ``p``.

    Args:
        scale_ranges: ``{label: (low, high)}``; a factor ~ U(low, high) per label and sample.
        p: probability that a sample is augmented at all.

    Raises:
        ValueError: empty ranges, a range with ``low > high`` or ``low <= 0``, ``p`` outside [0, 1].
    """

    def __init__(self, scale_ranges: dict[int, tuple[float, float]], p: float):
        super().__init__()
        if not scale_ranges or any(not 0 < lo <= hi for lo, hi in scale_ranges.values()):
            raise ValueError(f"scale_ranges must map labels to (low, high) with 0 < low <= high, got {scale_ranges}")
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.scale_ranges = {int(k): (float(lo), float(hi)) for k, (lo, hi) in scale_ranges.items()}
        self.p = p

    def get_parameters(self, **data_dict) -> dict:
        if torch.rand(1).item() >= self.p:
            return {"factors": {}}
        return {"factors": {k: lo + (hi - lo) * torch.rand(1).item() for k, (lo, hi) in self.scale_ranges.items()}}

    def apply(self, data_dict: dict, **params) -> dict:
        """Image ``(C, *spatial)`` scaled where ``segmentation[0] == label``; segmentation unchanged."""
        factors = params["factors"]
        if factors and data_dict.get("segmentation") is not None:
            seg = data_dict["segmentation"][0]
            image = data_dict["image"]
            for label, factor in factors.items():
                mask = seg == label
                if mask.any():
                    image[:, mask] *= factor
        return data_dict


class StructureAugmentationMixin:
    """Puts :class:`StructureIntensityTransform` first in an ``nnUNetTrainer``'s training
    transforms (put the mixin before ``nnUNetTrainer`` in the bases).

    ``structure_augmentation_p``: share of samples augmented (0: off, the transforms are
    nnU-Net's own); ``structure_scale_ranges``: ``{label name: (low, high)}`` as named in
    dataset.json. Unlabeled batches (semi-supervised trainers) go through the same
    transforms; their segmentation has no structure, so they are left as they are.
    """

    structure_augmentation_p = 0.0
    structure_scale_ranges = {"VS": (0.5, 1.5), "cochlea": (0.5, 1.5)}  # noqa: RUF012 (read-only)

    def get_training_transforms(self, *args, **kwargs):
        transforms = super().get_training_transforms(*args, **kwargs)
        if self.structure_augmentation_p > 0:
            ranges = dict(zip(label_ids(self.dataset_json, self.structure_scale_ranges),
                              self.structure_scale_ranges.values()))
            transforms.transforms.insert(0, StructureIntensityTransform(ranges, self.structure_augmentation_p))
        return transforms
