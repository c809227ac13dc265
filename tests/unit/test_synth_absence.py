"""nnuda-synth --n-absence: hrT2 cases without a schwannoma (the absence domain), bad values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_uda.crossmoda import LABELS, PAIRED, TARGET_TRAINING, image_cases, list_folder
from nnunet_uda.errors import InputError
from nnunet_uda.synth import synthesize
from nnunet_uda.synth.case import TARGET_TRAINING_ABSENCE, TARGET_TRAINING_ABSENCE_LABELS

SYNTH = Path(sys.executable).parent / "nnuda-synth"
SMALL = {"n_source": 1, "n_target": 1, "n_validation": 1, "preview": False}


def _arr(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_absence_cases_have_no_schwannoma_and_leave_the_others_unchanged(tmp_path: Path) -> None:
    out = synthesize(tmp_path / "pa", seed=0, n_absence=2, **SMALL)
    absence = image_cases(out / TARGET_TRAINING_ABSENCE, "hrT2")
    assert sorted(absence) == ["crossmoda2021_etz_108", "crossmoda2021_ldn_109"]
    assert sorted(list_folder(out / TARGET_TRAINING_ABSENCE_LABELS, ("Label",))) == sorted(absence)
    for case, path in absence.items():
        label = _arr(out / TARGET_TRAINING_ABSENCE_LABELS / f"{case}_Label.nii.gz")
        assert LABELS["VS"] not in label and (label == LABELS["cochlea"]).sum() > 0, case
        image = _arr(path)
        assert image.shape == label.shape and np.isfinite(image).all() and image.std() > 0
        assert (out / PAIRED / f"{case}_ceT1.nii.gz").is_file()
    meta = json.loads((out / "synth.json").read_text())
    assert meta["counts"][TARGET_TRAINING_ABSENCE] == 2
    records = {r["case"]: r for r in meta["cases"]}
    assert all(records[c]["vs_volume_mm3"] == 0 and records[c]["vs_type"] == "absent" for c in absence)
    # the presence cases are the ones a folder without absence cases has
    plain = synthesize(tmp_path / "plain", seed=0, **SMALL)
    assert not (plain / TARGET_TRAINING_ABSENCE).exists()
    assert "target_training_absence" not in json.loads((plain / "synth.json").read_text())["counts"]
    target = image_cases(out / TARGET_TRAINING, "hrT2")
    for case, path in target.items():
        assert np.array_equal(_arr(path), _arr(plain / TARGET_TRAINING / path.name))
        label = _arr(out / "target_training_labels" / f"{case}_Label.nii.gz")
        assert (label == LABELS["VS"]).sum() > 0


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_bad_absence_counts(tmp_path: Path, value) -> None:
    with pytest.raises(InputError, match=r"n_absence \(--n-absence\) must be a whole number >= 0"):
        synthesize(tmp_path / "x", n_absence=value, **SMALL)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("value, message", [
    ("-1", "nnuda-synth: error: n_absence (--n-absence) must be a whole number >= 0, got -1"),
    ("two", "nnuda-synth: error: argument --n-absence: invalid int value: 'two'"),
])
def test_cli_answers_bad_absence_counts_in_one_line(tmp_path: Path, value: str, message: str) -> None:
    r = subprocess.run([str(SYNTH), "-o", str(tmp_path / "x"), "--n-absence", value], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert r.stderr.startswith(message), r.stderr
