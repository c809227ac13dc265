"""Hinge adversarial losses (Vorontsov et al., eq. 11; as in SAGAN / BigGAN).

For a domain ``d``, the discriminator maximizes ``E[min(0, D(x) - 1)] + E[min(0, -D(G(x^)) - 1)]``,
i.e. minimizes ``E[relu(1 - D(x))] + E[relu(1 + D(G(x^)))]``; the generator minimizes
``-E[D(G(x^))]``. Logits may be one map or a list of maps of a multi-scale discriminator,
whose losses are averaged over the scales (§IV-B).
"""

from __future__ import annotations

import torch


def _maps(logits) -> list[torch.Tensor]:
    maps = list(logits) if isinstance(logits, (list, tuple)) else [logits]
    if not maps:
        raise ValueError("no logits")
    return [m.float() for m in maps]


def hinge_discriminator_loss(logits, real: bool) -> torch.Tensor:
    """``mean relu(1 - D)`` on real inputs, ``mean relu(1 + D)`` on made ones; averaged over scales."""
    sign = -1.0 if real else 1.0
    maps = _maps(logits)
    return sum(torch.relu(1.0 + sign * m).mean() for m in maps) / len(maps)


def hinge_generator_loss(logits) -> torch.Tensor:
    """``-mean D`` on made inputs, averaged over scales."""
    maps = _maps(logits)
    return -sum(m.mean() for m in maps) / len(maps)
