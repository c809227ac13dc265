"""2D axial slices for translation, and the exact way back into a volume (items 1 and 5).

Forward (:func:`volume_to_slices`), per volume ``(z, y, x)`` with in-plane spacing
``(sx, sy)``:

1. optional ROI crop of PAST, ``x in [W/4, 3W/4)``, ``y in [H/4, 3H/4)``;
2. robust scaling: the low/high percentiles of the (cropped) volume map to 0 and 255,
   values outside are clipped; the network sees ``value / 127.5 - 1`` in ``[-1, 1]``;
3. bilinear resampling to one in-plane ``spacing`` for every volume, then centred
   padding (background -1) or cropping to ``image_size x image_size``.

Backward (:func:`slices_to_volume`) undoes 3, then 1: the ROI goes back to its place;
outside the ROI the volume holds the target's background (the low end of its intensity
range), since the translator never saw it. Intensities are mapped from ``[-1, 1]`` to
the target's typical ``[low, high]`` percentile range (:func:`intensity_range`).

Sites: a volume's site is the token in its case name (``crossmoda2021_ldn_12`` ->
``ldn``, :func:`nnunet_uda.crossmoda.site_of`); names without one (``crossmoda_12``) get
the in-plane matrix size as site, e.g. ``448x448``, since the CrossMoDA protocols differ
in matrix size (PAST's 448 and 384 scans).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F

from nnunet_uda.crossmoda import site_of
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import read_array

from nnunet_uda.translation.config import SliceConfig


def site_of_volume(case: str, image: sitk.Image) -> str:
    """Site of a case: the name's site token, else the in-plane matrix size ``'XxY'``."""
    site = site_of(case)
    if site is not None:
        return site
    size = image.GetSize()
    return f"{size[0]}x{size[1]}"


def roi_bounds(shape_yx: tuple[int, int], crop: bool) -> tuple[slice, slice]:
    """``(y, x)`` slices of PAST's ROI ``[H/4:3H/4, W/4:3W/4]`` (the whole plane if not ``crop``)."""
    h, w = shape_yx
    if not crop:
        return slice(0, h), slice(0, w)
    return slice(h // 4, (3 * h) // 4), slice(w // 4, (3 * w) // 4)


def robust_range(arr: np.ndarray, percentiles: tuple[float, float]) -> tuple[float, float]:
    """Low and high percentile of ``arr``; high > low even for a constant volume."""
    lo, hi = np.percentile(arr, percentiles)
    if not hi > lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def scale_labeled_intensities(arr: np.ndarray, label: np.ndarray, factors: dict[int, float]) -> np.ndarray:
    """``arr`` with the voxels of each label value in ``factors`` multiplied by its factor.

    A label-guided edit of a source volume before translation (:class:`SliceConfig`
    ``source_label_scale``); the input is not modified.

    Raises:
        InputError: ``label`` and ``arr`` differ in shape.
    """
    if not factors:
        return arr
    if label.shape != arr.shape:
        raise InputError(f"label shape {label.shape[::-1]} differs from its image's {arr.shape[::-1]}")
    out = arr.astype(np.float32, copy=True)
    for value, factor in factors.items():
        out[label == value] *= np.float32(factor)
    return out


def case_label_scale(scale: dict[int, float | tuple[float, float]], case: str, seed: int = 0) -> dict[int, float]:
    """The factors of ``SliceConfig.source_label_scale`` for one case: a number as it is; a
    range ``(low, high)`` gives a factor drawn for this case (the same in training and in
    synthesis, from a hash of the case name, the label and ``seed``), so the translator
    sees, and the translated data set shows, the structure at many intensities (tumour
    signal heterogeneity)."""
    import hashlib

    out = {}
    for value, factor in scale.items():
        if isinstance(factor, tuple):
            digest = hashlib.sha256(f"{case}|{value}|{seed}".encode()).digest()
            u = int.from_bytes(digest[:8], "little") / 2**64
            factor = factor[0] + (factor[1] - factor[0]) * u
        out[value] = float(factor)
    return out


def scale_to_unit(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` to ``[-1, 1]`` (i.e. 0..255 divided by 127.5, minus 1), clipped."""
    return (np.clip((arr.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)


@dataclass
class SliceGeometry:
    """What :func:`slices_to_volume` needs to undo :func:`volume_to_slices` for one volume."""

    shape: tuple[int, int, int]
    roi: tuple[slice, slice]
    resampled: tuple[int, int]
    image_size: int


def resampled_shape(roi_shape: tuple[int, int], spacing_yx: tuple[float, float], spacing: float) -> tuple[int, int]:
    """In-plane shape of the ROI at the common ``spacing`` (at least 1 pixel per axis)."""
    return tuple(max(1, int(round(n * s / spacing))) for n, s in zip(roi_shape, spacing_yx))


def _pad_or_crop(x: torch.Tensor, size: int, value: float) -> torch.Tensor:
    """Centre ``(n, c, h, w)`` into ``(n, c, size, size)``: pad with ``value`` or crop."""
    h, w = x.shape[-2:]
    top, left = (size - h) // 2, (size - w) // 2
    if top >= 0 and left >= 0:
        return F.pad(x, (left, size - w - left, top, size - h - top), value=value)
    out = torch.full((*x.shape[:-2], size, size), value, dtype=x.dtype)
    ys, yd = (slice(-top, -top + size), slice(0, size)) if top < 0 else (slice(0, h), slice(top, top + h))
    xs, xd = (slice(-left, -left + size), slice(0, size)) if left < 0 else (slice(0, w), slice(left, left + w))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def _uncenter(x: torch.Tensor, shape: tuple[int, int], value: float) -> torch.Tensor:
    """Inverse of :func:`_pad_or_crop`: the ``shape`` region back (cropped parts get ``value``)."""
    size = x.shape[-1]
    h, w = shape
    top, left = (size - h) // 2, (size - w) // 2
    out = torch.full((*x.shape[:-2], h, w), value, dtype=x.dtype)
    ys, yd = (slice(top, top + h), slice(0, h)) if top >= 0 else (slice(0, size), slice(-top, -top + size))
    xs, xd = (slice(left, left + w), slice(0, w)) if left >= 0 else (slice(0, size), slice(-left, -left + size))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def volume_to_slices(
    arr: np.ndarray, spacing_xyz: tuple[float, ...], cfg: SliceConfig, label: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, SliceGeometry]:
    """Cut a ``(z, y, x)`` volume into network slices.

    Returns:
        ``(images, labels, geometry)``: images ``(z, 1, S, S)`` float32 in ``[-1, 1]``,
        labels ``(z, S, S)`` uint8 (nearest neighbour) or None, ``S = cfg.image_size``.
    """
    if cfg.spacing is None:
        raise ValueError("SliceConfig.spacing must be resolved before cutting slices")
    roi = roi_bounds(arr.shape[1:], cfg.crop_roi)
    crop = arr[:, roi[0], roi[1]]
    lo, hi = robust_range(crop, cfg.percentiles)
    x = torch.from_numpy(scale_to_unit(crop, lo, hi))[:, None]
    target = resampled_shape(crop.shape[1:], (spacing_xyz[1], spacing_xyz[0]), cfg.spacing)
    if tuple(x.shape[-2:]) != target:
        x = F.interpolate(x, size=target, mode="bilinear", align_corners=False, antialias=True).clamp_(-1, 1)
    images = _pad_or_crop(x, cfg.image_size, -1.0)
    labels = None
    if label is not None:
        lab = torch.from_numpy(label[:, roi[0], roi[1]].astype(np.uint8))[:, None]
        if tuple(lab.shape[-2:]) != target:
            lab = F.interpolate(lab.float(), size=target, mode="nearest").to(torch.uint8)
        labels = _pad_or_crop(lab, cfg.image_size, 0)[:, 0]
    return images, labels, SliceGeometry(tuple(arr.shape), roi, target, cfg.image_size)


def slices_to_volume(slices: torch.Tensor, geom: SliceGeometry, low: float, high: float) -> np.ndarray:
    """Put translated ``(z, 1, S, S)`` slices in ``[-1, 1]`` back into a ``(z, y, x)`` float32 volume.

    The ROI is resampled back to its original pixel grid and the values mapped linearly
    from ``[-1, 1]`` to ``[low, high]``; outside the ROI the volume is ``low``.
    """
    x = _uncenter(slices.float().cpu(), geom.resampled, -1.0)
    roi_shape = (geom.roi[0].stop - geom.roi[0].start, geom.roi[1].stop - geom.roi[1].start)
    if tuple(x.shape[-2:]) != roi_shape:
        x = F.interpolate(x, size=roi_shape, mode="bilinear", align_corners=False, antialias=True)
    x = (x.clamp(-1, 1)[:, 0].numpy() + 1.0) / 2.0 * (high - low) + low
    out = np.full(geom.shape, low, dtype=np.float32)
    out[:, geom.roi[0], geom.roi[1]] = x
    return out


def intensity_range(paths: list[Path], cfg: SliceConfig) -> tuple[float, float]:
    """Typical target intensity range: medians of the per-volume ROI percentiles."""
    los, his = [], []
    for p in paths:
        arr, _ = read_array(p)
        roi = roi_bounds(arr.shape[1:], cfg.crop_roi)
        lo, hi = robust_range(arr[:, roi[0], roi[1]], cfg.percentiles)
        los.append(lo)
        his.append(hi)
    return float(np.median(los)), float(np.median(his))


def resolve_spacing(images: list[sitk.Image], target_images: list[sitk.Image], cfg: SliceConfig) -> float:
    """The common in-plane spacing: median target spacing, enlarged until every ROI fits."""
    spacing = float(np.median([min(im.GetSpacing()[:2]) for im in target_images]))
    for im in images + target_images:
        size, sp = im.GetSize(), im.GetSpacing()
        roi = roi_bounds((size[1], size[0]), cfg.crop_roi)
        extent = max((roi[0].stop - roi[0].start) * sp[1], (roi[1].stop - roi[1].start) * sp[0])
        spacing = max(spacing, extent / cfg.image_size)
    return spacing


@dataclass
class SliceSet:
    """All training slices of one domain, kept in memory.

    Attributes:
        images: ``(N, 1, S, S)`` float16 in ``[-1, 1]``.
        labels: ``(N, S, S)`` uint8, or None for an unlabeled domain.
        sites: ``(N,)`` index into ``site_names``.
        site_names: site of each index.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    sites: torch.Tensor
    site_names: list[str]

    def __len__(self) -> int:
        return self.images.shape[0]


def build_slice_set(
    volumes: dict[str, tuple[Path, Path | None]], cfg: SliceConfig, what: str, source: bool = False, seed: int = 0,
) -> SliceSet:
    """Cut every volume of ``{case: (image, label or None)}`` and keep the non-empty slices.

    ``source``: the volumes are the translator's source domain, whose labeled voxels are
    edited by ``cfg.source_label_scale`` first (:func:`scale_labeled_intensities`, with the
    case's factors for ``seed``, :func:`case_label_scale`).

    Raises:
        InputError: no volume, or no slice above ``cfg.min_foreground`` (``what`` names
            the domain and folder in the message).
    """
    if not volumes:
        raise InputError(f"no {what} volumes")
    images, labels, sites, names = [], [], [], []
    for case, (img_path, lab_path) in sorted(volumes.items()):
        arr, img = read_array(img_path)
        lab = read_array(lab_path)[0] if lab_path is not None else None
        if lab is not None and lab.shape != arr.shape:
            raise InputError(f"label {lab_path} has shape {lab.shape[::-1]}, its image {img_path} has {arr.shape[::-1]}")
        if source and cfg.source_label_scale:
            if lab is None:
                raise InputError(f"source_label_scale needs the label of {img_path}")
            arr = scale_labeled_intensities(arr, lab, case_label_scale(cfg.source_label_scale, case, seed))
        x, y, _ = volume_to_slices(arr, img.GetSpacing(), cfg, lab)
        keep = ((x.flatten(1).amax(1) + 1.0) * 127.5) >= cfg.min_foreground
        site = site_of_volume(case, img)
        if site not in names:
            names.append(site)
        images.append(x[keep].half())
        if y is not None:
            labels.append(y[keep])
        sites.append(torch.full((int(keep.sum()),), names.index(site), dtype=torch.long))
    all_images = torch.cat(images)
    if len(all_images) == 0:
        raise InputError(f"no usable 2D slices in the {what} volumes (all slices empty after scaling)")
    return SliceSet(all_images, torch.cat(labels) if labels else None, torch.cat(sites), names)
