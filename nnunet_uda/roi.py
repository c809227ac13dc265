"""The region of interest of a CrossMoDA scan: a box of index fractions, cropped and pasted back.

PAST's submission (Dong et al. 2021, §2.2) segments a 3D ROI ``[W/4:3W/4, 3H/8:3H/4, 0:D]``
of each hrT2 scan (both inner ears and the cerebellopontine angles, little else) and puts
the result back into the full field of view. Fractions are of the voxel index axes
``(x, y, z)`` as SimpleITK and NIfTI number them (``W`` = size along x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_uda.errors import InputError


@dataclass(frozen=True)
class RoiFractions:
    """``[low, high)`` fractions of the size along each index axis ``x, y, z``."""

    x: tuple[float, float] = (0.25, 0.75)
    y: tuple[float, float] = (0.375, 0.75)
    z: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        for axis, (lo, hi) in zip("xyz", (self.x, self.y, self.z)):
            if not 0 <= lo < hi <= 1:
                raise InputError(f"ROI fractions along {axis} must satisfy 0 <= low < high <= 1, got ({lo}, {hi})")

    @classmethod
    def from_spec(cls, spec) -> "RoiFractions | None":
        """``"crossmoda"`` (PAST's box, the default), ``"off"``/None (whole scan) or
        ``{"x": [lo, hi], "y": [...], "z": [...]}`` (missing axes: the default's)."""
        if spec in (None, "off"):
            return None
        if spec == "crossmoda":
            return cls()
        if not isinstance(spec, dict) or set(spec) - {"x", "y", "z"}:
            raise InputError(f'roi must be "crossmoda", "off" or {{"x": [lo, hi], "y": ..., "z": ...}}, got {spec!r}')
        try:
            return cls(**{k: (float(v[0]), float(v[1])) for k, v in spec.items()})
        except (TypeError, IndexError, ValueError) as e:
            raise InputError(f"roi fractions must be pairs of numbers, got {spec!r} ({e})") from None

    def box(self, size_xyz: tuple[int, int, int]) -> tuple[slice, slice, slice]:
        """``(z, y, x)`` array slices of the box in a scan of ``size_xyz`` voxels (never empty)."""
        out = []
        for (lo, hi), n in zip((self.z, self.y, self.x), size_xyz[::-1]):
            start = min(int(np.floor(lo * n)), n - 1)
            out.append(slice(start, max(start + 1, int(np.ceil(hi * n)))))
        return tuple(out)


def crop(image: sitk.Image, box: tuple[slice, slice, slice]) -> sitk.Image:
    """The box of ``image`` (``(z, y, x)`` slices) as an image at its true place in space."""
    z, y, x = box
    return sitk.RegionOfInterest(image, [x.stop - x.start, y.stop - y.start, z.stop - z.start], [x.start, y.start, z.start])


def paste(part: np.ndarray, box: tuple[slice, slice, slice], shape_zyx: tuple[int, int, int], fill=0) -> np.ndarray:
    """A ``shape_zyx`` array that is ``fill`` outside ``box`` and ``part`` inside."""
    full = np.full(shape_zyx, fill, dtype=part.dtype)
    full[box] = part
    return full
