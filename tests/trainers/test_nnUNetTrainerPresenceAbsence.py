"""nnUNetTrainerPresenceAbsence (and its AE baseline) through the real nnU-Net CLI on the CPU:
nnU-Net's 2d configuration planned in the test's own workspace, imagesTrAbsence added, train,
resume with --c (discriminators restored unchanged), predict with stock nnUNetv2_predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from semi_supervised_cli import DEBUG_TIMEOUT, assert_same_state
from trainer_testing import DATASET_ID, DATASET_NAME, N_UNLABELED, nnunet_env, phantom, run
from nnunet_uda.image_io import write_image
from nnunet_uda.raw_dataset import IMAGES_ABSENCE, IMAGES_UNLABELED

N_ABSENCE = 4


def absence_phantom(seed: int) -> sitk.Image:
    """The tiny dataset's labeled-contrast phantom with its schwannoma painted over by the
    surrounding tissue (cochleae kept): a scan of the absence domain."""
    image, label = phantom(seed, target=False)
    arr, lab = sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(label)
    rng = np.random.default_rng(seed)
    vs = lab == 1
    arr[vs] = 50.0 + rng.normal(0, 5, int(vs.sum()))
    out = sitk.GetImageFromArray(arr.astype(np.float32))
    out.CopyInformation(image)
    return out


def add_presence_and_absence_pools(root: Path) -> None:
    """imagesTrUnlabeled with presence scans of the labeled cases' contrast, and imagesTrAbsence."""
    raw = root / "raw" / DATASET_NAME
    for i in range(N_UNLABELED):
        write_image(phantom(100 + i, target=False)[0], raw / IMAGES_UNLABELED / f"tgt_{i:02d}_0000.nii.gz",
                    overwrite=True)
    (raw / IMAGES_ABSENCE).mkdir()
    for i in range(N_ABSENCE):
        write_image(absence_phantom(300 + i), raw / IMAGES_ABSENCE / f"healthy_{i:02d}_0000.nii.gz")


def fold_dir(root: Path, trainer: str) -> Path:
    return root / "results" / DATASET_NAME / f"{trainer}__nnUNetPlans__2d" / "fold_0"


def train(root: Path, trainer: str, *extra: str, check_rc: int = 0):
    env = nnunet_env(root)
    return run(["nnUNetv2_train", str(DATASET_ID), "2d", "0", "-tr", trainer, "-device", "cpu", *extra], env,
               check_rc=check_rc, timeout=DEBUG_TIMEOUT)


def final_checkpoint(root: Path, trainer: str) -> dict:
    return torch.load(fold_dir(root, trainer) / "checkpoint_final.pth", map_location="cpu", weights_only=False)


def predict(root: Path, trainer: str) -> np.ndarray:
    out = root / f"pred_{trainer}"
    run(["nnUNetv2_predict", "-i", str(root / "raw" / DATASET_NAME / "imagesTs"), "-o", str(out),
         "-d", str(DATASET_ID), "-c", "2d", "-f", "0", "-tr", trainer, "-device", "cpu",
         "--disable_tta", "-npp", "1", "-nps", "1"], nnunet_env(root), timeout=DEBUG_TIMEOUT)
    return sitk.GetArrayFromImage(sitk.ReadImage(str(out / "val_00.nii.gz")))


@pytest.fixture
def planned_2d(workspace) -> Path:
    """The workspace with nnU-Net's 2d configuration planned and preprocessed."""
    run(["nnUNetv2_plan_and_preprocess", "-d", str(DATASET_ID), "-c", "2d", "-np", "1", "-npfp", "1"],
        nnunet_env(workspace), timeout=DEBUG_TIMEOUT)
    return workspace


@pytest.mark.slow
def test_train_resume_predict(planned_2d):
    root, trainer = planned_2d, "nnUNetTrainerPresenceAbsence_debug"
    p = train(root, trainer, check_rc=1)
    last = p.stderr.strip().splitlines()[-1]
    assert "no absence pool:" in last and "imagesTrAbsence not found" in last and "<case>_0000.nii.gz" in last

    add_presence_and_absence_pools(root)
    train(root, trainer)
    ckpt = final_checkpoint(root, trainer)
    assert {k.split(".")[0] for k in ckpt["network_weights"]} == {"encoder", "common_decoder", "residual_decoder"}
    discriminators = ckpt["discriminators"]
    assert {k.split(".")[0] for k in discriminators["weights"]} == {"A", "P"}
    assert any("parametrizations.weight.original" in k for k in discriminators["weights"])  # spectral norm
    assert discriminators["optimizer_state"]["state"]
    folder = fold_dir(root, trainer)
    log = "".join(p.read_text() for p in sorted(folder.glob("training_log_*.txt")))  # the failed start wrote one too
    assert "objective weights (normalized): seg 9.61e-05, rec 0.481, lat 0.00961, cyc 0.481, adv 0.0288" in log
    for term in ("seg", "rec", "lat", "cyc", "adv", "discriminators"):
        assert f" {term} " in log.split("loss terms (this rank):")[1].splitlines()[0], term
    assert (folder / "translation_samples" / "epoch_0000.png").stat().st_size > 5_000
    absence_cache = root / "preprocessed" / DATASET_NAME / "nnUNetPlans_2d_absence"
    assert sorted(p.name for p in absence_cache.glob("*.pkl")) == [f"healthy_{i:02d}.pkl" for i in range(N_ABSENCE)]

    train(root, trainer, "--c")
    again = final_checkpoint(root, trainer)
    for key in ("network_weights", "optimizer_state", "current_epoch", "discriminators"):
        assert_same_state(ckpt[key], again[key], key)

    seg = predict(root, trainer)
    assert seg.shape == (20, 40, 40) and set(np.unique(seg)) <= {0, 1, 2}


@pytest.mark.slow
def test_autoencoding_baseline_trains_and_predicts(planned_2d):
    root, trainer = planned_2d, "nnUNetTrainerPresenceAbsence_AE_debug"
    add_presence_and_absence_pools(root)
    train(root, trainer)
    ckpt = final_checkpoint(root, trainer)
    assert {k.split(".")[0] for k in ckpt["network_weights"]} == {
        "encoder", "segmentation_decoder", "reconstruction_decoder"}
    assert "discriminators" not in ckpt
    log = next(fold_dir(root, trainer).glob("training_log_*.txt")).read_text()
    assert "objective weights (normalized): seg 0.5, rec 0.5" in log
    assert (fold_dir(root, trainer) / "translation_samples" / "epoch_0000.png").is_file()
    seg = predict(root, trainer)
    assert seg.shape == (20, 40, 40) and set(np.unique(seg)) <= {0, 1, 2}
