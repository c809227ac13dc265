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

from nnunet_uda.image_io import read_array
from nnunet_uda.translation.config import ModelConfig
from nnunet_uda.translation.slices import slices_to_volume, volume_to_slices
from nnunet_uda.translation.train import autocast_factory


@torch.no_grad()
def translate_slices(model, slices: torch.Tensor, device: torch.device, batch_size: int = 32, bf16: bool = True) -> torch.Tensor:
    """``(N, 1, S, S)`` in [-1, 1] -> translated ``(N, 1, S, S)`` float32 on the CPU."""
    autocast = autocast_factory(device, bf16)
    out = []
    for i in range(0, len(slices), batch_size):
        x = slices[i : i + batch_size].to(device).float()
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            out.append(model.translate(x).float().cpu())
    return torch.cat(out)


def translate_volume(
    model, config: ModelConfig, path: Path, intensity: tuple[float, float], device: torch.device | str = "cpu",
    batch_size: int = 32, bf16: bool = True,
) -> tuple[np.ndarray, sitk.Image]:
    """Translate one source volume.

    Args:
        model: a trained translator in eval mode.
        config: its config (the slice settings must match training).
        path: the source NIfTI volume.
        intensity: target ``(low, high)`` range the [-1, 1] output is mapped to.

    Returns:
        ``(volume (z, y, x) float32, source image)``; write it with the source's geometry.
    """
    device = torch.device(device)
    arr, img = read_array(path)
    slices, _, geom = volume_to_slices(arr, img.GetSpacing(), config.slices)
    translated = translate_slices(model, slices, device, batch_size, bf16)
    return slices_to_volume(translated, geom, *intensity), img


def image_like(arr: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """``arr`` as a float32 image with exactly the geometry of ``reference``."""
    out = sitk.GetImageFromArray(arr.astype(np.float32))
    out.CopyInformation(reference)
    return out
