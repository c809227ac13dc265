"""nnuda-convert: layout, contents, and one clear error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from nnuda_testing import run_tool
from nnunet_uda.convert import convert
from nnunet_uda.errors import InputError


def _first(folder: Path, pattern: str) -> Path:
    return sorted(folder.glob(pattern))[0]


def _rewrite(path: Path, fn) -> None:
    img = sitk.ReadImage(str(path))
    new = fn(img)
    sitk.WriteImage(new, str(path))


def test_baseline_layout_and_geometry(crossmoda_tiny, nnunet_dirs):
    ds = convert(crossmoda_tiny, 501, "ceT1", unlabeled=True)
    assert ds.name == "Dataset501_CrossMoDA_ceT1"
    meta = json.loads((ds / "dataset.json").read_text())
    n_src = len(list((crossmoda_tiny / "source_training").glob("*_ceT1.nii.gz")))
    n_tgt = len(list((crossmoda_tiny / "target_training").glob("*_hrT2.nii.gz")))
    n_val = len(list((crossmoda_tiny / "target_validation").glob("*_hrT2.nii.gz")))
    assert meta["numTraining"] == n_src == len(list((ds / "labelsTr").iterdir()))
    assert meta["numUnlabeled"] == n_tgt == len(list((ds / "imagesTrUnlabeled").iterdir()))
    assert len(list((ds / "imagesTs").iterdir())) == n_val
    assert meta["labels"] == {"background": 0, "VS": 1, "cochlea": 2}
    assert meta["channel_names"] == {"0": "ceT1"}
    src = _first(crossmoda_tiny / "source_training", "*_ceT1.nii.gz")
    case = src.name[: -len("_ceT1.nii.gz")]
    a, b = sitk.ReadImage(str(src)), sitk.ReadImage(str(ds / "imagesTr" / f"{case}_0000.nii.gz"))
    assert a.GetSpacing() == b.GetSpacing() and a.GetOrigin() == b.GetOrigin() and a.GetDirection() == b.GetDirection()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
    assert not list(ds.parent.glob(".*tmp*")), "temporary folder left behind"


def test_oracle_and_semi_supervised_split(crossmoda_tiny, nnunet_dirs):
    ds = convert(crossmoda_tiny, 502, "hrT2", n_labeled=2, unlabeled=True)
    meta = json.loads((ds / "dataset.json").read_text())
    n_tgt = len(list((crossmoda_tiny / "target_training").glob("*_hrT2.nii.gz")))
    assert meta["numTraining"] == 2
    assert meta["numUnlabeled"] == n_tgt - 2
    labeled = {p.name[: -len(".nii.gz")] for p in (ds / "labelsTr").iterdir()}
    pool = {p.name[: -len("_0000.nii.gz")] for p in (ds / "imagesTrUnlabeled").iterdir()}
    assert labeled.isdisjoint(pool)


def test_existing_output_needs_overwrite(crossmoda_tiny, nnunet_dirs):
    ds = convert(crossmoda_tiny, 503, "ceT1")
    marker = ds / "dataset.json"
    before = marker.read_text()
    with pytest.raises(InputError, match="--overwrite"):
        convert(crossmoda_tiny, 503, "ceT1")
    assert marker.read_text() == before
    with pytest.raises(InputError, match="already used"):
        convert(crossmoda_tiny, 503, "ceT1", name="Other", overwrite=True)
    convert(crossmoda_tiny, 503, "ceT1", unlabeled=True, overwrite=True)
    assert json.loads(marker.read_text())["numUnlabeled"] > 0


def _expect(folder, match, **kw):
    with pytest.raises(InputError, match=match) as e:
        convert(folder, 510, **kw)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_missing_folders(tmp_path, crossmoda_copy, nnunet_dirs):
    _expect(tmp_path / "nope", "input folder not found")
    (crossmoda_copy / "source_training").rename(crossmoda_copy / "renamed")
    _expect(crossmoda_copy, "source_training folder not found")


def test_empty_folder(tmp_path, nnunet_dirs):
    (tmp_path / "empty" / "source_training").mkdir(parents=True)
    _expect(tmp_path / "empty", "no .*ceT1.nii.gz")


def test_unpaired_image(crossmoda_copy, nnunet_dirs):
    label = _first(crossmoda_copy / "source_training", "*_Label.nii.gz")
    label.unlink()
    msg = _expect(crossmoda_copy, "image without label")
    assert label.name.replace("_Label", "_ceT1") in msg


def test_label_values_outside_dataset_json(crossmoda_copy, nnunet_dirs):
    label = _first(crossmoda_copy / "source_training", "*_Label.nii.gz")
    _rewrite(label, lambda img: sitk.Cast(img, sitk.sitkUInt8) * 0 + 5)
    msg = _expect(crossmoda_copy, r"label values \[5\]")
    assert str(label) in msg


def test_geometry_mismatch(crossmoda_copy, nnunet_dirs):
    label = _first(crossmoda_copy / "source_training", "*_Label.nii.gz")

    def shift(img):
        img.SetOrigin(tuple(o + 7.0 for o in img.GetOrigin()))
        return img

    _rewrite(label, shift)
    assert str(label) in _expect(crossmoda_copy, "geometry mismatch")


def test_nan_intensities(crossmoda_copy, nnunet_dirs):
    image = _first(crossmoda_copy / "source_training", "*_ceT1.nii.gz")

    def poison(img):
        arr = sitk.GetArrayFromImage(img).astype(np.float32)
        arr[0, 0, 0] = np.nan
        out = sitk.GetImageFromArray(arr)
        out.CopyInformation(img)
        return out

    _rewrite(image, poison)
    assert str(image) in _expect(crossmoda_copy, "NaN")


def test_non_nifti_file(crossmoda_copy, nnunet_dirs):
    (crossmoda_copy / "source_training" / "notes.txt").write_text("hello")
    _expect(crossmoda_copy, "not a NIfTI file")


def test_unknown_modality_and_oracle_without_labels(crossmoda_copy, nnunet_dirs):
    _expect(crossmoda_copy, "unknown modality suffix 'T1'", modality="T1")
    import shutil

    shutil.rmtree(crossmoda_copy / "target_training_labels")
    _expect(crossmoda_copy, "no target labels", modality="hrT2")


def test_output_inside_input_is_refused(crossmoda_copy, monkeypatch):
    monkeypatch.setenv("nnUNet_raw", str(crossmoda_copy / "raw"))
    _expect(crossmoda_copy, "lies inside the input folder")


def test_cli_prints_one_line(tmp_path, nnunet_dirs):
    res = run_tool("nnuda-convert", "-i", str(tmp_path / "missing"), "-d", "501", env=nnunet_dirs, check=False)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert res.stderr.startswith("nnuda-convert: error: input folder not found")


def test_absence_scans_go_to_their_own_folder(tmp_path, nnunet_dirs):
    from nnunet_uda.synth import synthesize

    data = tmp_path / "with_absence"
    synthesize(data, preset="tiny", seed=0, preview=False, n_absence=2)
    ds = convert(data, 507, "hrT2", n_labeled=1, unlabeled=True, absence=True)
    meta = json.loads((ds / "dataset.json").read_text())
    absent = sorted(p.name for p in (ds / "imagesTrAbsence").iterdir())
    expected = sorted(p.name.replace("_hrT2.nii.gz", "_0000.nii.gz")
                      for p in (data / "target_training_absence").glob("*_hrT2.nii.gz"))
    assert meta["numAbsence"] == 2 and absent == expected
    pool = {p.name for p in (ds / "imagesTrUnlabeled").iterdir()}
    assert pool.isdisjoint(absent)


def test_absence_without_its_folder_is_one_error(crossmoda_tiny, nnunet_dirs):
    with pytest.raises(InputError, match="target_training_absence folder"):
        convert(crossmoda_tiny, 508, "hrT2", absence=True)
