"""Implicit shapes and smooth random fields in physical (mm) coordinates.

Every function takes points ``p`` as an array whose first axis starts with ``(x, y, z)``
in mm (further channels are ignored; any trailing shape) and returns a field of the
trailing shape. Shapes return a signed
distance, exact or approximate: negative inside, zero on the surface, in mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-6


def rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Rotation matrix (3, 3) from angles in radians about z (yaw), x (pitch), y (roll)."""
    cz, sz = np.cos(yaw), np.sin(yaw)
    cx, sx = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(roll), np.sin(roll)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return rz @ rx @ ry


def frame_from_axis(axis: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) whose third column is the unit vector ``axis``."""
    w = np.asarray(axis, float) / np.linalg.norm(axis)
    helper = np.array([0.0, 0.0, 1.0]) if abs(w[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(helper, w)
    u /= np.linalg.norm(u)
    v = np.cross(w, u)
    return np.stack([u, v, w], axis=1)


def box(center, half) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Axis-aligned box ``center ± half`` as ``(lo, hi)`` (bounds for a shape's support)."""
    c = np.asarray(center, float)
    h = np.broadcast_to(np.asarray(half, float), (3,))
    return tuple(map(float, c - h)), tuple(map(float, c + h))


def _local(p: np.ndarray, center, rot) -> list[np.ndarray]:
    """Coordinates of ``p`` in a frame at ``center`` with axes the columns of ``rot``."""
    c = np.asarray(center, np.float32)
    q = [p[i] - c[i] for i in range(3)]
    if rot is None:
        return q
    r = np.asarray(rot, np.float32)
    return [r[0, i] * q[0] + r[1, i] * q[1] + r[2, i] * q[2] for i in range(3)]


def ellipsoid(p: np.ndarray, center, semi_axes, rot=None) -> np.ndarray:
    """Approximate signed distance to an ellipsoid (Quilez's bound: exact on the surface)."""
    q = _local(p, center, rot)
    a = np.asarray(semi_axes, np.float32)
    u = [q[i] / a[i] for i in range(3)]
    k0 = np.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
    v = [u[i] / a[i] for i in range(3)]
    k1 = np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return k0 * (k0 - 1.0) / (k1 + _EPS)


def capsule(p: np.ndarray, a, b, radius: float) -> np.ndarray:
    """Signed distance to the segment ``a``-``b`` thickened by ``radius``."""
    a = np.asarray(a, np.float32)
    ab = np.asarray(b, np.float32) - a
    ap = _local(p, a, None)
    t = np.clip((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / np.float32(ab @ ab + _EPS), 0.0, 1.0)
    d = [ap[i] - t * ab[i] for i in range(3)]
    return np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) - np.float32(radius)


def tube(p: np.ndarray, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Signed distance to a polyline ``points`` (n, 3) with per-vertex ``radii`` (n,)."""
    best = None
    for i in range(len(points) - 1):
        a = np.asarray(points[i], np.float32)
        ab = np.asarray(points[i + 1], np.float32) - a
        ap = _local(p, a, None)
        t = np.clip((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / np.float32(ab @ ab + _EPS), 0.0, 1.0)
        d = [ap[k] - t * ab[k] for k in range(3)]
        r = np.float32(radii[i]) + t * np.float32(radii[i + 1] - radii[i])
        dist = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) - r
        best = dist if best is None else np.minimum(best, dist)
    return best


def torus(p: np.ndarray, center, rot, major: float, minor: float) -> np.ndarray:
    """Signed distance to a torus around the local z axis of ``rot``."""
    q = _local(p, center, rot)
    ring = np.sqrt(q[0] ** 2 + q[1] ** 2) - major
    return np.sqrt(ring**2 + q[2] ** 2) - minor


def half_space(p: np.ndarray, point, normal) -> np.ndarray:
    """Signed distance to the half-space behind the plane through ``point`` (outward ``normal``)."""
    n = np.asarray(normal, float)
    n = (n / np.linalg.norm(n)).astype(np.float32)
    q = _local(p, point, None)
    return n[0] * q[0] + n[1] * q[1] + n[2] * q[2]


@dataclass(frozen=True)
class FourierNoise:
    """A smooth random field: a sum of random plane waves, zero mean and unit variance.

    Deterministic given its parameters, and defined everywhere in space, so the same
    anatomy sampled on two grids (two modalities) sees the same field.
    """

    freqs: np.ndarray  # (k, 3) cycles per mm * 2 pi
    phases: np.ndarray  # (k,)

    @classmethod
    def random(cls, rng: np.random.Generator, wavelength: tuple[float, float], n: int = 12) -> "FourierNoise":
        """``n`` waves with random directions and wavelengths (mm) drawn from ``wavelength``."""
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        lam = rng.uniform(*wavelength, size=(n, 1))
        return cls((2 * np.pi * d / lam).astype(np.float32), rng.uniform(0, 2 * np.pi, n).astype(np.float32))

    def __call__(self, p: np.ndarray) -> np.ndarray:
        out = np.zeros(p.shape[1:], np.float32)
        for w, ph in zip(self.freqs, self.phases):
            out += np.cos(w[0] * p[0] + w[1] * p[1] + w[2] * p[2] + ph)
        return out * np.float32(np.sqrt(2.0 / len(self.phases)))
