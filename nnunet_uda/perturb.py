"""Random intensity perturbations of an already augmented batch (mean-teacher input noise)."""

from __future__ import annotations

import torch


def perturb_intensity(x: torch.Tensor, noise_std: float = 0.1, scale_range: tuple[float, float] = (0.9, 1.1),
                      shift_std: float = 0.1) -> torch.Tensor:
    """``x * s + b + n`` with per-sample, per-channel ``s ~ U(scale_range)``, ``b ~ N(0, shift_std)``
    and voxel noise ``n ~ N(0, noise_std)``.

    nnU-Net's inputs are normalized (z-score for MRI), so the defaults are in units of
    one standard deviation of the image. Two calls on the same patch give the student
    and the teacher different views of identical anatomy (Tarvainen & Valpola 2017).

    Args:
        x: ``(B, C, *spatial)`` images.

    Returns:
        A new tensor of the same shape; ``x`` is not modified.
    """
    if x.ndim < 3:
        raise ValueError(f"x must be (B, C, *spatial), got shape {tuple(x.shape)}")
    lo, hi = scale_range
    if lo > hi or noise_std < 0 or shift_std < 0:
        raise ValueError(f"bad perturbation: scale_range={scale_range}, noise_std={noise_std}, shift_std={shift_std}")
    per_channel = (x.shape[0], x.shape[1], *([1] * (x.ndim - 2)))
    scale = torch.empty(per_channel, device=x.device, dtype=x.dtype).uniform_(lo, hi)
    shift = torch.randn(per_channel, device=x.device, dtype=x.dtype) * shift_std
    return x * scale + shift + torch.randn_like(x) * noise_std
