"""Sigmoid ramp-up of an unsupervised loss weight (Laine & Aila 2017; mean teacher, MixMatch)."""

from __future__ import annotations

import math


def sigmoid_rampup(current: float, length: float) -> float:
    """``exp(-5 (1 - t)^2)`` with ``t = clip(current / length, 0, 1)``.

    Rises from ``exp(-5)`` (about 0.0067) at ``current = 0`` to 1 at ``current >= length``;
    ``length <= 0`` means no ramp-up (always 1).

    Args:
        current: progress, e.g. the epoch (fractions allowed).
        length: where the ramp reaches 1, in the same unit.
    """
    if length <= 0:
        return 1.0
    t = min(max(current / length, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)
