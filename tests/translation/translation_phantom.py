"""A minimal CrossMoDA-style folder for translation tests, used until ``nnunet_uda.synth``
provides ``synthesize`` (the fixture in conftest.py prefers it when it is importable)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk


def _volume(n: int, sp: float, nz: int, modality: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.mgrid[:nz, :n, :n].astype(float)
    c = (n - 1) / 2
    r = np.sqrt(((x - c) * sp) ** 2 + ((y - c) * sp) ** 2 + ((z - nz / 2) * 3) ** 2)
    head, brain = r < 40, r < 34
    tumour = np.sqrt(((x - c - 8 / sp) * sp) ** 2 + ((y - c) * sp) ** 2 + ((z - nz / 2) * 3) ** 2) < 8
    cochlea = np.sqrt(((x - c + 10 / sp) * sp) ** 2 + ((y - c + 5 / sp) * sp) ** 2 + ((z - nz / 2) * 3) ** 2) < 4
    if modality == "ceT1":
        img = head * 60 + brain * 40 + tumour * 120
    else:
        img = head * 30 + brain * 50 + cochlea * 150 + tumour * 40 + (brain & (r > 28)) * 100
    img = img + rng.normal(0, 3, img.shape)
    return img.astype(np.float32), (tumour * 1 + cochlea * (~tumour) * 2).astype(np.uint8)


def _write(a: np.ndarray, sp: float, path: Path) -> None:
    im = sitk.GetImageFromArray(a)
    im.SetSpacing((sp, sp, 3.0))
    im.SetOrigin((1.0, 2.0, 3.0))
    sitk.WriteImage(im, str(path))


def write_phantom(out: Path, seed: int = 0) -> Path:
    """4 labeled ceT1 cases (40^2), 4 hrT2 cases of sites etz (44^2) and ldn (36^2), 2 validation, paired truth."""
    rng = np.random.default_rng(seed)
    for d in ("source_training", "target_training", "target_validation", "paired"):
        (out / d).mkdir(parents=True, exist_ok=True)
    for i in range(4):
        case = f"crossmoda2021_{'ldn' if i % 2 else 'etz'}_{i}"
        a, lab = _volume(40, 2.45, 16, "ceT1", rng)
        _write(a, 2.45, out / "source_training" / f"{case}_ceT1.nii.gz")
        _write(lab, 2.45, out / "source_training" / f"{case}_Label.nii.gz")
        _write(_volume(40, 2.45, 16, "hrT2", rng)[0], 2.45, out / "paired" / f"{case}_hrT2.nii.gz")
    for i in range(10, 14):
        site, n, sp = ("etz", 44, 2.25) if i % 2 else ("ldn", 36, 2.75)
        _write(_volume(n, sp, 18, "hrT2", rng)[0], sp, out / "target_training" / f"crossmoda2021_{site}_{i}_hrT2.nii.gz")
    for i in range(20, 22):
        _write(_volume(40, 2.45, 18, "hrT2", rng)[0], 2.45, out / "target_validation" / f"crossmoda2021_etz_{i}_hrT2.nii.gz")
    return out
