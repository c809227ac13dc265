"""Per-voxel sharpening of class probabilities (MixMatch eq. 4; DMNet §3.2)."""

from __future__ import annotations

import torch


def sharpen(probs: torch.Tensor, temperature: float = 0.5, eps: float = 1e-12) -> torch.Tensor:
    """Lower the entropy of a probability map, voxel by voxel.

    Multi-class form of eq. 4 of the MixMatch-CycleGAN paper (binary there: p^(1/T) /
    (p^(1/T) + (1 - p)^(1/T))), the same as DMNet's §3.2:
    ``sharpen(p)_c = p_c^(1/T) / sum_k p_k^(1/T)`` over the channel axis. With two
    classes it is exactly eq. 4. Computed in log space, so small probabilities and small
    ``T`` do not underflow to 0/0.

    Args:
        probs: ``(B, C, *spatial)`` probabilities (softmax over ``C``), 2D or 3D.
        temperature: ``T`` in (0, 1] for sharpening (1 leaves ``probs`` unchanged).
        eps: floor applied before the logarithm.

    Returns:
        ``(B, C, *spatial)`` probabilities that sum to 1 over ``C``.

    Raises:
        ValueError: ``temperature <= 0`` or ``probs`` without channel and spatial axes.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if probs.ndim < 3:
        raise ValueError(f"probs must be (B, C, *spatial), got shape {tuple(probs.shape)}")
    return torch.softmax(torch.log(probs.clamp_min(eps)) / temperature, dim=1)
