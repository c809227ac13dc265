"""Dice / ASSD / HD95: hand-computed values on simple shapes, and agreement with medpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from nnunet_uda.metrics import MAX_SURFACE_DISTANCE_MM, assd, dice, hd95, surface_distances

medpy_binary = pytest.importorskip("medpy.metric.binary")

SPACING = (0.5, 1.0, 2.0)  # (z, y, x) mm


def cube(shape=(10, 8, 8), start=(1, 2, 2), n=4) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[tuple(slice(s, s + n) for s in start)] = True
    return m


def sphere(shape, centre, radius_mm, spacing) -> np.ndarray:
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing)) <= radius_mm**2


def medpy_assd_challenge(a, b, spacing) -> float:
    """medpy <= 0.4's assd (the challenge's): mean of the two directed means."""
    return 0.5 * (medpy_binary.asd(a, b, spacing) + medpy_binary.asd(b, a, spacing))


def test_identical_cubes():
    a = cube()
    assert dice(a, a) == 1.0
    assert assd(a, a, SPACING) == 0.0
    assert hd95(a, a, SPACING) == 0.0


# A 4x4x4 cube A and B = A shifted by k voxels along z (spacing z 0.5, y 1, x 2 mm).
# Surface of A: its 56 shell voxels (64 minus the 2x2x2 core).
# k = 1: A's bottom slice (16 voxels) is 1 slice below B -> 0.5 mm each; the lateral rings
#   of slices z=1..3 (36 voxels) lie on B's lateral surface -> 0; A's top-face interior
#   (4 voxels) is inside B, nearest B surface is B's bottom face 1 slice down or top
#   face 1 slice up (0.5 mm; the lateral faces are >= 1 mm away in y).
#   Directed mean 20 * 0.5 / 56 = 5/28; by symmetry ASSD = 5/28 mm.
#   The 112 pooled distances are 40 x 0.5 and 72 x 0: the 95th percentile is 0.5 mm.
#   Dice = 2 * 48 / 128 = 0.75.
# k = 2: bottom slice 16 x 1.0 mm, the ring of slice 1: 12 x 0.5 mm, the rings of slices
#   2 and 3: 0, top-face interior: 4 x 0.5 mm (B's bottom face is 1 slice down).
#   Directed mean (16 + 6 + 2) / 56 = 3/7 mm; pooled: 32 x 1.0, 32 x 0.5, 48 x 0 ->
#   95th percentile 1.0 mm. Dice = 2 * 32 / 128 = 0.5.
@pytest.mark.parametrize("k, want_assd, want_hd95, want_dice", [(1, 5 / 28, 0.5, 0.75), (2, 3 / 7, 1.0, 0.5)])
def test_shifted_cube_hand_computed(k, want_assd, want_hd95, want_dice):
    a = cube()
    b = np.roll(a, k, axis=0)
    assert dice(a, b) == pytest.approx(want_dice, abs=1e-12)
    assert assd(a, b, SPACING) == pytest.approx(want_assd, abs=1e-12)
    assert hd95(a, b, SPACING) == pytest.approx(want_hd95, abs=1e-12)
    assert assd(b, a, SPACING) == pytest.approx(want_assd, abs=1e-12)


def test_shift_along_x_scales_with_x_spacing():
    # The same cube shifted by 1 voxel along x instead (x spacing 2 mm). A's x-min face
    # (16 voxels) is 2 mm from B; the rings of the other x-slabs lie on B's surface (0);
    # the 4 interior voxels of A's x-max face are nearest to B's z-faces, 1 voxel = 0.5 mm
    # away, closer than B's x-max face (2 mm). Directed mean (16 * 2 + 4 * 0.5) / 56.
    a = cube()
    b = np.roll(a, 1, axis=2)
    assert assd(a, b, SPACING) == pytest.approx((16 * 2.0 + 4 * 0.5) / 56, abs=1e-12)
    assert assd(a, b, SPACING) == pytest.approx(medpy_binary.assd(a, b, SPACING), abs=1e-12)


def test_equal_spheres_with_offset_match_medpy():
    spacing = (2.5, 0.6, 0.9)
    a = sphere((30, 40, 40), (14, 20, 20), 9.0, spacing)
    b = sphere((30, 40, 40), (15, 23, 18), 9.0, spacing)
    assert dice(a, b) == pytest.approx(medpy_binary.dc(a, b), abs=1e-6)
    # Same surface size: medpy 0.5's pooled mean equals the mean of the directed means.
    assert assd(a, b, spacing) == pytest.approx(medpy_binary.assd(a, b, spacing), abs=1e-6)
    assert hd95(a, b, spacing) == pytest.approx(medpy_binary.hd95(a, b, spacing), abs=1e-6)
    assert 0 < dice(a, b) < 1 and assd(a, b, spacing) > 0


def test_unequal_spheres_use_the_challenge_assd():
    spacing = (2.5, 0.6, 0.9)
    a = sphere((30, 40, 40), (14, 20, 20), 9.0, spacing)
    b = sphere((30, 40, 40), (15, 22, 19), 6.0, spacing)
    assert assd(a, b, spacing) == pytest.approx(medpy_assd_challenge(a, b, spacing), abs=1e-6)
    assert hd95(a, b, spacing) == pytest.approx(medpy_binary.hd95(a, b, spacing), abs=1e-6)
    assert dice(a, b) == pytest.approx(medpy_binary.dc(a, b), abs=1e-6)


def test_masks_touching_the_array_border_match_medpy():
    # The distance transforms run on a cropped box; at the array border it must not change anything.
    spacing = (1.5, 0.7, 0.7)
    a = sphere((12, 30, 30), (0, 10, 29), 8.0, spacing)
    b = sphere((12, 30, 30), (11, 14, 25), 9.0, spacing)
    assert assd(a, b, spacing) == pytest.approx(medpy_assd_challenge(a, b, spacing), abs=1e-6)
    assert hd95(a, b, spacing) == pytest.approx(medpy_binary.hd95(a, b, spacing), abs=1e-6)
    d_ab, d_ba = surface_distances(a, b, spacing)
    assert d_ab.size == np.count_nonzero(a) - np.count_nonzero(binary_erosion(a))
    assert d_ba.size == np.count_nonzero(b) - np.count_nonzero(binary_erosion(b))


def test_2d_masks_match_medpy():
    spacing = (0.8, 1.3)
    a = sphere((40, 40), (20, 18), 10.0, spacing)
    b = sphere((40, 40), (23, 20), 7.0, spacing)
    assert assd(a, b, spacing) == pytest.approx(medpy_assd_challenge(a, b, spacing), abs=1e-6)
    assert hd95(a, b, spacing) == pytest.approx(medpy_binary.hd95(a, b, spacing), abs=1e-6)


def test_label_values_count_as_foreground():
    a = cube().astype(np.uint8) * 2
    assert dice(a, cube()) == 1.0


def test_empty_prediction_scores_350():
    empty = np.zeros((10, 8, 8), bool)
    assert MAX_SURFACE_DISTANCE_MM == 350.0
    assert dice(empty, cube()) == 0.0
    assert assd(empty, cube(), SPACING) == 350.0
    assert hd95(empty, cube(), SPACING) == 350.0


def test_both_empty_as_the_challenge():
    empty = np.zeros((10, 8, 8), bool)
    assert dice(empty, empty) == 1.0  # medpy dc
    assert assd(empty, empty, SPACING) == 350.0  # the challenge checks only the prediction
    assert hd95(empty, empty, SPACING) == 350.0


def test_prediction_without_truth_scores_350():
    empty = np.zeros((10, 8, 8), bool)
    assert dice(cube(), empty) == 0.0
    assert assd(cube(), empty, SPACING) == 350.0
    assert hd95(cube(), empty, SPACING) == 350.0


def test_bad_shapes_and_spacing():
    with pytest.raises(ValueError, match="shape"):
        dice(cube(), cube(shape=(10, 8, 9)))
    with pytest.raises(ValueError, match="shape"):
        assd(cube(), cube(shape=(10, 8, 9)), SPACING)
    with pytest.raises(ValueError, match="spacing"):
        assd(cube(), cube(), (1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        hd95(cube(), cube(), (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="non-empty"):
        surface_distances(cube(), np.zeros_like(cube()), SPACING)
