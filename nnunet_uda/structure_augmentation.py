"""Structure-intensity augmentation: rescale the intensities inside labeled structures.

Used by the CrossMoDA 2023 winners to make the segmenter robust to how bright the tumour
and the cochlea appear after translation: with a small probability per sample, the
voxels of each listed label are multiplied by a factor drawn from its range (VS by
U(1.2, 2), cochlea by U(0.5, 1)). It works on nnU-Net's preprocessed (normalised)
intensities and is placed first in nnU-Net's training pipeline, where image and label
are still aligned and before nnU-Net's own intensity transforms.

:class:`StructureLevelTransform` goes further: it moves each structure to a random quantile
of the sample's own intensities (dark as tissue to bright as fluid), so the segmenter cannot
rely on how bright a structure is at all. A factor keeps a structure on its side of the image
mean (nnU-Net's z-score puts the mean at 0); a quantile can put it on either side, as the
tumour is on some hrT2 protocols (darker than most of the head) and not on others.
"""

from __future__ import annotations

import torch
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform

from nnunet_uda.self_training import label_ids


def _label_ranges(ranges: dict, valid, rule: str, name: str) -> dict[int, tuple[float, float]]:
    """``{label: (low, high)}`` with int labels and float bounds; ValueError when empty or a range breaks ``rule``."""
    if not ranges or any(not valid(lo, hi) for lo, hi in ranges.values()):
        raise ValueError(f"{name} must map labels to (low, high) with {rule}, got {ranges}")
    return {int(k): (float(lo), float(hi)) for k, (lo, hi) in ranges.items()}


def _check_p(p: float) -> float:
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return p


def _draw(ranges: dict[int, tuple[float, float]], p: float) -> dict[int, float]:
    """With probability ``p``, one value ~ U(low, high) per label; otherwise none (sample left as is)."""
    if torch.rand(1).item() >= p:
        return {}
    return {k: lo + (hi - lo) * torch.rand(1).item() for k, (lo, hi) in ranges.items()}


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
        self.scale_ranges = _label_ranges(scale_ranges, lambda lo, hi: 0 < lo <= hi, "0 < low <= high", "scale_ranges")
        self.p = _check_p(p)

    def get_parameters(self, **data_dict) -> dict:
        return {"factors": _draw(self.scale_ranges, self.p)}

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


class StructureLevelTransform(BasicTransform):
    """Shift each labeled structure so its mean lands on a random quantile of the sample's
    intensities, with probability ``p``. The structure keeps its texture (a shift, not a fill);
    a one-voxel halo around it gets part of the shift (the label dilated by a 3-voxel box mean),
    so the edit has a partial-volume edge, not a step exactly on the label's border.

    Args:
        quantile_ranges: ``{label: (low, high)}``; a quantile ~ U(low, high) per label and sample,
            taken over all voxels of the sample's channel (at most 100 000 drawn at random).
        p: probability that a sample is augmented at all.

    Raises:
        ValueError: empty ranges, a range outside [0, 1] or with ``low > high``, ``p`` outside [0, 1].
    """

    max_voxels = 100_000

    def __init__(self, quantile_ranges: dict[int, tuple[float, float]], p: float):
        super().__init__()
        self.quantile_ranges = _label_ranges(quantile_ranges, lambda lo, hi: 0 <= lo <= hi <= 1,
                                             "0 <= low <= high <= 1", "quantile_ranges")
        self.p = _check_p(p)

    def get_parameters(self, **data_dict) -> dict:
        return {"quantiles": _draw(self.quantile_ranges, self.p)}

    def apply(self, data_dict: dict, **params) -> dict:
        """Image ``(C, *spatial)`` shifted around ``segmentation[0] == label``; segmentation unchanged."""
        quantiles = params["quantiles"]
        if not quantiles or data_dict.get("segmentation") is None:
            return data_dict
        seg, image = data_dict["segmentation"][0], data_dict["image"]
        flat = image.reshape(image.shape[0], -1).float()
        if flat.shape[1] > self.max_voxels:
            flat = flat[:, torch.randint(flat.shape[1], (self.max_voxels,))]
        pool = torch.nn.functional.avg_pool3d if seg.ndim == 3 else torch.nn.functional.avg_pool2d
        for label, q in quantiles.items():
            mask = seg == label
            if not mask.any():
                continue
            halo = pool(mask[None, None].float(), kernel_size=3, stride=1, padding=1, count_include_pad=False)[0, 0]
            weight = torch.maximum(mask.float(), halo).to(image.dtype)
            level = torch.quantile(flat, q, dim=1)
            shift = level - image[:, mask].float().mean(dim=1)
            image += weight[None] * shift.to(image.dtype).reshape(-1, *([1] * seg.ndim))
        return data_dict


class StructureAugmentationMixin:
    """Puts :class:`StructureIntensityTransform` first in an ``nnUNetTrainer``'s training
    transforms (put the mixin before ``nnUNetTrainer`` in the bases).

    ``structure_augmentation_p``: share of samples augmented (0: off, the transforms are
    nnU-Net's own); ``structure_scale_ranges``: ``{label name: (low, high)}`` as named in
    dataset.json; ``structure_quantile_ranges``: the same for :class:`StructureLevelTransform`,
    used instead of the scaling when set. Unlabeled batches (semi-supervised trainers) go through the same
    transforms; their segmentation has no structure, so they are left as they are.
    """

    structure_augmentation_p = 0.0
    structure_scale_ranges = {"VS": (0.5, 1.5), "cochlea": (0.5, 1.5)}  # noqa: RUF012 (read-only)
    structure_quantile_ranges = None

    def get_training_transforms(self, *args, **kwargs):
        transforms = super().get_training_transforms(*args, **kwargs)
        if self.structure_augmentation_p > 0:
            by_name = self.structure_quantile_ranges or self.structure_scale_ranges
            ranges = dict(zip(label_ids(self.dataset_json, by_name), by_name.values()))
            kind = StructureLevelTransform if self.structure_quantile_ranges else StructureIntensityTransform
            transforms.transforms.insert(0, kind(ranges, self.structure_augmentation_p))
        return transforms
