"""Pseudo-labels for self-training: class-balanced top-q selection and anatomical cleaning.

PAST (Dong et al. 2021, Algorithm 1, line 7) keeps, for round k, a fixed portion q_k of
the most confident voxels of the segmentation output, class-balanced as in CBST (Zou et
al. 2018): for every predicted class c, the q_k most confident of the voxels predicted
as c are kept with label c, every other voxel gets nnU-Net's ignore label (no loss).

The selection is made per scan: it is exact (``round(q * n_c)`` voxels of every class
that has ``n_c`` predicted voxels), needs no second pass over the data set, and lets
ranks under DDP label their own scans without exchanging confidences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class SelectionStats:
    """Voxel counts of one scan (or a sum of scans), one entry per class.

    ``predicted[c]``: voxels whose argmax is c; ``selected[c]``: those kept as c;
    ``confidence_sum[c]``: sum of the max probability over the kept voxels of c.
    """

    predicted: list[int]
    selected: list[int]
    confidence_sum: list[float]

    @classmethod
    def zeros(cls, num_classes: int) -> "SelectionStats":
        return cls([0] * num_classes, [0] * num_classes, [0.0] * num_classes)

    def __add__(self, other: "SelectionStats") -> "SelectionStats":
        return SelectionStats(
            [a + b for a, b in zip(self.predicted, other.predicted)],
            [a + b for a, b in zip(self.selected, other.selected)],
            [a + b for a, b in zip(self.confidence_sum, other.confidence_sum)],
        )

    def summary(self) -> dict:
        """Per class: selected fraction (kept / predicted) and mean confidence of the kept voxels."""
        return {
            "selected_fraction": [s / p if p else None for s, p in zip(self.selected, self.predicted)],
            "mean_confidence": [c / s if s else None for c, s in zip(self.confidence_sum, self.selected)],
            "predicted_voxels": list(self.predicted),
            "selected_voxels": list(self.selected),
        }


def num_to_keep(n: int, q: float) -> int:
    """``round(q * n)`` with halves rounded up: the voxel count top-q keeps of ``n``."""
    return int(np.floor(q * n + 0.5))


def select_top_q(probabilities: np.ndarray, q: float, ignore_label: int) -> tuple[np.ndarray, SelectionStats]:
    """Class-balanced top-q pseudo-label (PAST Algorithm 1, line 7; CBST class-balanced selection).

    Args:
        probabilities: softmax output ``(C, *spatial)`` (2D or 3D), float.
        q: portion in ``(0, 1]`` of each predicted class to keep.
        ignore_label: value for the voxels not kept (nnU-Net's ignore label, ``>= C``).

    Returns:
        ``(label, stats)``: ``label`` of shape ``spatial`` (int16) holding the class for kept
        voxels and ``ignore_label`` elsewhere; per-class :class:`SelectionStats`. Ties in
        confidence are broken by voxel order, so exactly ``num_to_keep(n_c, q)`` voxels
        of every class are kept.

    Raises:
        ValueError: ``q`` outside ``(0, 1]``, fewer than 2 channels, or an
            ``ignore_label`` that is a class index.
    """
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], got {q}")
    if probabilities.ndim < 2 or probabilities.shape[0] < 2:
        raise ValueError(f"probabilities must be (C, *spatial) with C >= 2, got shape {probabilities.shape}")
    num_classes = probabilities.shape[0]
    if 0 <= ignore_label < num_classes:
        raise ValueError(f"ignore_label {ignore_label} is one of the {num_classes} classes")
    prediction = probabilities.argmax(0).ravel()
    confidence = probabilities.max(0).ravel()
    label = np.full(prediction.shape, ignore_label, dtype=np.int16)
    stats = SelectionStats.zeros(num_classes)
    for c in range(num_classes):
        idx = np.flatnonzero(prediction == c)
        keep = num_to_keep(idx.size, q)
        if keep:
            top = idx[np.argsort(-confidence[idx], kind="stable")[:keep]]
            label[top] = c
            stats.confidence_sum[c] = float(confidence[top].sum(dtype=np.float64))
        stats.predicted[c], stats.selected[c] = int(idx.size), int(keep)
    return label.reshape(probabilities.shape[1:]), stats


@dataclass(frozen=True)
class CleaningRule:
    """Anatomical cleaning used by later CrossMoDA winners (off by default in PAST).

    ``single_component``: labels that exist once (VS: one tumour, one side): only the
    largest connected component is kept. ``one_per_side``: labels with one structure
    per side (cochlea): on each half along ``lr_axis``, only the largest component is
    kept. Removed voxels become the ignore label (unknown, not background).
    """

    single_component: tuple[int, ...] = ()
    one_per_side: tuple[int, ...] = ()
    lr_axis: int = -1


def _largest_component(mask: np.ndarray) -> np.ndarray:
    components, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(components.ravel())[1:]
    return components == (1 + int(np.argmax(sizes)))


def cleaning_mask(label: np.ndarray, rule: CleaningRule) -> np.ndarray:
    """Voxels of ``label`` (``spatial``) that ``rule`` removes: boolean, same shape."""
    removed = np.zeros(label.shape, dtype=bool)
    for c in rule.single_component:
        mask = label == c
        removed |= mask & ~_largest_component(mask)
    half = label.shape[rule.lr_axis] // 2
    for c in rule.one_per_side:
        for sl in (slice(0, half), slice(half, None)):
            index = [slice(None)] * label.ndim
            index[rule.lr_axis] = sl
            mask = label[tuple(index)] == c
            removed[tuple(index)] |= mask & ~_largest_component(mask)
    return removed


def make_pseudo_label(
    probabilities: np.ndarray, q: float, ignore_label: int, cleaning: CleaningRule | None = None
) -> tuple[np.ndarray, SelectionStats]:
    """Top-q selection (:func:`select_top_q`), then optional :func:`cleaning_mask` -> ignore.

    The stats count what is finally kept with each label.
    """
    label, stats = select_top_q(probabilities, q, ignore_label)
    if cleaning is None:
        return label, stats
    removed = cleaning_mask(probabilities.argmax(0), cleaning) & (label != ignore_label)
    if removed.any():
        confidence = probabilities.max(0)
        for c in range(probabilities.shape[0]):
            gone = removed & (label == c)
            stats.selected[c] -= int(gone.sum())
            stats.confidence_sum[c] -= float(confidence[gone].sum(dtype=np.float64))
        label[removed] = ignore_label
    return label, stats
