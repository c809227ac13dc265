"""Anatomical post-processing of a VS / cochlea label map.

A CrossMoDA scan has one vestibular schwannoma (unilateral) and a cochlea on each side, so
small detached blobs are false positives: keep the largest VS component, and the largest
cochlea component on each side of the head (the two halves of the x index axis). Each
rule is an option; ``benchmarks/submission`` measures them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk


@dataclass(frozen=True)
class PostProcessing:
    """``largest_vs``: one VS component; ``cochlea_per_side``: one cochlea component per side."""

    largest_vs: bool = False
    cochlea_per_side: bool = False

    def __call__(self, label: np.ndarray, vs: int = 1, cochlea: int = 2) -> np.ndarray:
        """Label map ``(z, y, x)`` with the removed components set to background (a copy)."""
        out = label.copy()
        if self.largest_vs:
            out[(label == vs) & ~largest_component(label == vs)] = 0
        if self.cochlea_per_side:
            mid = label.shape[-1] // 2
            for side in (np.s_[..., :mid], np.s_[..., mid:]):
                mask = label[side] == cochlea
                out[side][mask & ~largest_component(mask)] = 0
        return out


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected (3D; 8 in 2D) component of a boolean mask (empty stays empty)."""
    if not mask.any():
        return mask.copy()
    components = sitk.ConnectedComponent(sitk.GetImageFromArray(mask.astype(np.uint8)), True)
    ranked = sitk.RelabelComponent(components, sortByObjectSize=True)
    return sitk.GetArrayFromImage(ranked) == 1
