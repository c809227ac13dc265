"""Headless figures of a training run: loss curves and sample grids (matplotlib Agg)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """One curve per loss column of the CSV written by the trainer, against iteration."""
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    keys = [k for k in rows[0] if k not in ("iteration", "lr", "seconds")]
    it = np.array([int(r["iteration"]) for r in rows])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k in keys:
        ax.plot(it, [float(r[k]) for r in rows], label=k, lw=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(ncol=4, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def save_grid(rows: list[tuple], png_path: Path, title: str,
              columns: tuple[str, ...] = ("input", "translated", "reconstructed")) -> None:
    """Rows ``(name, *images)`` of ``(H, W)`` images in [-1, 1], one per column (default
    ``input, translated, reconstructed``)."""
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(2.5 * len(columns), 2.5 * len(rows)), squeeze=False)
    for r, (name, *images) in enumerate(rows):
        for c, (img, col) in enumerate(zip(images, columns)):
            ax = axes[r, c]
            ax.imshow(img, cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col, fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
