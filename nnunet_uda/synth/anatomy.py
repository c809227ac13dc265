"""A random head with posterior fossa, inner ears and one vestibular schwannoma.

The anatomy is a list of implicit shapes in a head frame (mm): x lateral (+ = patient
left), y posterior, z superior, origin between the two pori acustici. It is a continuous
description, so the same case can be sampled on any grid (each modality's own, and the
other modality's for the paired render) and the structures line up exactly.
"""

from __future__ import annotations

import numpy as np

from nnunet_uda.synth import shapes
from nnunet_uda.synth.inner_ear import ear_ops, sample_ear
from nnunet_uda.synth.tissues import Anatomy, PaintOp, Texture, Tissue
from nnunet_uda.synth.tumour import brainstem_shift, sample_params, tumour_ops

_INTRACRANIAL = (Tissue.CSF, Tissue.GREY, Tissue.WHITE)
# Channels of the points passed to the paint ops (see Anatomy.fields).
HEAD, GYRI, LOW = 3, 4, 5


def case_rng(seed: int, case_number: int, stream: int) -> np.random.Generator:
    """The random stream of one case: 0 = anatomy, 1.. = acquisitions; independent of other cases."""
    return np.random.default_rng([seed, case_number, stream])


def _skull_floor(p: np.ndarray) -> np.ndarray:
    """Height (mm) of the cranial floor: posterior fossa deep, middle fossa higher, orbital roofs highest."""
    x, y = p[0], p[1]
    # The border of the anterior fossa is V-shaped: sella in the midline, orbits laterally.
    anterior_edge = -32.0 - 24.0 * (1.0 - np.exp(-x * x / 400.0))
    return -42.0 + 30.0 / (1.0 + np.exp((y + 5.0) / 4.0)) + 26.0 / (1.0 + np.exp((y - anterior_edge) / 4.0))


def _tentorium(p: np.ndarray) -> np.ndarray:
    """Signed distance-like field, negative in the supratentorial space (and the middle fossa)."""
    above = (15.0 - 0.15 * p[1]) - p[2]
    return np.minimum(above, p[1] + 8.0)


def sample_anatomy(rng: np.random.Generator, intracanalicular_fraction: float = 0.25,
                   radius_mm: tuple[float, float] = (4.0, 17.0), tumour: bool = True) -> Anatomy:
    """Draw one case's anatomy (shapes, textures, pose) from ``rng``; the tumour statistics as
    :func:`~nnunet_uda.synth.tumour.sample_params`. ``tumour=False``: the same kind of head
    without a schwannoma (and without the brainstem shift a large one causes)."""
    side = int(rng.choice([-1, 1]))
    params = sample_params(rng, intracanalicular_fraction, radius_mm)
    bx = brainstem_shift(params, side) if tumour else 0.0
    ears = {s: sample_ear(rng, s) for s in (-1, 1)}

    scale = rng.uniform(0.93, 1.06)
    head_c = np.array([0.0, rng.uniform(-12, -6), rng.uniform(18, 26)])
    head_ax = scale * np.array([72.0, 93.0, 100.0]) * rng.uniform(0.97, 1.03, 3)
    scalp = rng.uniform(4.0, 6.0)
    bone = rng.uniform(6.0, 8.5)
    inner = scalp + bone

    gyri_field = shapes.FourierNoise.random(rng, (14.0, 24.0), n=10)
    low_field = shapes.FourierNoise.random(rng, (25.0, 50.0), n=6)
    fields = [lambda p: shapes.ellipsoid(p, head_c, head_ax), gyri_field, low_field]

    def head(p: np.ndarray) -> np.ndarray:
        return p[HEAD]

    def gyri(p: np.ndarray) -> np.ndarray:
        return p[GYRI]

    def low(p: np.ndarray) -> np.ndarray:
        return p[LOW]

    folia_c = np.array([0.0, 12.0, -6.0])  # folia curve around the brainstem
    folia_w = rng.uniform(2.6, 3.2)

    ops: list[PaintOp] = [
        PaintOp(Tissue.SOFT, head),
        PaintOp(Tissue.FAT, lambda p: head(p) + 1.8, only_over=(Tissue.SOFT,)),
        PaintOp(Tissue.BONE, lambda p: head(p) + scalp),
        PaintOp(Tissue.MARROW, lambda p: head(p) + scalp + 1.8 + 0.8 * low(p)),
        PaintOp(Tissue.BONE, lambda p: head(p) + inner - 1.8),
        PaintOp(Tissue.CSF, lambda p: head(p) + inner),
        PaintOp(Tissue.GREY, lambda p: head(p) + inner + 1.5 + 0.7 * low(p), only_over=(Tissue.CSF,)),
        PaintOp(
            Tissue.WHITE,
            lambda p: np.maximum(
                np.maximum(head(p) + inner, _skull_floor(p) - p[2]) + 9.0 - 3.0 * np.abs(gyri(p)), _tentorium(p)
            ),
            only_over=(Tissue.GREY,),
        ),
        PaintOp(
            Tissue.CSF,
            lambda p: np.maximum(np.abs(gyri(p)) - 0.12, _tentorium(p)),
            only_over=(Tissue.GREY,),
        ),
    ]
    for s in (-1, 1):
        # Middle cerebellar peduncle and the white core of the hemisphere.
        a0 = np.array([s * 9.0, 13.0, -4.0])
        a1 = np.array([s * 25.0, 33.0, -9.0]) + rng.uniform(-2, 2, 3)
        core = a1 + np.array([s * 2.0, 4.0, -5.0])
        core_ax = np.array([9.0, 8.0, 7.0]) * rng.uniform(0.9, 1.1, 3)

        def cerebellar_white(p, a0=a0, a1=a1, core=core, core_ax=core_ax):
            d = np.minimum(shapes.capsule(p, a0, a1, 5.0), shapes.ellipsoid(p, core, core_ax))
            return np.maximum(d + 1.5 * gyri(p), -_tentorium(p))

        ops.append(PaintOp(Tissue.WHITE, cerebellar_white, shapes.box((a0 + core) / 2, 22), only_over=(Tissue.GREY,)))

    def folia(p: np.ndarray) -> np.ndarray:
        r = np.sqrt(((p[0] - folia_c[0]) / 1.4) ** 2 + (p[1] - folia_c[1]) ** 2 + ((p[2] - folia_c[2]) * 1.3) ** 2)
        stripes = np.abs(np.sin(np.pi * r / folia_w + 1.5 * low(p) + 0.8 * gyri(p))) - 0.1
        return np.maximum(stripes, -_tentorium(p))

    ops.append(PaintOp(Tissue.CSF, folia, only_over=(Tissue.GREY,)))

    # Cisterns around the brainstem; the cerebellopontine angles open into the pori.
    cis_c = np.array([bx * 0.5, rng.uniform(1.0, 4.0), rng.uniform(-5.0, -2.0)])
    cis_ax = np.array([23.0 + abs(bx) * 0.5, 15.0, 22.0]) * rng.uniform(0.93, 1.07, 3)
    ops.append(PaintOp(Tissue.CSF, lambda p: shapes.ellipsoid(p, cis_c, cis_ax), shapes.box(cis_c, cis_ax + 1)))
    for s, ear in ears.items():
        cpa_c = ear.porus + np.array([-s * 2.0, 1.0, 0.0])
        cpa_ax = np.array([8.0, 7.0, 7.0]) * rng.uniform(0.85, 1.15, 3)
        ops.append(PaintOp(Tissue.CSF, lambda p, c=cpa_c, ax=cpa_ax: shapes.ellipsoid(p, c, ax), shapes.box(cpa_c, cpa_ax + 1)))
    v4 = np.array([bx, rng.uniform(20.0, 22.0), -6.0])
    ops.append(PaintOp(Tissue.CSF, lambda p: shapes.ellipsoid(p, v4, (5.0, 3.0, 8.0)), shapes.box(v4, 9)))

    pons_c = np.array([bx, rng.uniform(7.5, 9.5), rng.uniform(-4.0, 0.0)])
    pons_ax = np.array([14.0, 12.0, 15.0]) * rng.uniform(0.92, 1.08, 3)
    ops.append(PaintOp(Tissue.BRAINSTEM, lambda p: shapes.ellipsoid(p, pons_c, pons_ax), shapes.box(pons_c, pons_ax + 1)))
    mid_a, mid_b = pons_c + np.array([0, -1.0, 6.0]), pons_c + np.array([-bx * 0.5, -2.0, 32.0])
    ops.append(PaintOp(Tissue.BRAINSTEM, lambda p: shapes.capsule(p, mid_a, mid_b, 10.0), shapes.box((mid_a + mid_b) / 2, 24)))
    cord_a, cord_b = pons_c + np.array([0, 3.0, -8.0]), np.array([0.0, 18.0, -140.0])
    ops.append(PaintOp(Tissue.BRAINSTEM, lambda p: shapes.capsule(p, cord_a, cord_b, 8.0)))
    basilar_a = np.array([bx * 0.7 + rng.uniform(-2, 2), pons_c[1] - pons_ax[1] - 2.0, -30.0])
    basilar_b = np.array([bx * 0.7 + rng.uniform(-2, 2), pons_c[1] - pons_ax[1] - 1.5, 14.0])
    ops.append(PaintOp(Tissue.ARTERY, lambda p: shapes.capsule(p, basilar_a, basilar_b, 1.6), shapes.box((basilar_a + basilar_b) / 2, 25)))

    # Skull base: bone under the cranial floor (except the foramen magnum), neck below.
    def under_floor(p: np.ndarray) -> np.ndarray:
        hole = 11.0 - shapes.capsule(p, cord_a, cord_b, 0.0)
        return np.maximum(p[2] - _skull_floor(p), hole)

    ops.append(PaintOp(Tissue.BONE, under_floor, only_over=_INTRACRANIAL + (Tissue.BRAINSTEM, Tissue.ARTERY)))
    ops.append(
        PaintOp(
            Tissue.SOFT,
            lambda p: p[2] - _skull_floor(p) + 12.0,
            only_over=(Tissue.BONE, Tissue.MARROW) + _INTRACRANIAL,
        )
    )
    ops.append(PaintOp(Tissue.CSF, lambda p: np.maximum(shapes.capsule(p, cord_a, cord_b, 10.5), p[2] + 30.0)))
    ops.append(PaintOp(Tissue.BRAINSTEM, lambda p: np.maximum(shapes.capsule(p, cord_a, cord_b, 6.5), p[2] + 30.0)))

    ops.extend(_orbits_and_sinuses(rng, head))

    clivus_c = np.array([0.0, -20.0 + rng.uniform(-2, 2), -14.0])
    clivus_rot = shapes.rotation(pitch=np.deg2rad(rng.uniform(25, 35)))
    clivus_ax = (14.0, 9.0, 26.0)
    ops.append(PaintOp(Tissue.BONE, lambda p: shapes.ellipsoid(p, clivus_c, clivus_ax, clivus_rot), shapes.box(clivus_c, 28)))
    sinus_c = np.array([0.0, -36.0 + rng.uniform(-2, 2), rng.uniform(-6, 0)])
    sinus_ax = np.array([11.0, 9.0, 9.0]) * rng.uniform(0.85, 1.15, 3)
    ops.append(PaintOp(Tissue.AIR, lambda p: shapes.ellipsoid(p, sinus_c, sinus_ax), shapes.box(sinus_c, sinus_ax + 1)))

    fluid_ops: list[PaintOp] = []
    for s, ear in ears.items():
        bone_ops, fl = ear_ops(rng, ear, bx)
        ops.extend(bone_ops)
        fluid_ops.extend(fl)
    ops.extend(fluid_ops)

    textures = [Texture((Tissue.GREY, Tissue.WHITE, Tissue.BRAINSTEM), low, 0.03)]
    if tumour:
        vs_ops, vs_texture = tumour_ops(rng, params, ears[side])
        ops.extend(vs_ops)
        textures.insert(0, vs_texture)
    rot = shapes.rotation(*np.deg2rad(rng.uniform([-6, -8, -4], [6, 8, 4])))
    translation = np.array([1.7, 21.4, -38.6]) + rng.uniform([-5, -8, -10], [5, 8, 10])
    info = {
        "vs_side": ("left" if side > 0 else "right") if tumour else None,
        "vs_type": params.kind if tumour else "absent",
        "vs_cisternal_radius_mm": round(params.radius, 2) if tumour else 0.0,
        "vs_cystic": params.cystic and tumour,
    }
    return Anatomy(ops, textures, rot, translation, fields, info)



def _orbits_and_sinuses(rng: np.random.Generator, head) -> list[PaintOp]:
    """Orbital fat, globes (vitreous signals like CSF), optic nerves and ethmoid air cells."""
    ops: list[PaintOp] = []
    below_floor = (Tissue.SOFT, Tissue.BONE, Tissue.MARROW, Tissue.FAT)
    for s in (-1, 1):
        fat_c = np.array([s * 29.0, -66.0, -2.0]) + rng.uniform(-2, 2, 3)
        fat_ax = np.array([15.0, 22.0, 14.0])
        ops.append(
            PaintOp(
                Tissue.FAT,
                lambda p, c=fat_c, ax=fat_ax: np.maximum(shapes.ellipsoid(p, c, ax), head(p) + 3.0),
                shapes.box(fat_c, fat_ax + 1),
                only_over=below_floor,
            )
        )
        globe_c = fat_c + np.array([s * 2.0, -9.0, 0.0])
        radius = rng.uniform(11.0, 12.5)
        ops.append(
            PaintOp(
                Tissue.CSF,
                lambda p, c=globe_c, r=radius: shapes.ellipsoid(p, c, (r, r, r)),
                shapes.box(globe_c, radius + 1),
                only_over=(Tissue.FAT,),
            )
        )
        a, b = globe_c + np.array([-s * 2.0, radius - 1.0, 0.0]), np.array([s * 10.0, -28.0, 4.0])
        ops.append(PaintOp(Tissue.NERVE, lambda p, a=a, b=b: shapes.capsule(p, a, b, 2.2), shapes.box((a + b) / 2, 25), only_over=(Tissue.FAT,)))
    cells = shapes.FourierNoise.random(rng, (6.0, 10.0), n=10)
    eth_c = np.array([0.0, -70.0 + rng.uniform(-3, 3), -6.0])
    eth_ax = (10.0, 22.0, 16.0)
    ops.append(
        PaintOp(
            Tissue.AIR,
            lambda p: np.maximum(shapes.ellipsoid(p, eth_c, eth_ax), -0.5 - cells(p)),
            shapes.box(eth_c, 23),
            only_over=below_floor,
        )
    )
    return ops
