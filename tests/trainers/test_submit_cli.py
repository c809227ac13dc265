"""nnuda-submit with real trained nnU-Net models (two debug folds, CPU, tiny): geometry of
the output, label-wise groups, site routing, an unreadable scan, the container entrypoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from trainer_testing import BIN, DATASET_ID, DATASET_NAME, nnunet_env, phantom, run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(planned, tmp_path_factory) -> Path:
    """Two nnUNetTrainer_debug models (folds 0 and 1) of the tiny dataset."""
    root = tmp_path_factory.mktemp("submit")
    shutil.copytree(planned, root, dirs_exist_ok=True)
    env = nnunet_env(root)
    for fold in ("0", "1"):
        run(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", fold, "-tr", "nnUNetTrainer_debug", "-device", "cpu"], env)
    return root


def scans(folder: Path) -> dict[str, sitk.Image]:
    """Three hrT2-like scans with oblique geometry (ldn, etz, no site) and one unreadable file."""
    folder.mkdir()
    out = {}
    for i, case in enumerate(("crossmoda2021_ldn_1", "crossmoda2021_etz_2", "scan_3")):
        image = phantom(300 + i, target=True)[0]
        image.SetSpacing((1.0, 0.9, 1.2))
        image.SetOrigin((5.0 * i, -12.0, 30.0))
        image.SetDirection((0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
        sitk.WriteImage(image, str(folder / f"{case}_hrT2.nii.gz"))
        out[case] = image
    (folder / "crossmoda2021_etz_9_hrT2.nii.gz").write_bytes(b"not a nifti file")
    return out


def submit(root: Path, inp: Path, out: Path, *models: str, rc: int = 0, extra=()) -> subprocess.CompletedProcess:
    return run(["nnuda-submit", "-i", str(inp), "-o", str(out), "--models", *models, "--device", "cpu",
                "--disable-tta", *extra], nnunet_env(root), check_rc=rc)


def labels(folder: Path) -> dict[str, np.ndarray]:
    return {p.name[: -len("_Label.nii.gz")]: sitk.GetArrayFromImage(sitk.ReadImage(str(p)))
            for p in sorted(folder.glob("*_Label.nii.gz"))}


def model(fold: int) -> dict:
    return {"dataset": DATASET_ID, "trainer": "nnUNetTrainer_debug", "configuration": "3d_fullres", "folds": [fold]}


def test_submit_geometry_groups_routing_and_a_bad_scan(trained, tmp_path):
    inp = tmp_path / "hrT2"
    images = scans(inp)
    fold0, fold1 = (f"{DATASET_ID}:nnUNetTrainer_debug:3d_fullres:{f}" for f in (0, 1))

    # one model, PAST's ROI: every readable scan written with its exact geometry; the bad one reported
    single = {}
    for f, shorthand in ((0, fold0), (1, fold1)):
        p = submit(trained, inp, tmp_path / f"fold{f}", shorthand, rc=2)
        assert "crossmoda2021_etz_9: error: cannot read" in p.stdout + p.stderr
        assert "1 of 4 scans failed" in p.stderr and "unknown site" in p.stdout
        single[f] = labels(tmp_path / f"fold{f}")
        assert sorted(single[f]) == sorted(images)
        for case in images:
            image = sitk.ReadImage(str(inp / f"{case}_hrT2.nii.gz"))  # as stored (NIfTI keeps float32)
            written = sitk.ReadImage(str(tmp_path / f"fold{f}" / f"{case}_Label.nii.gz"))
            assert written.GetSize() == image.GetSize() and written.GetOrigin() == image.GetOrigin()
            assert written.GetSpacing() == image.GetSpacing() and written.GetDirection() == image.GetDirection()
            assert set(np.unique(single[f][case])) <= {0, 1, 2}
    assert any(not np.array_equal(single[0][c], single[1][c]) for c in images)  # the folds differ

    # an existing output is not replaced without --overwrite
    p = submit(trained, inp, tmp_path / "fold0", fold0, rc=2)
    assert "pass --overwrite" in p.stderr

    # label-wise groups: VS from fold 0, cochlea from fold 1; scans of site ldn: fold 1 for both
    spec = {"groups": [{"name": "ldn", "sites": ["ldn"], "models": [model(1)]},
                       {"name": "vs", "structures": ["VS"], "models": [model(0)]},
                       {"name": "cochlea", "structures": ["cochlea"], "models": [model(1)]}]}
    (tmp_path / "models.json").write_text(json.dumps(spec))
    submit(trained, inp, tmp_path / "ensemble", str(tmp_path / "models.json"), rc=2,
           extra=("--summary", str(tmp_path / "summary.json")))
    ens = labels(tmp_path / "ensemble")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["crossmoda2021_ldn_1"]["groups"] == {"VS": "ldn", "cochlea": "ldn"}
    assert summary["crossmoda2021_etz_2"]["groups"] == {"VS": "vs", "cochlea": "cochlea"}
    assert summary["scan_3"]["site"] == "unknown" and "cannot read" in summary["crossmoda2021_etz_9"]["error"]
    assert np.array_equal(ens["crossmoda2021_ldn_1"], single[1]["crossmoda2021_ldn_1"])
    for case in ("crossmoda2021_etz_2", "scan_3"):
        vs, cochlea = single[0][case] == 1, single[1][case] == 2
        assert np.array_equal(ens[case] == 1, vs & ~(cochlea & (ens[case] == 2)))
        assert ((ens[case] == 2) <= cochlea).all() and ((cochlea & ~vs) <= (ens[case] == 2)).all()
        assert np.array_equal(ens[case] == 0, ~vs & ~cochlea)


def test_entrypoint_runs_nnuda_submit_without_docker(trained, tmp_path):
    inp = tmp_path / "input"
    scans(inp)
    (inp / "crossmoda2021_etz_9_hrT2.nii.gz").unlink()
    models = tmp_path / "models"
    shutil.copytree(trained / "results" / DATASET_NAME / "nnUNetTrainer_debug__nnUNetPlans__3d_fullres",
                    models / "debug")
    (models / "models.json").write_text(json.dumps(
        {"roi": "off", "postprocessing": {"largest_vs": True, "cochlea_per_side": True},
         "groups": [{"name": "debug", "models": [{"folder": "debug", "folds": [0]}]}]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("nnUNet_")}  # the container knows no nnU-Net paths
    env.update(INPUT_DIR=str(inp), OUTPUT_DIR=str(tmp_path / "output"), MODELS=str(models / "models.json"),
               PATH=f"{BIN}:{env['PATH']}", NNUDA_SUBMIT_ARGS="--device cpu --disable-tta")
    p = subprocess.run(["bash", str(REPO / "docker" / "entrypoint.sh")], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    written = sorted(x.name for x in (tmp_path / "output").iterdir())
    assert written == ["crossmoda2021_etz_2_Label.nii.gz", "crossmoda2021_ldn_1_Label.nii.gz", "scan_3_Label.nii.gz"]
    # a second run refuses to replace them; with --continue it skips the finished scans
    before = {f.name: f.stat().st_mtime_ns for f in (tmp_path / "output").iterdir()}
    again = subprocess.run(["bash", str(REPO / "docker" / "entrypoint.sh")], env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "pass --overwrite" in again.stderr
    (tmp_path / "output" / "scan_3_Label.nii.gz").unlink()
    again = subprocess.run(["bash", str(REPO / "docker" / "entrypoint.sh"), "--continue"], env=env, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    after = {f.name: f.stat().st_mtime_ns for f in (tmp_path / "output").iterdir()}
    assert sorted(after) == written and all(after[n] == t for n, t in before.items() if n != "scan_3_Label.nii.gz")


def test_resenc_past_model_combined_with_the_plain_one(trained, tmp_path):
    """Item of the README: nnU-Net's residual-encoder preset trained with our PAST trainer, then
    VS from it and cochlea from the plain U-Net in one submission."""
    env = nnunet_env(trained)
    run(["nnUNetv2_plan_experiment", "-d", str(DATASET_ID), "-pl", "nnUNetPlannerResEncM"], env)
    run(["nnUNetv2_preprocess", "-d", str(DATASET_ID), "-plans_name", "nnUNetResEncUNetMPlans", "-c", "3d_fullres",
         "-np", "1"], env)
    run(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", "nnUNetTrainerPAST_debug",
         "-p", "nnUNetResEncUNetMPlans", "-device", "cpu"], env)
    folder = trained / "results" / DATASET_NAME / "nnUNetTrainerPAST_debug__nnUNetResEncUNetMPlans__3d_fullres"
    ckpt = torch.load(folder / "fold_0" / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert "ResidualEncoderUNet" in json.dumps(ckpt["init_args"]["plans"]["configurations"]["3d_fullres"]["architecture"])
    inp = tmp_path / "input"
    scans(inp)
    (inp / "crossmoda2021_etz_9_hrT2.nii.gz").unlink()
    resenc = {"dataset": DATASET_ID, "trainer": "nnUNetTrainerPAST_debug", "configuration": "3d_fullres",
              "plans": "nnUNetResEncUNetMPlans", "folds": [0]}
    (tmp_path / "models.json").write_text(json.dumps(
        {"groups": [{"name": "resenc", "structures": ["VS"], "models": [resenc]},
                    {"name": "plain", "structures": ["cochlea"], "models": [model(0)]}]}))
    submit(trained, inp, tmp_path / "out", str(tmp_path / "models.json"), extra=("--summary", str(tmp_path / "s.json")))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert len(summary) == 3 and all(r["groups"] == {"VS": "resenc", "cochlea": "plain"} for r in summary.values())
    assert len(labels(tmp_path / "out")) == 3
