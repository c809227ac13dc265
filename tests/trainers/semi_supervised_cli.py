"""Shared steps of the semi-supervised trainer tests: train with the real CLI, resume, predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from trainer_testing import DATASET_ID, DATASET_NAME, nnunet_env, run

DEBUG_TIMEOUT = 600


def fold_dir(root: Path, trainer: str) -> Path:
    return root / "results" / DATASET_NAME / f"{trainer}__nnUNetPlans__3d_fullres" / "fold_0"


def train(root: Path, trainer: str, *extra: str) -> dict:
    """``nnUNetv2_train`` on the CPU; returns the final checkpoint."""
    env = nnunet_env(root)
    env["nnUNet_n_proc_DA"] = "1"
    run(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", trainer, "-device", "cpu", *extra], env,
        timeout=DEBUG_TIMEOUT)
    final = fold_dir(root, trainer) / "checkpoint_final.pth"
    assert final.is_file()
    return torch.load(final, map_location="cpu", weights_only=False)


def assert_same_state(a, b, where: str = "") -> None:
    """Nested dicts/lists of tensors and plain values are equal."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_state(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def resume_round_trip(root: Path, trainer: str, first: dict, keys: tuple[str, ...]) -> None:
    """``--c`` on a finished run loads the checkpoint and writes it back: ``keys`` survive unchanged."""
    again = train(root, trainer, "--c")
    for key in keys:
        assert_same_state(first[key], again[key], key)


def predict(root: Path, trainer: str) -> np.ndarray:
    """Stock ``nnUNetv2_predict`` on the test image; returns the predicted label map."""
    env = nnunet_env(root)
    out = root / f"pred_{trainer}"
    run(["nnUNetv2_predict", "-i", str(root / "raw" / DATASET_NAME / "imagesTs"), "-o", str(out),
         "-d", str(DATASET_ID), "-c", "3d_fullres", "-f", "0", "-tr", trainer, "-device", "cpu",
         "--disable_tta", "-npp", "1", "-nps", "1"], env, timeout=DEBUG_TIMEOUT)
    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "val_00.nii.gz")))
    assert seg.shape == (20, 40, 40) and set(np.unique(seg)) <= {0, 1, 2}
    return seg
