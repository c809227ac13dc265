"""NIfTI reading and writing with checks: geometry kept, atomic writes, clear errors."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_uda.errors import InputError

NIFTI_SUFFIXES = (".nii.gz", ".nii")


def is_nifti(path: Path) -> bool:
    """True if the file name ends in ``.nii.gz`` or ``.nii``."""
    return str(path).endswith(NIFTI_SUFFIXES)


def strip_nifti_suffix(name: str) -> str:
    """``'a_ceT1.nii.gz'`` -> ``'a_ceT1'``."""
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_image(path: Path) -> sitk.Image:
    """Read a NIfTI file; a missing, non-NIfTI or unreadable file is an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    if not is_nifti(path):
        raise InputError(f"not a NIfTI file (.nii.gz or .nii expected): {path}")
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as e:
        first = str(e).strip().splitlines()[-1] if str(e).strip() else "unreadable"
        raise InputError(f"cannot read {path}: {first}") from None


def read_array(path: Path, check_finite: bool = True) -> tuple[np.ndarray, sitk.Image]:
    """Read a NIfTI file as a ``(z, y, x)`` array plus the image that holds its geometry."""
    img = read_image(path)
    arr = sitk.GetArrayFromImage(img)
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"expected a single-channel image, got {img.GetNumberOfComponentsPerPixel()} channels: {path}")
    if check_finite and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        n = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InputError(f"{n} NaN or infinite voxels in {path}")
    return arr, img


def write_image(img: sitk.Image, path: Path, overwrite: bool = False) -> None:
    """Write atomically (temporary file, then rename); refuse to replace unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"output exists: {path} (pass --overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".nii.gz" if str(path).endswith(".nii.gz") else path.suffix
    tmp = path.parent / f".{uuid.uuid4().hex[:12]}.tmp{suffix}"
    try:
        sitk.WriteImage(img, str(tmp), useCompression=True)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_array_like(arr: np.ndarray, reference: sitk.Image, path: Path, overwrite: bool = False) -> None:
    """Write ``arr`` (``(z, y, x)``) with exactly the spacing, origin and direction of ``reference``."""
    img = sitk.GetImageFromArray(arr)
    img.CopyInformation(reference)
    write_image(img, path, overwrite=overwrite)


def same_geometry(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> bool:
    """True if size, spacing, origin and direction agree (spacing/origin to ``tol`` relative)."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=tol, atol=tol)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), rtol=tol, atol=tol * 10)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol)
    )


def check_same_geometry(a: sitk.Image, b: sitk.Image, a_path: Path, b_path: Path) -> None:
    """Raise a one-line :class:`InputError` naming both files if their geometry differs."""
    if a.GetSize() != b.GetSize():
        raise InputError(f"shape mismatch: {a_path} has size {a.GetSize()}, {b_path} has {b.GetSize()}")
    if not same_geometry(a, b):
        raise InputError(
            f"geometry mismatch between {a_path} and {b_path}: spacing {a.GetSpacing()} vs {b.GetSpacing()}, "
            f"origin {a.GetOrigin()} vs {b.GetOrigin()}"
        )
