"""CrossMoDA segmentation metrics: Dice, ASSD and HD95 of binary masks.

The challenge's evaluation code (CrossMoDA 2021/2022, ``scores.py``) scores each
structure with medpy's ``dc`` and ``assd`` on the label masks, with the voxel spacing of
the ground-truth image, and gives a structure that the prediction misses entirely an
ASSD of :data:`MAX_SURFACE_DISTANCE_MM`. The definitions here reproduce that:

* surface voxels of a mask are ``mask XOR binary_erosion(mask)`` with the
  connectivity-1 structuring element (6-neighbourhood in 3D), voxels outside the array
  counting as background;
* the directed surface distances from ``A`` to ``B`` are, for every surface voxel of
  ``A``, the Euclidean distance in mm to the nearest surface voxel of ``B``;
* ASSD is the mean of the two directed mean distances, ``(mean(d_AB) + mean(d_BA)) / 2``,
  as in medpy <= 0.4, the version the challenge used (medpy 0.5 averages the pooled
  distances instead, which differs when the two surfaces have different voxel counts);
* HD95 is medpy's ``hd95``: the 95th percentile (linear interpolation) of the union of
  both directed distance sets.

Arrays are ``(z, y, x)`` as returned by ``SimpleITK.GetArrayFromImage``, so the spacing
passed here is ``image.GetSpacing()[::-1]``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure

MAX_SURFACE_DISTANCE_MM = 350.0
"""ASSD/HD95 (mm) of a structure with an empty prediction: the challenge's ``MAX_VALUE_ASSD``."""


def _binary_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction and ground truth differ in shape: {pred.shape} vs {gt.shape}")
    return pred != 0, gt != 0


def _check_spacing(spacing: Sequence[float], ndim: int) -> np.ndarray:
    sp = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if sp.size != ndim:
        raise ValueError(f"spacing {tuple(spacing)} has {sp.size} values for a {ndim}-D mask")
    if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing must be positive and finite, got {tuple(spacing)}")
    return sp


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice coefficient ``2 |P & G| / (|P| + |G|)`` (medpy ``dc``).

    Args:
        pred: predicted mask, any shape; nonzero voxels are foreground.
        gt: ground-truth mask, same shape as ``pred``.

    Returns:
        Dice in [0, 1]. Both masks empty gives 1.0 (medpy's convention, hence the
        challenge's); exactly one empty gives 0.0.

    Raises:
        ValueError: if the shapes differ.
    """
    p, g = _binary_pair(pred, gt)
    size = int(np.count_nonzero(p)) + int(np.count_nonzero(g))
    if size == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(p & g)) / size


def surface_distances(
    pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances (mm) between two non-empty masks, both ways.

    The distance transforms run on the bounding box of ``pred | gt`` padded by one
    voxel (clipped at the array border), which gives exactly the full-volume result:
    every surface voxel lies in the box, and the padding keeps the erosion's treatment
    of the box edge identical to that of the array edge.

    Args:
        pred: predicted mask, shape ``(*spatial)``; nonzero is foreground.
        gt: ground-truth mask, same shape.
        spacing: voxel size in mm per array axis (``(z, y, x)`` for SimpleITK arrays).

    Returns:
        ``(d_pred_to_gt, d_gt_to_pred)``: 1-D arrays with one distance per surface
        voxel of ``pred`` and of ``gt`` respectively.

    Raises:
        ValueError: on a shape/spacing mismatch or if either mask is empty.
    """
    p, g = _binary_pair(pred, gt)
    sp = _check_spacing(spacing, p.ndim)
    if not p.any() or not g.any():
        raise ValueError("surface distances need two non-empty masks")
    coords = np.nonzero(p | g)
    box = tuple(
        slice(max(int(c.min()) - 1, 0), min(int(c.max()) + 2, n)) for c, n in zip(coords, p.shape)
    )
    p, g = p[box], g[box]
    footprint = generate_binary_structure(p.ndim, 1)
    p_surface = p ^ binary_erosion(p, structure=footprint, iterations=1)
    g_surface = g ^ binary_erosion(g, structure=footprint, iterations=1)
    to_g = distance_transform_edt(~g_surface, sampling=sp)
    to_p = distance_transform_edt(~p_surface, sampling=sp)
    return to_g[p_surface], to_p[g_surface]


def surface_metrics(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float]) -> tuple[float, float]:
    """ASSD and HD95 (mm) from one pass of distance transforms, with the challenge's empty rules.

    Empty cases, following the challenge (``scores.py`` checks only the prediction):

    * empty prediction (whether or not the truth is empty): both are
      :data:`MAX_SURFACE_DISTANCE_MM` (350 mm); so both-empty scores Dice 1 but
      ASSD 350, exactly as the challenge's code does;
    * non-empty prediction with empty truth: the challenge's code does not handle it
      (medpy raises; every challenge case contains both structures); we score it
      :data:`MAX_SURFACE_DISTANCE_MM` too, the same penalty as a missed structure.

    Args:
        pred: predicted mask, shape ``(*spatial)``; nonzero is foreground.
        gt: ground-truth mask, same shape.
        spacing: voxel size in mm per array axis.

    Returns:
        ``(assd, hd95)`` in mm.

    Raises:
        ValueError: on a shape or spacing mismatch.
    """
    p, g = _binary_pair(pred, gt)
    _check_spacing(spacing, p.ndim)
    if not p.any() or not g.any():
        return MAX_SURFACE_DISTANCE_MM, MAX_SURFACE_DISTANCE_MM
    d_pg, d_gp = surface_distances(p, g, spacing)
    assd_mm = 0.5 * (float(d_pg.mean()) + float(d_gp.mean()))
    hd95_mm = float(np.percentile(np.concatenate([d_pg, d_gp]), 95))
    return assd_mm, hd95_mm


def assd(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float]) -> float:
    """Average symmetric surface distance (mm), ``(mean(d_PG) + mean(d_GP)) / 2``.

    Args:
        pred: predicted mask, shape ``(*spatial)``; nonzero is foreground.
        gt: ground-truth mask, same shape.
        spacing: voxel size in mm per array axis (``image.GetSpacing()[::-1]``).

    Returns:
        ASSD in mm. Empty prediction: 350 mm (:data:`MAX_SURFACE_DISTANCE_MM`), also
        when the truth is empty too; non-empty prediction with empty truth: 350 mm.
        See :func:`surface_metrics`.

    Raises:
        ValueError: on a shape or spacing mismatch.
    """
    return surface_metrics(pred, gt, spacing)[0]


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float]) -> float:
    """95th-percentile Hausdorff distance (mm) over both directed distance sets (medpy ``hd95``).

    Args:
        pred: predicted mask, shape ``(*spatial)``; nonzero is foreground.
        gt: ground-truth mask, same shape.
        spacing: voxel size in mm per array axis (``image.GetSpacing()[::-1]``).

    Returns:
        HD95 in mm, with the same empty-mask rules as :func:`assd` (350 mm).

    Raises:
        ValueError: on a shape or spacing mismatch.
    """
    return surface_metrics(pred, gt, spacing)[1]
