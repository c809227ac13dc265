"""Shared core: CrossMoDA names, atomic outputs, NIfTI checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_uda import crossmoda as cm
from nnunet_uda.cli_utils import atomic_output_dir, check_not_inside
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import read_array, write_array_like, write_image


@pytest.mark.parametrize(
    "name, case, kind, site",
    [
        ("crossmoda2021_ldn_1_ceT1.nii.gz", "crossmoda2021_ldn_1", "ceT1", "ldn"),
        ("crossmoda2021_etz_106_hrT2.nii.gz", "crossmoda2021_etz_106", "hrT2", "etz"),
        ("crossmoda_7_Label.nii.gz", "crossmoda_7", "Label", None),
        ("crossmoda2022_ldn_3_Label.nii", "crossmoda2022_ldn_3", "Label", "ldn"),
    ],
)
def test_parse_name(name, case, kind, site):
    f = cm.parse_name(Path("/x") / name)
    assert (f.case, f.kind, f.site) == (case, kind, site)


@pytest.mark.parametrize("name, match", [("a_T1.nii.gz", "unknown file name"), ("a_ceT1.mha", "not a NIfTI")])
def test_parse_name_bad(name, match):
    with pytest.raises(InputError, match=match):
        cm.parse_name(Path(name))


def test_atomic_output_dir_keeps_old_on_failure(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(InputError, match="--overwrite"):
        with atomic_output_dir(out, overwrite=False):
            pass
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("boom")
    assert (out / "keep.txt").read_text() == "old" and not (out / "new.txt").exists()
    with atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_check_not_inside(tmp_path):
    check_not_inside(tmp_path / "b", [tmp_path / "a"])
    with pytest.raises(InputError):
        check_not_inside(tmp_path / "a" / "sub", [tmp_path / "a"])


def test_write_refuses_and_keeps_geometry(tmp_path):
    ref = sitk.GetImageFromArray(np.zeros((3, 4, 5), np.float32))
    ref.SetSpacing((0.5, 0.6, 1.5))
    ref.SetOrigin((1.0, -2.0, 3.0))
    path = tmp_path / "a.nii.gz"
    write_array_like(np.ones((3, 4, 5), np.float32), ref, path)
    with pytest.raises(InputError, match="--overwrite"):
        write_image(ref, path)
    arr, img = read_array(path)
    assert arr.sum() == 60 and img.GetSpacing() == pytest.approx(ref.GetSpacing())
    assert img.GetOrigin() == pytest.approx(ref.GetOrigin())
    assert [p.name for p in tmp_path.iterdir()] == ["a.nii.gz"]


def test_read_array_rejects_nan(tmp_path):
    arr = np.zeros((2, 2, 2), np.float32)
    arr[1, 1, 1] = np.nan
    path = tmp_path / "nan.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(arr), str(path))
    with pytest.raises(InputError, match="1 NaN"):
        read_array(path)
