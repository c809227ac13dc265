"""Mixup of image/label pairs with MixMatch's asymmetric weight (MixMatch-CycleGAN eqs. 5-8)."""

from __future__ import annotations

import torch


def sample_mix_weight(batch_size: int, gamma: float = 0.75, symmetric: bool = False) -> torch.Tensor:
    """One mixing weight per sample: ``beta' ~ Beta(a, b)``, ``beta = max(beta', 1 - beta')``.

    Eq. 5 of the MixMatch-CycleGAN paper draws ``Beta(gamma, 1 - gamma)``; the original
    MixMatch (Berthelot et al. 2019) draws ``Beta(alpha, alpha)`` (``symmetric=True``).
    Eq. 6 keeps the larger of the two weights, so a mixed sample stays closer to its
    first input.

    Args:
        batch_size: number of weights.
        gamma: ``gamma`` of eq. 5, in (0, 1) (or ``alpha > 0`` with ``symmetric``).
        symmetric: draw ``Beta(gamma, gamma)`` instead of ``Beta(gamma, 1 - gamma)``.

    Returns:
        ``(batch_size,)`` float32 weights in [0.5, 1], from torch's global generator
        (``torch.manual_seed`` makes them reproducible).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    a, b = (gamma, gamma) if symmetric else (gamma, 1.0 - gamma)
    if a <= 0 or b <= 0:
        raise ValueError(f"Beta({a}, {b}) needs positive parameters (gamma={gamma}, symmetric={symmetric})")
    beta = torch.distributions.Beta(float(a), float(b)).sample((batch_size,))
    return torch.maximum(beta, 1.0 - beta)


def mixup(x_a: torch.Tensor, y_a: torch.Tensor, x_b: torch.Tensor, y_b: torch.Tensor,
          weight: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix two batches of (image, soft label) pairs with the same weights (eqs. 7-8).

    ``x' = w x_a + (1 - w) x_b`` and ``y' = w y_a + (1 - w) y_b``, per sample.

    Args:
        x_a, x_b: ``(B, C_in, *spatial)`` images.
        y_a, y_b: ``(B, K, *spatial)`` soft labels (one-hot or probabilities).
        weight: a float, or ``(B,)`` weights, e.g. from :func:`sample_mix_weight`.

    Returns:
        ``(x', y')`` with the shapes of ``x_a`` and ``y_a``.

    Raises:
        ValueError: mismatched shapes, or images and labels of different batch or spatial size.
    """
    if x_a.shape != x_b.shape or y_a.shape != y_b.shape:
        raise ValueError(f"pairs must match: x {tuple(x_a.shape)} vs {tuple(x_b.shape)}, "
                         f"y {tuple(y_a.shape)} vs {tuple(y_b.shape)}")
    if x_a.shape[0] != y_a.shape[0] or x_a.shape[2:] != y_a.shape[2:]:
        raise ValueError(f"images {tuple(x_a.shape)} and labels {tuple(y_a.shape)} differ in batch or spatial size")
    w = torch.as_tensor(weight, dtype=x_a.dtype, device=x_a.device)
    if w.ndim == 1:
        if w.shape[0] != x_a.shape[0]:
            raise ValueError(f"{w.shape[0]} weights for a batch of {x_a.shape[0]}")
        w = w.view(-1, *([1] * (x_a.ndim - 1)))
    elif w.ndim != 0:
        raise ValueError(f"weight must be a float or (B,), got shape {tuple(w.shape)}")
    return w * x_a + (1 - w) * x_b, w.to(y_a.dtype) * y_a + (1 - w.to(y_a.dtype)) * y_b
