"""Slice extraction and its inverse (item 1 and the geometry half of item 5)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from nnunet_uda.translation.config import SliceConfig
from nnunet_uda.translation.slices import (
    _pad_or_crop,
    _uncenter,
    roi_bounds,
    site_of_volume,
    slices_to_volume,
    volume_to_slices,
)


def test_roi_is_the_central_half():
    assert roi_bounds((448, 384), True) == (slice(112, 336), slice(96, 288))
    assert roi_bounds((448, 384), False) == (slice(0, 448), slice(0, 384))


@pytest.mark.parametrize("h, w, size", [(10, 14, 16), (20, 12, 16), (30, 40, 16)])
def test_pad_or_crop_round_trip(h, w, size):
    x = torch.randn(2, 1, h, w)
    y = _uncenter(_pad_or_crop(x, size, -1.0), (h, w), -1.0)
    kh, kw = min(h, size), min(w, size)
    t, l = (h - kh) // 2, (w - kw) // 2
    assert torch.equal(y[..., t : t + kh, l : l + kw], x[..., t : t + kh, l : l + kw])


@pytest.mark.parametrize("crop", [True, False])
def test_volume_round_trip_without_translation(crop):
    rng = np.random.default_rng(0)
    arr = rng.uniform(0, 100, (5, 36, 44)).astype(np.float32)
    cfg = SliceConfig(crop_roi=crop, image_size=48, spacing=2.0, percentiles=(0.0, 100.0))
    slices, labels, geom = volume_to_slices(arr, (2.0, 2.0, 3.0), cfg, label=(arr > 50).astype(np.uint8))
    assert slices.shape == (5, 1, 48, 48) and labels.shape == (5, 48, 48)
    assert slices.min() >= -1 and slices.max() <= 1
    roi = roi_bounds(arr.shape[1:], crop)
    inside = arr[:, roi[0], roi[1]]
    back = slices_to_volume(slices, geom, float(inside.min()), float(inside.max()))
    assert back.shape == arr.shape
    np.testing.assert_allclose(back[:, roi[0], roi[1]], inside, atol=1e-3)
    if crop:
        assert np.all(back[:, : roi[0].start] == inside.min())


def test_resampling_changes_resolution_and_comes_back():
    arr = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (3, 40, 1))
    cfg = SliceConfig(crop_roi=False, image_size=32, spacing=2.0, percentiles=(0.0, 100.0))
    slices, _, geom = volume_to_slices(arr, (1.0, 1.0, 3.0), cfg)
    assert geom.resampled == (20, 20)
    back = slices_to_volume(slices, geom, 0.0, 1.0)
    assert np.abs(back - arr).max() < 0.05


def test_site_from_name_else_matrix_size():
    img = sitk.Image(448, 384, 20, sitk.sitkFloat32)
    assert site_of_volume("crossmoda2021_ldn_12", img) == "ldn"
    assert site_of_volume("crossmoda_12", img) == "448x384"
