"""A tiny CrossMoDA-like nnU-Net dataset and the helpers the trainer tests share.

Volumes are 20 x 40 x 40 (1 mm): a VS ball on one side, a cochlea blob on each side.
Labeled cases are 'ceT1-like' (bright VS), the unlabeled pool 'hrT2-like' (other contrast).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_uda.raw_dataset import raw_dataset

DATASET_ID = 987
DATASET_NAME = f"Dataset{DATASET_ID}_TinyPAST"
N_LABELED, N_UNLABELED = 5, 3
BIN = Path(sys.executable).parent


def phantom(seed: int, target: bool) -> tuple[sitk.Image, sitk.Image]:
    rng = np.random.default_rng(seed)
    shape = (20, 40, 40)
    z, y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    label = np.zeros(shape, np.uint8)
    side = 1 if seed % 2 else -1
    vs = (z - 10) ** 2 + (y - 20) ** 2 + (x - (20 + side * 9)) ** 2 <= rng.integers(12, 25)
    label[vs] = 1
    for s in (-1, 1):
        label[(z - 10) ** 2 + (y - 26) ** 2 + (x - (20 + s * 14)) ** 2 <= 3] = 2
    head = (y - 20) ** 2 + (x - 20) ** 2 <= 18 ** 2
    values = (0.4, 0.2, 0.9) if target else (0.5, 1.0, 0.3)
    img = np.where(head, values[0], 0.0)
    img = np.where(label == 1, values[1], img)
    img = np.where(label == 2, values[2], img)
    img = (img * 100 + rng.normal(0, 5, shape) * head).astype(np.float32)
    image, lab = sitk.GetImageFromArray(img), sitk.GetImageFromArray(label)
    lab.CopyInformation(image)
    return image, lab


def nnunet_env(root: Path) -> dict[str, str]:
    """Environment for nnU-Net subprocesses: our three paths, nnUNet_extTrainer from nnuda-env, CPU limits.

    ``nnUNet_n_proc_DA`` is pinned to 1 whatever the calling process has: nnU-Net's ResEnc planners pass it to
    ``torch.set_num_threads``, which refuses 0.
    """
    env = dict(os.environ)
    env.update(nnUNet_raw=str(root / "raw"), nnUNet_preprocessed=str(root / "preprocessed"),
               nnUNet_results=str(root / "results"), nnUNet_compile="false", nnUNet_def_n_proc="1",
               nnUNet_n_proc_DA="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("nnUNet_extTrainer", None)
    export = subprocess.run([str(BIN / "nnuda-env")], env=env, capture_output=True, text=True, check=True).stdout
    line = next(l for l in export.splitlines() if l.startswith("export nnUNet_extTrainer="))
    env["nnUNet_extTrainer"] = line.split("=", 1)[1].strip("'")
    return env


def run(cmd: list[str], env: dict[str, str], check_rc: int = 0, **kw) -> subprocess.CompletedProcess:
    """Run a console script of this venv (``kw`` to ``subprocess.run``); its exit code must be ``check_rc``."""
    p = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], env=env, capture_output=True, text=True, **kw)
    assert p.returncode == check_rc, f"{cmd} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def write_tiny_dataset(raw: Path, with_unlabeled: bool = True) -> None:
    with raw_dataset(DATASET_ID, "TinyPAST", "MRI", raw_root=raw) as ds:
        for i in range(N_LABELED):
            ds.add_labeled(f"src_{i:02d}", *phantom(i, target=False))
        if with_unlabeled:
            for i in range(N_UNLABELED):
                ds.add_unlabeled(f"tgt_{i:02d}", phantom(100 + i, target=True)[0])
        ds.add_test("val_00", phantom(200, target=True)[0])
