"""``preview.png``: axial slices through cochleae and tumour, both modalities, both hrT2 sites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_uda.crossmoda import LABELS

_COLOURS = {LABELS["VS"]: "#ff3b30", LABELS["cochlea"]: "#ffd60a"}


def _pick(records: list[dict]) -> list[dict]:
    """The first source case and the first target case of each site."""
    picked, seen = [], set()
    for r in records:
        key = (r["modality"], r["site"])
        if key not in seen:
            seen.add(key)
            picked.append(r)
    return picked


def _slice_index(label: np.ndarray) -> int:
    """Axial slice that best shows both cochleae and the tumour."""
    coch = (label == LABELS["cochlea"]).sum((1, 2)).astype(float)
    vs = (label == LABELS["VS"]).sum((1, 2)).astype(float)
    score = coch / max(coch.max(), 1) + 0.7 * vs / max(vs.max(), 1)
    return int(score.argmax())


def _show(ax, img: np.ndarray, label: np.ndarray | None, title: str) -> None:
    lo, hi = np.percentile(img, [0.5, 99.7])
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    if label is not None:
        for value, colour in _COLOURS.items():
            if (label == value).any():
                ax.contour(label == value, levels=[0.5], colors=colour, linewidths=0.8)
    ax.set_title(title, color="white", fontsize=9)
    ax.axis("off")


def write_preview(root: Path, records: list[dict], path: Path) -> Path:
    """Draw one row per picked case: image, image with label contours, paired image with contours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _pick(records)
    fig, axes = plt.subplots(len(rows), 3, figsize=(11, 3.8 * len(rows)), facecolor="black", squeeze=False)
    for row, r in zip(axes, rows):
        image = sitk.GetArrayFromImage(sitk.ReadImage(str(root / r["image"])))
        label = sitk.GetArrayFromImage(sitk.ReadImage(str(root / r["label"])))
        paired = sitk.GetArrayFromImage(sitk.ReadImage(str(root / r["paired"])))
        z = _slice_index(label)
        name = f"{r['case']} ({r['split']}, site {r['site']})"
        _show(row[0], image[z], None, f"{r['modality']}  {name}\nslice {z}")
        _show(row[1], image[z], label[z], f"{r['modality']} with labels (red VS, yellow cochlea)")
        _show(row[2], paired[z], label[z], f"paired {r['paired_modality']}, same grid and slice")
    fig.tight_layout()
    fig.savefig(path, dpi=90, facecolor="black")
    plt.close(fig)
    return path
