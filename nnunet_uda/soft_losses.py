"""Losses against soft targets: soft Dice, soft-target cross-entropy, softmax MSE.

Shapes are ``(B, C, *spatial)`` throughout; reductions run over ``dims[2:]``, so 2D and
3D share the code. Gradients flow into every tensor argument that requires them (DMNet's
L_semi trains both decoders through one soft Dice).
"""

from __future__ import annotations

import torch


def _check_pair(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.ndim < 3:
        raise ValueError(f"{names} must be (B, C, *spatial), got shape {tuple(a.shape)}")


def soft_dice_loss(probs: torch.Tensor, target: torch.Tensor, *, batch_dice: bool = False, do_bg: bool = True,
                   smooth: float = 1e-5) -> torch.Tensor:
    """``1 - mean_k 2 sum(p_k q_k) / (sum p_k + sum q_k)`` (DMNet §3.1 and L_semi of §3.3).

    Args:
        probs: ``(B, C, *spatial)`` probabilities.
        target: soft or one-hot target of the same shape (may require grad).
        batch_dice: sum over the batch too (one Dice per class) instead of per sample.
        do_bg: include channel 0.
        smooth: added to numerator and denominator (an empty class pair scores Dice 1).

    Returns:
        Scalar loss in [0, 1] for probabilities.

    Raises:
        ValueError: shapes differ or lack channel/spatial axes; ``do_bg=False`` with one channel.
    """
    _check_pair(probs, target, "probs and target")
    if not do_bg:
        if probs.shape[1] < 2:
            raise ValueError("do_bg=False needs at least 2 channels")
        probs, target = probs[:, 1:], target[:, 1:]
    axes = tuple(range(2, probs.ndim))
    if batch_dice:
        axes = (0, *axes)
    intersect = (probs * target).sum(axes)
    denominator = probs.sum(axes) + target.sum(axes)
    return 1 - ((2 * intersect + smooth) / (denominator + smooth).clamp_min(1e-8)).mean()


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``-sum_c q_c log softmax(z)_c``, averaged over batch and voxels (MixMatch's L_x, eq. 9).

    Args:
        logits: ``(B, C, *spatial)`` network outputs before softmax.
        target: probabilities of the same shape (one-hot labels give ordinary CE).
    """
    _check_pair(logits, target, "logits and target")
    return -(target * torch.log_softmax(logits, dim=1)).sum(1).mean()


def softmax_mse(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean((softmax(z) - q)^2)`` over all elements (mean teacher consistency; MixMatch's L_u).

    Args:
        logits: ``(B, C, *spatial)`` student outputs before softmax.
        target: probabilities of the same shape (teacher softmax, guessed labels).
    """
    _check_pair(logits, target, "logits and target")
    return ((torch.softmax(logits, dim=1) - target) ** 2).mean()
