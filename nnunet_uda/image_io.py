"""NIfTI reading and writing with checks: geometry kept, atomic writes, clear errors."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import nibabel as nib
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


def count_non_finite(path: Path) -> int:
    """Number of NaN or infinite voxels stored in a NIfTI file.

    SimpleITK's NIfTI reader silently turns NaN into 0 (measured with SimpleITK 2.x), so
    the check reads the stored values with nibabel; integer files cannot hold NaN.
    """
    img = nib.load(str(path))
    if img.get_data_dtype().kind != "f":
        return 0
    arr = np.asanyarray(img.dataobj)
    return int(arr.size - np.count_nonzero(np.isfinite(arr)))


def read_image(path: Path, check_finite: bool = True) -> sitk.Image:
    """Read a NIfTI file.

    Raises:
        InputError: a missing, non-NIfTI or unreadable file, or (``check_finite``) one
            that stores NaN or infinite intensities.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    if not is_nifti(path):
        raise InputError(f"not a NIfTI file (.nii.gz or .nii expected): {path}")
    try:
        img = sitk.ReadImage(str(path))
        bad = count_non_finite(path) if check_finite else 0
    except (RuntimeError, nib.filebasedimages.ImageFileError, OSError, EOFError) as e:
        lines = str(e).strip().splitlines()
        raise InputError(f"cannot read {path}: {lines[-1] if lines else 'unreadable'}") from None
    if bad:
        raise InputError(f"{bad} NaN or infinite voxels in {path}")
    return img


def read_array(path: Path, check_finite: bool = True) -> tuple[np.ndarray, sitk.Image]:
    """Read a single-channel NIfTI file as a ``(z, y, x)`` array plus the image that holds its geometry."""
    img = read_image(path, check_finite)
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"expected a single-channel image, got {img.GetNumberOfComponentsPerPixel()} channels: {path}")
    return sitk.GetArrayFromImage(img), img


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
