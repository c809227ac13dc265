"""Sample an anatomy on a voxel grid: supersampled tissue map, averaged per voxel.

The grid's axes are the scanner (world) axes (identity direction); the anatomy sits in
it rotated and shifted by its pose. Each voxel is sampled at ``f`` points per axis and
the rendered signal and structure fractions are averaged over them, which is the
partial-volume effect; painting runs slab by slab so memory stays bounded at full size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_uda.synth.tissues import Anatomy, N_TISSUES, PaintOp

_MAX_POINTS = 1 << 22


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``shape`` (z, y, x), ``spacing`` and ``origin`` (x, y, z, mm), identity direction."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    def axis(self, i: int, factor: int = 1) -> np.ndarray:
        """World coordinates along axis ``i`` (0 = x) of the ``factor``-times supersampled grid."""
        n = self.shape[2 - i]
        sub = (np.arange(n * factor) + 0.5) / factor - 0.5
        return (self.origin[i] + sub * self.spacing[i]).astype(np.float64)

    def reference(self) -> sitk.Image:
        """An empty SimpleITK image carrying this geometry."""
        img = sitk.Image([int(s) for s in self.shape[::-1]], sitk.sitkUInt8)
        img.SetSpacing([float(s) for s in self.spacing])
        img.SetOrigin([float(o) for o in self.origin])
        return img

    def voxel_volume(self) -> float:
        """Volume of one voxel in mm^3."""
        return float(np.prod(self.spacing))


def supersampling(grid: Grid, resolution_mm: float) -> tuple[int, int, int]:
    """Points per voxel along (z, y, x): about ``resolution_mm`` apart, 1 to 3."""
    f = [int(np.clip(np.ceil(s / resolution_mm - 1e-6), 1, 3)) for s in grid.spacing]
    return f[2], f[1], f[0]


def _block(op: PaintOp, anatomy: Anatomy, zs: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> tuple[slice, slice, slice] | None:
    """Index ranges of the chunk that the op's head-frame box can reach (None if none)."""
    if op.bbox is None:
        return slice(None), slice(None), slice(None)
    lo, hi = np.asarray(op.bbox[0]), np.asarray(op.bbox[1])
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    w = anatomy.to_world(corners)
    wlo, whi = w.min(0), w.max(0)
    out = []
    for coords, a in ((zs, 2), (ys, 1), (xs, 0)):
        i0 = int(np.searchsorted(coords, wlo[a], "left"))
        i1 = int(np.searchsorted(coords, whi[a], "right"))
        if i1 <= i0:
            return None
        out.append(slice(i0, i1))
    return tuple(out)


def _paint_chunk(anatomy: Anatomy, zs: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tissue codes and texture modulation at the points ``zs x ys x xs`` (world mm)."""
    r, t = anatomy.rotation.astype(np.float32), anatomy.translation.astype(np.float32)
    wz = (zs - t[2]).astype(np.float32)[:, None, None]
    wy = (ys - t[1]).astype(np.float32)[None, :, None]
    wx = (xs - t[0]).astype(np.float32)[None, None, :]
    # head = R^T (world - t)
    xyz = [r[0, i] * wx + r[1, i] * wy + r[2, i] * wz for i in range(3)]
    p = np.empty((3 + len(anatomy.fields),) + xyz[0].shape, np.float32)
    p[:3] = xyz
    for k, fn in enumerate(anatomy.fields):
        p[3 + k] = fn(p)
    labels = np.zeros(p.shape[1:], np.uint8)
    for op in anatomy.ops:
        block = _block(op, anatomy, zs, ys, xs)
        if block is None:
            continue
        lab = labels[block]
        pts = p if op.bbox is None else p[(slice(None),) + block]
        mask = None
        if op.only_over is not None:
            mask = np.isin(lab, np.asarray(op.only_over, np.uint8))
        if op.not_over is not None:
            keep = ~np.isin(lab, np.asarray(op.not_over, np.uint8))
            mask = keep if mask is None else mask & keep
        if mask is None:
            lab[op.sdf(pts) <= 0] = op.tissue
        elif mask.any():
            hit = mask.copy()
            hit[mask] = op.sdf(pts[:, mask]) <= 0
            lab[hit] = op.tissue
    modulation = np.ones(labels.shape, np.float32)
    for tex in anatomy.textures:
        mask = np.isin(labels, np.asarray(tex.tissues, np.uint8))
        if mask.any():
            modulation[mask] += np.float32(tex.amplitude) * tex.field(p[:, mask])
    return labels, modulation


def _block_mean(a: np.ndarray, f: tuple[int, int, int]) -> np.ndarray:
    z, y, x = a.shape
    return a.reshape(z // f[0], f[0], y // f[1], f[1], x // f[2], f[2]).mean(axis=(1, 3, 5), dtype=np.float32)


@dataclass
class Sampled:
    """What a grid sees of an anatomy.

    Attributes:
        signals: per look-up table name, the partial-volume signal (z, y, x) float32.
        fractions: per structure name, the fraction (0..1) of each voxel it fills.
        tissue: the majority tissue per voxel (only when asked for), uint8.
    """

    signals: dict[str, np.ndarray]
    fractions: dict[str, np.ndarray]
    tissue: np.ndarray | None = None


def sample(
    anatomy: Anatomy,
    grid: Grid,
    factors: tuple[int, int, int],
    luts: dict[str, np.ndarray],
    structures: dict[str, tuple[int, ...]],
    with_tissue: bool = False,
) -> Sampled:
    """Paint ``anatomy`` on ``grid`` and average per voxel.

    Args:
        luts: name -> signal per tissue code, shape (N_TISSUES,); one signal volume each.
        structures: name -> tissue codes whose voxel fraction is returned.
        with_tissue: also return the majority tissue per voxel (slower).
    """
    fz, fy, fx = factors
    xs, ys, zs = grid.axis(0, fx), grid.axis(1, fy), grid.axis(2, fz)
    nz = grid.shape[0]
    slab = max(1, _MAX_POINTS // (len(xs) * len(ys) * fz))
    signals = {k: np.zeros(grid.shape, np.float32) for k in luts}
    fractions = {k: np.zeros(grid.shape, np.float32) for k in structures}
    tissue = np.zeros(grid.shape, np.uint8) if with_tissue else None
    for z0 in range(0, nz, slab):
        z1 = min(nz, z0 + slab)
        labels, modulation = _paint_chunk(anatomy, zs[z0 * fz : z1 * fz], ys, xs)
        for name, lut in luts.items():
            signals[name][z0:z1] = _block_mean(lut.astype(np.float32)[labels] * modulation, factors)
        for name, codes in structures.items():
            fractions[name][z0:z1] = _block_mean(np.isin(labels, np.asarray(codes, np.uint8)).astype(np.float32), factors)
        if tissue is not None:
            counts = np.stack([_block_mean((labels == c).astype(np.float32), factors) for c in range(N_TISSUES)])
            tissue[z0:z1] = counts.argmax(0)
    return Sampled(signals, fractions, tissue)

