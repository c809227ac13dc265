"""The vestibular schwannoma: intracanalicular or extrameatal, lobulated, sometimes cystic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnunet_uda.synth import shapes
from nnunet_uda.synth.inner_ear import EarGeometry
from nnunet_uda.synth.tissues import PaintOp, Texture, Tissue

# The tumour grows in the canal and cistern; it does not replace bone, air or the labyrinth.
_PROTECTED = (Tissue.BONE, Tissue.MARROW, Tissue.AIR, Tissue.LABYRINTH, Tissue.COCHLEA_L, Tissue.COCHLEA_R, Tissue.VENOUS)


@dataclass(frozen=True)
class TumourParams:
    """Size parameters drawn before the anatomy is built (the brainstem yields to the tumour)."""

    kind: str  # "intracanalicular" or "extrameatal"
    radius: float  # radius of the cisternal component in mm (0 if intracanalicular)
    cystic: bool


def sample_params(rng: np.random.Generator, intracanalicular_fraction: float = 0.25,
                  radius_mm: tuple[float, float] = (4.0, 17.0)) -> TumourParams:
    """Draw the tumour type and size: intracanalicular with the given probability, else a
    cisternal radius log-uniform in ``radius_mm``."""
    if rng.uniform() < intracanalicular_fraction:
        return TumourParams("intracanalicular", 0.0, False)
    radius = float(np.exp(rng.uniform(np.log(radius_mm[0]), np.log(radius_mm[1]))))
    return TumourParams("extrameatal", radius, bool(radius > 7.0 and rng.uniform() < 0.35))


def brainstem_shift(params: TumourParams, side: int) -> float:
    """Contralateral displacement (mm, along x) of the brainstem by a large tumour."""
    return -side * max(0.0, params.radius - 9.0) * 0.5


def tumour_ops(rng: np.random.Generator, params: TumourParams, ear: EarGeometry) -> tuple[list[PaintOp], Texture]:
    """Paint operations of the tumour (solid, then cyst) and its heterogeneity texture."""
    a = ear.axis
    r_canal = ear.iac_radius * rng.uniform(0.8, 0.97)
    length = float(np.linalg.norm(ear.fundus - ear.porus))
    wobble = shapes.FourierNoise.random(rng, (2.0, 5.0), n=8)
    if params.kind == "intracanalicular":
        t0 = rng.uniform(-1.0, 3.0)
        t1 = rng.uniform(min(t0 + 3.0, length - 1.0), length - 0.8)
        p0, p1 = ear.porus + t0 * a, ear.porus + t1 * a
        ops = [
            PaintOp(
                Tissue.VS,
                lambda p: shapes.capsule(p, p0, p1, r_canal) + 0.25 * wobble(p),
                shapes.box((p0 + p1) / 2, np.abs(p1 - p0) / 2 + r_canal + 1),
                not_over=_PROTECTED,
            )
        ]
        texture = Texture((Tissue.VS,), shapes.FourierNoise.random(rng, (2.0, 5.0), n=16), rng.uniform(0.03, 0.08))
        return ops, texture

    radius = params.radius
    t1 = rng.uniform(0.4, 0.9) * (length - 0.8)
    p_canal0, p_canal1 = ear.porus - 1.0 * a, ear.porus + t1 * a
    posterior = np.array([0.0, 1.0, 0.0])
    c0 = ear.porus - 0.7 * radius * a + rng.uniform(0.0, 0.3) * radius * posterior
    c0 = c0 + np.array([0.0, 0.0, rng.uniform(-0.15, 0.15) * radius])
    lobes = [(c0, radius * rng.uniform([0.85, 0.8, 0.75], [1.1, 1.05, 1.0]))]
    for _ in range(rng.integers(1, 4)):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if d @ a > 0:  # lobes grow into the cistern, not back into the bone
            d -= 2 * (d @ a) * a
        lobes.append((c0 + d * rng.uniform(0.25, 0.55) * radius, radius * rng.uniform(0.45, 0.75, size=3)))
    rots = [shapes.rotation(*rng.uniform(-np.pi, np.pi, 3)) for _ in lobes]
    bumps = shapes.FourierNoise.random(rng, (0.6 * radius, 1.4 * radius), n=10)
    amp = 0.1 * radius

    def solid(p: np.ndarray) -> np.ndarray:
        d = shapes.capsule(p, p_canal0, p_canal1, r_canal) + 0.25 * wobble(p)
        for (c, ax), rot in zip(lobes, rots):
            d = np.minimum(d, shapes.ellipsoid(p, c, ax, rot) + amp * bumps(p))
        return d

    extent = 1.7 * radius + 2
    ops = [PaintOp(Tissue.VS, solid, shapes.box(c0, extent), not_over=_PROTECTED)]
    if params.cystic:
        cc = c0 + rng.uniform(-0.35, 0.35, size=3) * radius
        cax = radius * rng.uniform(0.3, 0.55, size=3)
        ops.append(
            PaintOp(
                Tissue.VS_CYST,
                lambda p: np.maximum(shapes.ellipsoid(p, cc, cax), solid(p) + 1.5),
                shapes.box(cc, cax.max() + 1),
                only_over=(Tissue.VS,),
            )
        )
    texture = Texture(
        (Tissue.VS,), shapes.FourierNoise.random(rng, (3.0, 0.4 * radius + 4), n=24), rng.uniform(0.04, 0.12)
    )
    return ops, texture

