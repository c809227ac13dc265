"""nnuda-demo's choices that need no training: translator size, input checks."""

from __future__ import annotations


import pytest

from nnunet_uda.crossmoda import TARGET_TRAINING
from nnunet_uda.demo import DemoSettings, Pipeline, demo, translation_image_size
from nnunet_uda.errors import InputError


def test_translation_size_fits_the_roi_at_the_target_spacing(crossmoda_tiny):
    images = sorted((crossmoda_tiny / TARGET_TRAINING).glob("*_hrT2.nii.gz"))
    whole = translation_image_size(images, crop_roi=False, limit=256)
    half = translation_image_size(images, crop_roi=True, limit=256)
    assert whole % 4 == 0 and half % 4 == 0 and 32 <= half < whole <= 256
    # tiny: about 100 mm at 2.25-2.75 mm
    assert 36 <= whole <= 56
    assert translation_image_size(images, crop_roi=False, limit=40) == 40


def test_own_folder_is_used_in_place_and_never_written(crossmoda_tiny, tmp_path):
    p = Pipeline(tmp_path / "work", DemoSettings(input=crossmoda_tiny, device="cpu"))
    assert p.data == crossmoda_tiny and p.validation_labels == crossmoda_tiny / "target_validation_labels"
    command = p.translate_command()
    assert "--no-crop" not in command  # a user's scans are cropped to PAST's ROI
    with pytest.raises(InputError, match="inside the input folder"):
        demo(crossmoda_tiny / "work", DemoSettings(input=crossmoda_tiny, device="cpu"))
    assert not (crossmoda_tiny / "work").exists()


def test_missing_input_folder_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="input folder not found"):
        demo(tmp_path / "work", DemoSettings(input=tmp_path / "nope", device="cpu"))


def test_oracle_needs_target_labels(tmp_path, crossmoda_tiny):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(crossmoda_tiny, data, ignore=shutil.ignore_patterns("target_training_labels"))
    with pytest.raises(InputError, match="--oracle needs labeled target scans"):
        demo(tmp_path / "work", DemoSettings(input=data, oracle=True, device="cpu"))


def test_per_site_trains_one_translator_per_target_site(crossmoda_tiny, tmp_path):
    plain = Pipeline(tmp_path / "a", DemoSettings(input=crossmoda_tiny, device="cpu")).translate_command()
    per_site = Pipeline(tmp_path / "b", DemoSettings(input=crossmoda_tiny, device="cpu", per_site=True)).translate_command()
    assert "--per-site" not in plain and per_site.count("--per-site") == 1
    assert [a for a in per_site if a != "--per-site"][:6] == plain[:6]
