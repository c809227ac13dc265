"""Overlay PNGs of a case: ground-truth and predicted contours on one axial slice.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend change), so
it works without a display and has no import-time side effects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnunet_uda.image_io import check_same_geometry, read_array

GT_COLOUR = "#00e000"
PRED_COLOUR = "#ff2a2a"
STRUCTURE_STYLES = ("solid", "dashed", "dotted", "dashdot")
ZOOM_MARGIN_MM = 15.0
CONTOUR_UPSAMPLING = 4
"""Masks are traced on a nearest-neighbour upsampled grid so contours follow voxel edges."""


def draw_contour(ax, mask: np.ndarray, colour: str, width: float, style: str = "solid") -> None:
    """Outline a 2D mask on ``ax`` along its voxel edges."""
    f = CONTOUR_UPSAMPLING
    fine = np.repeat(np.repeat(mask, f, axis=0), f, axis=1).astype(np.float32)
    ys = (np.arange(fine.shape[0]) + 0.5) / f - 0.5
    xs = (np.arange(fine.shape[1]) + 0.5) / f - 0.5
    ax.contour(xs, ys, fine, levels=[0.5], colors=colour, linewidths=width, linestyles=style)


def overlay_slice(gt: np.ndarray, pred: np.ndarray, labels: dict[str, int]) -> int:
    """Axial slice through the largest ground-truth structure, where it has the most voxels.

    Args:
        gt: ground-truth label map ``(z, y, x)``.
        pred: predicted label map, same shape; used when the truth is empty.
        labels: structure name -> label value.

    Returns:
        The ``z`` index (the middle slice if both maps are empty).
    """
    for volume in (gt, pred):
        sizes = {v: int(np.count_nonzero(volume == v)) for v in labels.values()}
        largest = max(sizes, key=sizes.get)
        if sizes[largest] > 0:
            per_slice = np.count_nonzero(volume == largest, axis=(1, 2))
            return int(np.argmax(per_slice))
    return gt.shape[0] // 2


def _zoom_box(masks: list[np.ndarray], spacing_yx: tuple[float, float], shape: tuple[int, int]) -> tuple[slice, slice]:
    union = np.logical_or.reduce(masks) if masks else np.zeros(shape, bool)
    if not union.any():
        return slice(0, shape[0]), slice(0, shape[1])
    ys, xs = np.nonzero(union)
    my = int(np.ceil(ZOOM_MARGIN_MM / spacing_yx[0]))
    mx = int(np.ceil(ZOOM_MARGIN_MM / spacing_yx[1]))
    return (slice(max(ys.min() - my, 0), min(ys.max() + my + 1, shape[0])),
            slice(max(xs.min() - mx, 0), min(xs.max() + mx + 1, shape[1])))


def write_overlay(
    gt_path: Path,
    pred_path: Path | None,
    png_path: Path,
    labels: dict[str, int],
    image_path: Path | None = None,
    title: str = "",
) -> Path:
    """Write a PNG: the whole axial slice and a zoom on the structures, contours per structure.

    Ground truth is drawn in green, the prediction in red; structures differ by line
    style. The slice is :func:`overlay_slice`; pixels keep their physical aspect ratio.

    Args:
        gt_path: ground-truth label map.
        pred_path: predicted label map, or None (a missing prediction: no red contours).
        png_path: PNG to write.
        labels: structure name -> label value.
        image_path: image to draw underneath (same geometry as the truth); black if None.
        title: figure title.

    Returns:
        ``png_path``.

    Raises:
        InputError: unreadable files or a geometry mismatch with the truth.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    gt, gt_img = read_array(Path(gt_path))
    pred = np.zeros_like(gt)
    if pred_path is not None:
        pred, pred_img = read_array(Path(pred_path))
        check_same_geometry(pred_img, gt_img, Path(pred_path), Path(gt_path))
    image = np.zeros(gt.shape, np.float32)
    if image_path is not None:
        image, img = read_array(Path(image_path))
        check_same_geometry(img, gt_img, Path(image_path), Path(gt_path))
    z = overlay_slice(gt, pred, labels)
    sp_y, sp_x = gt_img.GetSpacing()[1], gt_img.GetSpacing()[0]
    plane = image[z].astype(np.float32)
    lo, hi = np.percentile(plane, (1, 99)) if plane.any() else (0.0, 1.0)
    gt_masks = {n: gt[z] == v for n, v in labels.items()}
    pred_masks = {n: pred[z] == v for n, v in labels.items()}
    zoom = _zoom_box([m for m in (*gt_masks.values(), *pred_masks.values()) if m.any()], (sp_y, sp_x), plane.shape)

    fig = Figure(figsize=(10, 5.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, (ys, xs) in zip(axes, [(slice(None), slice(None)), zoom]):
        ax.imshow(plane[ys, xs], cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1,
                  aspect=sp_y / sp_x, interpolation="nearest")
        for (name, style) in zip(labels, STRUCTURE_STYLES * 4):
            for masks, colour, width in ((gt_masks, GT_COLOUR, 2.4), (pred_masks, PRED_COLOUR, 1.2)):
                m = masks[name][ys, xs]
                if m.any() and not m.all():
                    draw_contour(ax, m, colour, width, style)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title(f"axial slice z={z}", fontsize=9)
    axes[1].set_title("zoom", fontsize=9)
    handles = [Line2D([], [], color=GT_COLOUR, label="ground truth"), Line2D([], [], color=PRED_COLOUR, label="prediction")]
    handles += [Line2D([], [], color="black", linestyle=s, label=n) for n, s in zip(labels, STRUCTURE_STYLES)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=100)
    return png_path
