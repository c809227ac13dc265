"""How bright the translation draws VS and cochlea, against the real hrT2 of the same seed.

For a ``run.py`` seed folder: the mean intensity inside each structure, in standard
deviations of the volume (z, as nnU-Net normalises) and as a position in the volume's
0.5-99.5 percentile range, over the translated source cases (with their source labels)
and over the real hrT2 training scans (with the phantom's labels, which a real UDA data set
does not have). Structures under 30 voxels are left out::

    python benchmarks/uda_accuracy/structure_intensity.py /tmp/bench/uda/seed_0 /tmp/bench/uda/seed_1
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

LABELS = {"VS": 1, "cochlea": 2}


def structure_levels(image: Path, label: Path) -> dict[str, tuple[float, float]]:
    """``{structure: (z, range position)}`` of one volume (NaN for a structure under 30 voxels)."""
    a = sitk.GetArrayFromImage(sitk.ReadImage(str(image))).astype(np.float64)
    lab = sitk.GetArrayFromImage(sitk.ReadImage(str(label)))
    low, high = np.percentile(a, [0.5, 99.5])
    out = {}
    for name, value in LABELS.items():
        inside = a[lab == value]
        out[name] = ((inside.mean() - a.mean()) / a.std(), (inside.mean() - low) / (high - low)) \
            if inside.size >= 30 else (np.nan, np.nan)
    return out


def main() -> None:
    for seed in map(Path, sys.argv[1:]):
        translated = sorted(seed.glob("nnunet/raw/Dataset991_*/imagesTr/*_0000.nii.gz"))
        real = sorted((seed / "crossmoda" / "target_training").glob("*_hrT2.nii.gz"))
        pairs = {"translated": [(f, f.parent.parent / "labelsTr" / f.name.replace("_0000", "")) for f in translated],
                 "real hrT2": [(f, seed / "crossmoda" / "target_training_labels" /
                                f.name.replace("_hrT2", "_Label")) for f in real]}
        for kind, files in pairs.items():
            levels = [structure_levels(i, lab) for i, lab in files]
            cells = [f"{n} z {np.nanmean([v[n][0] for v in levels]):.2f} range {np.nanmean([v[n][1] for v in levels]):.2f}"
                     for n in LABELS]
            print(f"{seed.name} {kind:10} ({len(files)} volumes): " + " | ".join(cells))


if __name__ == "__main__":
    main()
