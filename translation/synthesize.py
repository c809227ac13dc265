"""Translating whole volumes slice-wise with a trained translator (item 5).

Each source volume is cut into slices exactly as in training (:mod:`.slices`), translated
in batches, restacked, put back into its field of view and mapped to the target's
intensity range; the result has exactly the source volume's geometry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from nnunet_uda.crossmoda import MODALITIES
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import read_array, strip_nifti_suffix
from nnunet_uda.translation.config import ModelConfig
from nnunet_uda.translation.slices import case_label_scale, scale_labeled_intensities, slices_to_volume, volume_to_slices
from nnunet_uda.translation.train import autocast_factory


@torch.no_grad()
def translate_slices(model, slices: torch.Tensor, device: torch.device, batch_size: int = 32, bf16: bool = True,
                     backward: bool = False) -> torch.Tensor:
    """``(N, 1, S, S)`` in [-1, 1] -> translated ``(N, 1, S, S)`` float32 on the CPU; ``backward``:
    target -> source with the translator's second generator."""
    autocast = autocast_factory(device, bf16)
    out = []
    for i in range(0, len(slices), batch_size):
        x = slices[i : i + batch_size].to(device).float()
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            out.append((model.translate_back(x) if backward else model.translate(x)).float().cpu())
    return torch.cat(out)


def case_of(path: Path) -> str:
    """``<case>_ceT1.nii.gz`` -> ``<case>``; another file name without its extension."""
    stem = strip_nifti_suffix(path.name)
    for modality in MODALITIES:
        if stem.endswith(f"_{modality}"):
            return stem[: -len(modality) - 1]
    return stem


def set_label_levels(volume: np.ndarray, label: np.ndarray, levels: dict[int, float], low: float,
                     high: float) -> np.ndarray:
    """A translated ``(z, y, x)`` volume with the voxels of each label in ``levels`` drawn at that
    level of the target range: ``low + level * (high - low)`` (``level`` 1: the target's high
    percentile, where hrT2 shows fluid). The label is blurred in plane (Gaussian, sigma half a
    voxel) into a blending weight, so the edit has the partial-volume edge of a real structure.

    A label-guided edit of the translated image (as LaTIM brightened the cochlea in its
    synthetic hrT2, CrossMoDA 2022): for structures the translator does not draw in the
    target's contrast, e.g. the cochlea, whose fluid hrT2 shows as bright as CSF.

    Raises:
        InputError: ``label`` and ``volume`` differ in shape.
    """
    from scipy.ndimage import gaussian_filter

    if not levels:
        return volume
    if label.shape != volume.shape:
        raise InputError(f"label shape {label.shape[::-1]} differs from the translated volume's {volume.shape[::-1]}")
    out = volume.astype(np.float32, copy=True)
    for value, level in levels.items():
        weight = gaussian_filter((label == value).astype(np.float32), sigma=(0.0, 0.5, 0.5))
        out += weight * (np.float32(low + level * (high - low)) - out)
    return out


def translate_volume(
    model, config: ModelConfig, path: Path, intensity: tuple[float, float], device: torch.device | str = "cpu",
    batch_size: int = 32, bf16: bool = True, label: Path | None = None, case: str | None = None,
    backward: bool = False,
) -> tuple[np.ndarray, sitk.Image]:
    """Translate one source volume (``backward``: one target volume into the source's style).

    Args:
        model: a trained translator in eval mode.
        config: its config (the slice settings must match training).
        path: the source NIfTI volume.
        intensity: ``(low, high)`` range of the output domain the [-1, 1] output is mapped to.
        label: the volume's label; needed when the config edits labeled source voxels
            (``slices.source_label_scale``), as in training.
        case: the case name the edit's per-case factor is drawn for (as in training; default
            the CrossMoDA case of the file name, ``<case>_ceT1.nii.gz``).

    Returns:
        ``(volume (z, y, x) float32, source image)``; write it with the source's geometry.
    """
    device = torch.device(device)
    arr, img = read_array(path)
    if config.slices.source_label_scale and not backward:
        if label is None:
            raise InputError(f"this translator edits labeled source voxels; the label of {path} is needed")
        case = case or case_of(Path(path))
        factors = case_label_scale(config.slices.source_label_scale, case, config.seed)
        arr = scale_labeled_intensities(arr, read_array(label)[0], factors)
    slices, _, geom = volume_to_slices(arr, img.GetSpacing(), config.slices)
    translated = translate_slices(model, slices, device, batch_size, bf16, backward)
    return slices_to_volume(translated, geom, *intensity), img


def image_like(arr: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """``arr`` as a float32 image with exactly the geometry of ``reference``."""
    out = sitk.GetImageFromArray(arr.astype(np.float32))
    out.CopyInformation(reference)
    return out
