"""Pseudo-labels for self-training: class-balanced top-q selection and anatomical cleaning.

PAST (Dong et al. 2021, Algorithm 1, line 7) keeps, for round k, a fixed portion q_k of
the most confident voxels of the segmentation output, class-balanced as in CBST (Zou et
al. 2018, eq. 9 and Algorithm 2): for every class c, a confidence threshold is chosen
over the whole data set so that the q_k most confident of all voxels predicted as c are
kept with label c; every other voxel gets nnU-Net's ignore label (no loss).

The threshold is data-set wide, not per scan: a scan whose only tumour prediction is a
doubtful false positive then contributes no tumour pseudo-label, where a per-scan
top-q would keep the most confident part of it. It is found from per-class histograms
of the confidence (:func:`confidence_histogram`), which are summed over scans (and DDP
ranks) before :func:`class_thresholds` picks the bin where the top q begins; bins are
fine in ``-log10(1 - confidence)``, where the confidences of a trained network crowd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CONFIDENCE_BINS = 4000
"""Histogram bins over ``-log10(1 - confidence)`` in ``[0, CONFIDENCE_DECADES)``."""
CONFIDENCE_DECADES = 8.0


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


def confidence_scores(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(prediction, bin)`` per voxel: the argmax class (uint8) and the histogram bin (uint16)
    of its confidence ``max_c p_c`` on the scale ``-log10(1 - confidence)``.

    Args:
        probabilities: softmax output ``(C, *spatial)``, C >= 2.

    Raises:
        ValueError: fewer than 2 channels.
    """
    if probabilities.ndim < 2 or probabilities.shape[0] < 2:
        raise ValueError(f"probabilities must be (C, *spatial) with C >= 2, got shape {probabilities.shape}")
    prediction = probabilities.argmax(0).astype(np.uint8)
    confidence = probabilities.max(0).astype(np.float64)
    depth = -np.log10(np.clip(1.0 - confidence, 10.0 ** -CONFIDENCE_DECADES, 1.0))
    bins = np.minimum(depth * (CONFIDENCE_BINS / CONFIDENCE_DECADES), CONFIDENCE_BINS - 1).astype(np.uint16)
    return prediction, bins


def bin_confidence(bins: np.ndarray) -> np.ndarray:
    """The confidence at the centre of each histogram bin (inverse of :func:`confidence_scores`)."""
    return 1.0 - 10.0 ** (-(np.asarray(bins, np.float64) + 0.5) * (CONFIDENCE_DECADES / CONFIDENCE_BINS))


def confidence_histogram(prediction: np.ndarray, bins: np.ndarray, num_classes: int) -> np.ndarray:
    """Voxel counts per class and confidence bin, ``(num_classes, CONFIDENCE_BINS)`` int64; sums of
    these over scans (and ranks) are the data set's histogram."""
    flat = prediction.astype(np.int64).ravel() * CONFIDENCE_BINS + bins.astype(np.int64).ravel()
    return np.bincount(flat, minlength=num_classes * CONFIDENCE_BINS).reshape(num_classes, CONFIDENCE_BINS)


def class_thresholds(histogram: np.ndarray, q: float) -> np.ndarray:
    """Per class the lowest bin kept (CBST's class-wise threshold): the highest bin ``b_c`` whose
    bins ``>= b_c`` hold at least ``num_to_keep(n_c, q)`` voxels; ``CONFIDENCE_BINS`` (keep
    nothing) for a class no voxel is predicted as.

    Voxels of the threshold bin are all kept, so a class keeps at least its top q and at
    most one bin more.

    Raises:
        ValueError: ``q`` outside ``(0, 1]``.
    """
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], got {q}")
    thresholds = np.full(histogram.shape[0], CONFIDENCE_BINS, dtype=np.int64)
    for c, counts in enumerate(histogram):
        keep = num_to_keep(int(counts.sum()), q)
        if keep:
            from_top = np.cumsum(counts[::-1])
            thresholds[c] = CONFIDENCE_BINS - 1 - int(np.searchsorted(from_top, keep))
    return thresholds


def group_thresholds(histograms: dict[str, np.ndarray], group_of: dict[str, str], q: float) -> dict[str, np.ndarray]:
    """:func:`class_thresholds` of each group of scans: ``{group: thresholds}`` from the sum of
    its scans' histograms (``histograms[scan]``, ``group_of[scan]``).

    Groups are the domains of X_c: over their union, the domain a network is surer of fills
    the top q of a class and the other keeps little of it; per group, each keeps its own top q.
    """
    groups: dict[str, np.ndarray] = {}
    for scan in sorted(histograms):
        g = group_of[scan]
        groups[g] = groups[g] + histograms[scan] if g in groups else histograms[scan].copy()
    return {g: class_thresholds(h, q) for g, h in sorted(groups.items())}


def select_by_thresholds(prediction: np.ndarray, bins: np.ndarray, thresholds: np.ndarray,
                         ignore_label: int) -> tuple[np.ndarray, SelectionStats]:
    """Keep each voxel whose confidence bin reaches its predicted class's threshold.

    Args:
        prediction, bins: from :func:`confidence_scores` of one scan.
        thresholds: ``(C,)`` from :func:`class_thresholds` of the data set's histogram.
        ignore_label: value of the voxels not kept.

    Returns:
        ``(label, stats)``: ``label`` (int16, shape of ``prediction``) and per-class
        :class:`SelectionStats` (confidences taken at the bin centres).

    Raises:
        ValueError: ``ignore_label`` is a class index.
    """
    if 0 <= ignore_label < len(thresholds):
        raise ValueError(f"ignore_label {ignore_label} is one of the {len(thresholds)} classes")
    num_classes = len(thresholds)
    kept = bins >= np.asarray(thresholds)[prediction]
    label = np.where(kept, prediction, ignore_label).astype(np.int16)
    stats = SelectionStats.zeros(num_classes)
    centres = bin_confidence(np.arange(CONFIDENCE_BINS))
    for c in range(num_classes):
        mine = prediction == c
        chosen = bins[mine & kept]
        stats.predicted[c], stats.selected[c] = int(mine.sum()), int(chosen.size)
        stats.confidence_sum[c] = float(centres[chosen].sum())
    return label, stats


@dataclass(frozen=True)
class CleaningRule:
    """Anatomical cleaning used by later CrossMoDA winners (off by default in PAST).

    ``single_component``: labels that exist once (VS: one tumour, one side): only the
    largest connected component is kept. ``one_per_side``: labels with one structure
    per side (cochlea): on each half along ``lr_axis``, only the largest component is
    kept. Removed voxels become the ignore label (unknown, not background), or with
    ``to_background`` background: the anatomy then says what a detached blob is (not that
    structure), so the next round learns it on the target scans themselves.
    """

    single_component: tuple[int, ...] = ()
    one_per_side: tuple[int, ...] = ()
    lr_axis: int = -1
    to_background: bool = False


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
    prediction: np.ndarray, bins: np.ndarray, thresholds: np.ndarray, ignore_label: int,
    cleaning: CleaningRule | None = None,
) -> tuple[np.ndarray, SelectionStats]:
    """:func:`select_by_thresholds`, then optional :func:`cleaning_mask` -> ignore, or -> background
    (class 0) for every removed voxel, selected or not, with ``cleaning.to_background``.

    The stats count what is finally kept with each label (background voxels from cleaning are
    counted as selected background, with the removed class's confidence).
    """
    label, stats = select_by_thresholds(prediction, bins, thresholds, ignore_label)
    if cleaning is None:
        return label, stats
    removed = cleaning_mask(prediction, cleaning)
    if not cleaning.to_background:
        removed &= label != ignore_label
    if removed.any():
        centres = bin_confidence(bins[removed])
        for c in range(len(thresholds)):
            gone = label[removed] == c
            stats.selected[c] -= int(gone.sum())
            stats.confidence_sum[c] -= float(centres[gone].sum())
        if cleaning.to_background:
            stats.selected[0] += int(removed.sum())
            stats.confidence_sum[0] += float(centres.sum())
        label[removed] = 0 if cleaning.to_background else ignore_label
    return label, stats
