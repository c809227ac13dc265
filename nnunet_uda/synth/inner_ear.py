"""Petrous bone, internal auditory canal (IAC), nerves, labyrinth and cochlea of one side.

Head frame (mm): x lateral (+ = patient left), y posterior, z superior; the origin lies
between the two pori acustici. ``side`` is +1 (left) or -1 (right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnunet_uda.synth import shapes
from nnunet_uda.synth.tissues import PaintOp, Tissue


@dataclass(frozen=True)
class EarGeometry:
    """Landmarks of one side that the tumour model needs."""

    side: int
    porus: np.ndarray  # medial opening of the IAC (3,)
    fundus: np.ndarray  # lateral end of the IAC (3,)
    iac_radius: float
    petrous_center: np.ndarray
    petrous_rot: np.ndarray
    petrous_axes: tuple[float, float, float]

    @property
    def axis(self) -> np.ndarray:
        """Unit vector from porus to fundus (lateral)."""
        d = self.fundus - self.porus
        return d / np.linalg.norm(d)



def sample_ear(rng: np.random.Generator, side: int) -> EarGeometry:
    """Random IAC and petrous-bone landmarks of one side (about 10 mm canal, 5 mm wide)."""
    porus = np.array([side * rng.uniform(18.5, 21.5), rng.uniform(-1.0, 1.5), rng.uniform(-1.0, 1.0)])
    length = rng.uniform(8.5, 12.0)
    direction = np.array([side * 1.0, rng.uniform(-0.05, 0.2), rng.uniform(-0.1, 0.1)])
    fundus = porus + length * direction / np.linalg.norm(direction)
    angle = np.deg2rad(rng.uniform(32, 45))
    long_axis = np.array([side * np.cos(angle), np.sin(angle), 0.0])
    short_axis = np.array([-side * np.sin(angle), np.cos(angle), 0.0])
    axes = (rng.uniform(28, 33), rng.uniform(9.0, 10.5), rng.uniform(10.0, 12.0))
    # The porus sits on the posteromedial surface of the petrous pyramid.
    center = porus + np.array([side * 12.5, -1.5, -1.0])
    rot = np.stack([long_axis, short_axis, [0.0, 0.0, 1.0]], axis=1)
    return EarGeometry(side, porus, fundus, rng.uniform(2.1, 2.7), center, rot, axes)


def _cochlea_centerline(rng: np.random.Generator, base: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A conical spiral of about 2.5 turns: centreline points (n, 3) and tube radii (n,)."""
    turns = rng.uniform(2.4, 2.75)
    r0 = rng.uniform(3.0, 3.6)
    height = rng.uniform(3.2, 4.2)
    theta = np.linspace(0.0, 2 * np.pi * turns, int(16 * turns))
    frac = theta / theta[-1]
    radius = r0 * (1.0 - 0.72 * frac)
    rot = shapes.frame_from_axis(axis)
    local = np.stack([radius * np.cos(theta), radius * np.sin(theta), height * frac], axis=1)
    points = base + local @ rot.T
    tube = 1.05 - 0.45 * frac
    return points, tube


def ear_ops(rng: np.random.Generator, ear: EarGeometry, brainstem_x: float) -> tuple[list[PaintOp], list[PaintOp]]:
    """Paint operations of one side.

    Returns:
        ``(bone_ops, fluid_ops)``: the petrous bone and mastoid (painted before the
        canals), then the IAC, nerves, labyrinth, cochlea (painted over the bone).
    """
    s = ear.side
    bone: list[PaintOp] = []
    pc, prot, pax = ear.petrous_center, ear.petrous_rot, ear.petrous_axes
    rough = shapes.FourierNoise.random(rng, (8.0, 16.0), n=8)
    bone.append(
        PaintOp(Tissue.BONE, lambda p: shapes.ellipsoid(p, pc, pax, prot) + 1.2 * rough(p), shapes.box(pc, max(pax) + 4))
    )
    mastoid_c = ear.fundus + np.array([s * rng.uniform(14, 18), rng.uniform(13, 17), rng.uniform(-10, -6)])
    mastoid_ax = (rng.uniform(10, 13), rng.uniform(12, 15), rng.uniform(14, 17))
    bone.append(PaintOp(Tissue.BONE, lambda p: shapes.ellipsoid(p, mastoid_c, mastoid_ax), shapes.box(mastoid_c, max(mastoid_ax) + 1)))
    cells = shapes.FourierNoise.random(rng, (5.0, 9.0), n=10)
    inner_ax = tuple(a - 2.5 for a in mastoid_ax)
    bone.append(
        PaintOp(
            Tissue.AIR,
            lambda p: np.maximum(shapes.ellipsoid(p, mastoid_c, inner_ax), 0.35 - cells(p)),
            shapes.box(mastoid_c, max(mastoid_ax)),
            only_over=(Tissue.BONE,),
        )
    )
    sig = np.array(
        [
            [s * 47, 45, 6],
            [s * 51, 30, -3],
            [s * 46, 17, -16],
            [s * 36, 8, -30],
            [s * 30, 12, -45],
        ],
        float,
    ) + rng.uniform(-2, 2, size=(1, 3))
    sig_r = np.full(len(sig), rng.uniform(3.0, 4.2))
    bone.append(PaintOp(Tissue.VENOUS, lambda p: shapes.tube(p, sig, sig_r), shapes.box(sig.mean(0), np.ptp(sig, 0) / 2 + 6)))

    fluid: list[PaintOp] = []
    a = ear.axis
    start = ear.porus - 2.5 * a
    fundus = ear.fundus
    r = ear.iac_radius
    fluid.append(PaintOp(Tissue.CSF, lambda p: shapes.capsule(p, start, fundus, r), shapes.box((start + fundus) / 2, 8 + r)))
    root = np.array([brainstem_x + s * 11.0, rng.uniform(4.0, 7.0), rng.uniform(-2.5, -0.5)])
    for dy, dz, rad in ((-0.8, 0.7, 0.55), (0.6, -0.5, 0.75)):
        off = np.array([0.0, dy, dz])
        a0, a1 = root + off, fundus - 0.4 * a + off * 0.8
        fluid.append(
            PaintOp(
                Tissue.NERVE,
                lambda p, a0=a0, a1=a1, rad=rad: shapes.capsule(p, a0, a1, rad),
                shapes.box((a0 + a1) / 2, np.abs(a1 - a0) / 2 + 2),
                only_over=(Tissue.CSF,),
            )
        )
    vest_c = fundus + np.array([s * rng.uniform(4.0, 5.0), rng.uniform(2.0, 3.5), rng.uniform(0.0, 1.0)])
    vest_ax = (rng.uniform(1.8, 2.3), rng.uniform(1.3, 1.7), rng.uniform(1.4, 1.8))
    fluid.append(PaintOp(Tissue.LABYRINTH, lambda p: shapes.ellipsoid(p, vest_c, vest_ax), shapes.box(vest_c, 3)))
    for normal, offset in (((0, 0, 1), (s * 1.5, 3.0, 2.5)), ((1, 0, 0), (s * 0.5, 3.5, 3.0)), ((0, 1, 0), (s * 3.0, 2.0, 1.5))):
        c = vest_c + np.asarray(offset, float)
        rot = shapes.frame_from_axis(np.asarray(normal, float))
        rad = rng.uniform(2.6, 3.2)
        fluid.append(
            PaintOp(
                Tissue.LABYRINTH,
                lambda p, c=c, rot=rot, rad=rad: shapes.torus(p, c, rot, rad, 0.45),
                shapes.box(c, rad + 1),
                only_over=(Tissue.BONE, Tissue.MARROW, Tissue.AIR),
            )
        )
    base = fundus + np.array([s * rng.uniform(2.5, 3.5), rng.uniform(-5.0, -4.0), rng.uniform(-1.5, -0.5)])
    axis = np.array([s * rng.uniform(0.4, 0.7), -rng.uniform(0.6, 0.9), -rng.uniform(0.0, 0.3)])
    points, radii = _cochlea_centerline(rng, base, axis)
    tissue = Tissue.COCHLEA_L if s > 0 else Tissue.COCHLEA_R
    fluid.append(PaintOp(tissue, lambda p: shapes.tube(p, points, radii), shapes.box(points.mean(0), np.ptp(points, 0) / 2 + 2)))
    return bone, fluid
