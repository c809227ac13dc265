"""Tissue classes of the phantom and the painting operation that places them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Callable

import numpy as np


class Tissue(IntEnum):
    """Tissue codes of the high-resolution tissue map (uint8)."""

    AIR = 0
    SOFT = 1  # skin and muscle
    FAT = 2
    BONE = 3
    MARROW = 4  # diploe of the skull
    CSF = 5
    GREY = 6
    WHITE = 7
    BRAINSTEM = 8
    NERVE = 9  # facial / vestibulocochlear nerves crossing the cistern
    ARTERY = 10  # basilar artery: enhances on ceT1, flow void on hrT2
    VENOUS = 11  # sigmoid sinus: enhances on ceT1, dark on hrT2
    LABYRINTH = 12  # vestibule and semicircular canals (fluid, not labelled)
    COCHLEA_L = 13
    COCHLEA_R = 14
    VS = 15  # solid vestibular schwannoma
    VS_CYST = 16  # cystic part of the schwannoma


N_TISSUES = len(Tissue)
VS_TISSUES = (Tissue.VS, Tissue.VS_CYST)
COCHLEA_TISSUES = (Tissue.COCHLEA_L, Tissue.COCHLEA_R)

SdfFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PaintOp:
    """Set ``tissue`` wherever ``sdf(p) <= 0``.

    ``p`` has the head-frame coordinates (mm) x, y, z as its first three channels,
    followed by the anatomy's shared fields (:attr:`Anatomy.fields`), evaluated once.

    Operations are applied in order, later ones over earlier ones. ``bbox`` (lo, hi in
    the head frame) bounds where ``sdf`` can be negative, so painting skips the rest of
    the grid; ``only_over`` / ``not_over`` restrict which tissues may be replaced.
    """

    tissue: Tissue
    sdf: SdfFn
    bbox: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    only_over: tuple[Tissue, ...] | None = None
    not_over: tuple[Tissue, ...] | None = None


@dataclass(frozen=True)
class Texture:
    """Multiplicative heterogeneity ``1 + amplitude * field(p)`` inside ``tissues``."""

    tissues: tuple[Tissue, ...]
    field: SdfFn
    amplitude: float


@dataclass
class Anatomy:
    """One case's anatomy: paint operations, textures, and what the metadata reports.

    Attributes:
        ops: ordered paint operations in the head frame (mm).
        textures: tissue heterogeneity fields.
        fields: fields that many ops share (e.g. the head's distance), computed once
            per sampled point and passed to the ops as channels 3, 4, ... of ``p``.
        rotation: (3, 3) head frame -> scanner (world) frame rotation.
        translation: (3,) position of the head-frame origin in the world frame (mm).
        info: VS side, type, radius, cystic flag (for synth.json).
    """

    ops: list[PaintOp]
    textures: list[Texture]
    rotation: np.ndarray
    translation: np.ndarray
    fields: list[SdfFn] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def to_world(self, p_head) -> np.ndarray:
        """Head-frame point(s) (..., 3) -> world (scanner) coordinates in mm."""
        return np.asarray(p_head, float) @ self.rotation.T + self.translation
