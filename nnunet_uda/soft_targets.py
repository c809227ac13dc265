"""Soft targets for nnU-Net outputs: one-hot labels and per-scale pooling for deep supervision."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def one_hot(seg: torch.Tensor, num_classes: int) -> torch.Tensor:
    """nnU-Net's label map ``(B, 1, *spatial)`` (or ``(B, *spatial)``) -> ``(B, K, *spatial)`` float.

    Raises:
        ValueError: a label outside ``[0, num_classes)`` (e.g. an ignore label).
    """
    if seg.ndim >= 3 and seg.shape[1] == 1:
        seg = seg[:, 0]
    seg = seg.long()
    if seg.numel() and (seg.min() < 0 or seg.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got [{int(seg.min())}, {int(seg.max())}]")
    return torch.movedim(F.one_hot(seg, num_classes), -1, 1).float()


def pool_soft_targets(target: torch.Tensor, shapes: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """Average-pool a soft target to each output resolution of a deep-supervised network.

    nnU-Net down-samples hard labels with nearest neighbour; a soft (mixed) target is
    averaged instead, so each coarse voxel gets the mean class distribution it covers.

    Args:
        target: ``(B, K, *spatial)`` full-resolution probabilities.
        shapes: the spatial shape of each output, highest resolution first.

    Returns:
        One ``(B, K, *shape)`` tensor per entry of ``shapes`` (``target`` itself where equal).
    """
    out = []
    for shape in shapes:
        shape = tuple(int(s) for s in shape)
        if len(shape) != target.ndim - 2:
            raise ValueError(f"shape {shape} does not match the spatial axes of {tuple(target.shape)}")
        out.append(target if shape == tuple(target.shape[2:]) else F.adaptive_avg_pool3d(target, shape)
                   if len(shape) == 3 else F.adaptive_avg_pool2d(target, shape))
    return out
