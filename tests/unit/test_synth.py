"""nnuda-synth: layout, determinism, labels, geometry, contrasts, overwrite, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.ndimage import binary_dilation, binary_erosion

from nnunet_uda.crossmoda import (
    LABELS,
    PAIRED,
    SOURCE_TRAINING,
    TARGET_TRAINING,
    TARGET_TRAINING_LABELS,
    TARGET_VALIDATION,
    TARGET_VALIDATION_LABELS,
    image_cases,
    list_folder,
    paired_cases,
    site_of,
)
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import same_geometry
from nnunet_uda.synth import synthesize
from nnunet_uda.synth.case import plan_cases, render_case
from nnunet_uda.synth.cli import synth_entry
from nnunet_uda.synth.presets import get_preset
from nnunet_uda.synth.tissues import Tissue

SYNTH = Path(sys.executable).parent / "nnuda-synth"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The default tiny folder (6 source, 6 target, 2 validation), seed 0."""
    return synthesize(tmp_path_factory.mktemp("synth") / "tiny", preset="tiny", seed=0)


def _arr(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def _all_labeled(root: Path) -> list[tuple[Path, Path]]:
    """(image, label) of every case in the folder, source and target."""
    pairs = list(paired_cases(root / SOURCE_TRAINING, "ceT1").values())
    for images, labels in ((TARGET_TRAINING, TARGET_TRAINING_LABELS), (TARGET_VALIDATION, TARGET_VALIDATION_LABELS)):
        for case, img in image_cases(root / images, "hrT2").items():
            pairs.append((img, root / labels / f"{case}_Label.nii.gz"))
    return pairs


def test_layout_and_names(tiny: Path) -> None:
    source = paired_cases(tiny / SOURCE_TRAINING, "ceT1")
    assert sorted(source) == sorted(f"crossmoda2021_ldn_{i}" for i in range(1, 7))
    target = image_cases(tiny / TARGET_TRAINING, "hrT2")
    assert sorted(int(c.rsplit("_", 1)[1]) for c in target) == list(range(106, 112))
    assert {site_of(c) for c in target} == {"etz", "ldn"}
    assert site_of("crossmoda2021_etz_106") == "etz" and "crossmoda2021_etz_106" in target
    validation = image_cases(tiny / TARGET_VALIDATION, "hrT2")
    assert sorted(int(c.rsplit("_", 1)[1]) for c in validation) == [112, 113]
    for folder, cases in ((TARGET_TRAINING_LABELS, target), (TARGET_VALIDATION_LABELS, validation)):
        assert sorted(list_folder(tiny / folder, ("Label",))) == sorted(cases)
    paired = list_folder(tiny / PAIRED, ("ceT1", "hrT2"))
    assert all(set(paired[c]) == {"hrT2"} for c in source)
    assert all(set(paired[c]) == {"ceT1"} for c in [*target, *validation])
    meta = json.loads((tiny / "synth.json").read_text())
    assert meta["preset"] == "tiny" and meta["seed"] == 0
    assert meta["counts"] == {"source_training": 6, "target_training": 6, "target_validation": 2}
    assert len(meta["cases"]) == 14
    for rec in meta["cases"]:
        assert rec["vs_side"] in ("left", "right") and rec["vs_volume_mm3"] > 0
        assert rec["shape_zyx"] == list(_arr(tiny / rec["image"]).shape)
    assert (tiny / "preview.png").stat().st_size > 10_000
    assert not [p for p in tiny.parent.iterdir() if p.name.startswith(".")], "temporary folder left behind"


def test_labels_images_and_geometry(tiny: Path) -> None:
    for img_path, lab_path in _all_labeled(tiny):
        img, lab = sitk.ReadImage(str(img_path)), sitk.ReadImage(str(lab_path))
        assert img.GetPixelID() == sitk.sitkFloat32 and lab.GetPixelID() == sitk.sitkUInt8
        assert same_geometry(img, lab, tol=0) and img.GetSize() == lab.GetSize()
        a, l_ = sitk.GetArrayFromImage(img), sitk.GetArrayFromImage(lab)
        assert np.isfinite(a).all() and a.min() >= 0 and a.std() > 0
        assert set(np.unique(l_)) == {0, 1, 2}, lab_path
        assert all(abs(o) > 1 for o in img.GetOrigin()), "origin should not be trivial"
        # the preset's 16-22 slices of 36-44 voxels, as the seed's style rescales them
        assert 12 <= a.shape[0] <= 28 and all(29 <= s <= 54 for s in a.shape[1:])
        z_sp, xy_sp = img.GetSpacing()[2], img.GetSpacing()[0]
        assert z_sp != xy_sp, "spacing should be anisotropic"
        case = lab_path.name[: -len("_Label.nii.gz")]
        other = "hrT2" if img_path.name.endswith("_ceT1.nii.gz") else "ceT1"
        paired = sitk.ReadImage(str(tiny / PAIRED / f"{case}_{other}.nii.gz"))
        assert same_geometry(paired, img, tol=0) and paired.GetSize() == img.GetSize()


def test_sites_and_modalities_differ_in_grid(tiny: Path) -> None:
    sizes = {}
    for folder, kind in ((SOURCE_TRAINING, "ceT1"), (TARGET_TRAINING, "hrT2")):
        for case, path in image_cases(tiny / folder, kind).items():
            img = sitk.ReadImage(str(path))
            sizes.setdefault((kind, site_of(case)), set()).add((img.GetSize()[:2], img.GetSpacing()))
    in_plane = {k: {s[0] for s in v} for k, v in sizes.items()}
    assert len(in_plane[("hrT2", "etz")]) == 1 and len(in_plane[("hrT2", "ldn")]) == 1
    assert in_plane[("hrT2", "etz")] != in_plane[("hrT2", "ldn")]
    spacing = {k: {s[1] for s in v} for k, v in sizes.items()}
    assert spacing[("hrT2", "etz")].isdisjoint(spacing[("hrT2", "ldn")] | spacing[("ceT1", "ldn")])


def test_deterministic_and_each_case_reproducible(tmp_path: Path, tiny: Path) -> None:
    # Case 107 is a validation case here and a training case in the 14-case folder.
    a = synthesize(tmp_path / "a", seed=0, n_source=1, n_target=1, n_validation=1, preview=False)
    b = synthesize(tmp_path / "b", seed=1, n_source=1, n_target=1, n_validation=1, preview=False)
    rel = ["source_training/crossmoda2021_ldn_1_ceT1.nii.gz", "target_training/crossmoda2021_etz_106_hrT2.nii.gz"]
    rel += ["source_training/crossmoda2021_ldn_1_Label.nii.gz", "paired/crossmoda2021_ldn_107_ceT1.nii.gz"]
    for r in rel:
        # Same seed: identical to the 14-case folder, although that one has more cases.
        assert np.array_equal(_arr(a / r), _arr(tiny / r)), r
        assert sitk.ReadImage(str(a / r)).GetOrigin() == sitk.ReadImage(str(tiny / r)).GetOrigin()
        x, y = _arr(a / r), _arr(b / r)
        assert x.shape != y.shape or not np.array_equal(x, y), r


def _tissue_case(kind: str):
    preset = get_preset("tiny")
    spec = next(c for c in plan_cases(6, 6, 2) if (c.modality, c.site) == kind)
    return render_case(spec, preset, 0, with_tissue=True)


@pytest.mark.parametrize("kind", [("ceT1", "ldn"), ("hrT2", "etz"), ("hrT2", "ldn")])
def test_contrasts(kind: tuple[str, str], tiny: Path) -> None:
    rc = _tissue_case(kind)
    folder = SOURCE_TRAINING if kind[0] == "ceT1" else TARGET_TRAINING
    # The in-memory render is the written file.
    assert np.array_equal(rc.image, _arr(tiny / folder / f"{rc.spec.name}_{kind[0]}.nii.gz"))
    hrt2 = rc.image if kind[0] == "hrT2" else rc.paired
    cet1 = rc.paired if kind[0] == "hrT2" else rc.image
    vs = rc.label == LABELS["VS"]
    csf = binary_erosion(rc.tissue == Tissue.CSF)  # away from partial volume with brain
    assert vs.sum() > 0 and csf.sum() >= 5
    assert cet1[vs].mean() > 2 * cet1[csf].mean(), "enhancing tumour brighter than CSF on ceT1"
    assert hrt2[vs].mean() < 0.8 * hrt2[csf].mean(), "tumour darker than CSF on hrT2"
    coch = rc.label == LABELS["cochlea"]
    ring = binary_dilation(coch, iterations=2) & ~binary_dilation(coch) & ~(rc.label > 0)
    assert hrt2[coch].mean() > 1.3 * hrt2[ring].mean(), "cochlear fluid brighter than the bone around it on hrT2"
    assert cet1[coch].mean() < cet1[vs].mean()
    bone = rc.tissue == Tissue.BONE
    assert hrt2[bone].mean() < 0.3 * hrt2[csf].mean() and cet1[bone].mean() < cet1[csf].mean() * 2


def test_existing_output_refused_then_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("x")
    with pytest.raises(InputError, match="--overwrite"):
        synthesize(out, n_source=1, n_target=1, n_validation=1, preview=False)
    assert (out / "old.txt").exists()
    synthesize(out, n_source=1, n_target=1, n_validation=1, preview=False, overwrite=True)
    assert not (out / "old.txt").exists() and (out / "synth.json").exists()
    assert not (out / "preview.png").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"preset": "huge"}, "unknown preset"),
        ({"n_source": 0}, "n_source"),
        ({"n_target": -1}, "n_target"),
        ({"n_validation": 1.5}, "n_validation"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        synthesize(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_cli(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    args = ["-o", str(out), "--seed", "3", "--n-source", "1", "--n-target", "1", "--n-validation", "1"]
    r = subprocess.run([str(SYNTH), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "preview.png").exists() and "preview" in r.stdout
    assert len(json.loads((out / "synth.json").read_text())["cases"]) == 3
    r = subprocess.run([str(SYNTH), *args], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("nnuda-synth: error: output exists")
    r = subprocess.run([str(SYNTH), "-o", str(tmp_path / "bad"), "--preset", "huge"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("nnuda-synth: error: argument --preset: invalid choice: 'huge'")
    # In-process from here on (no interpreter start-up): flags reach synthesize().
    synth_entry([*args, "--overwrite", "--no-preview"])
    assert not (out / "preview.png").exists() and (out / "synth.json").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        synth_entry(["-o", str(tmp_path / "bad"), "--n-source", "0"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("nnuda-synth: error: n_source (--n-source)")
    assert not (tmp_path / "bad").exists()
