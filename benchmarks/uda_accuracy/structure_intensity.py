"""How bright the translation draws VS and cochlea, against the real hrT2 of the same seed.

For a ``run.py`` seed folder: the mean intensity inside each structure, in standard
deviations of the volume (z, as nnU-Net normalises), as a position in the volume's
0.5-99.5 percentile range and as a quantile of the volume's intensities (the share of voxels
darker than the structure's mean: the scale of PAST's structure-level augmentation), over the translated source cases (with their source labels)
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


def structure_levels(image: Path, label: Path) -> dict[str, tuple[float, float, float]]:
    """``{structure: (z, range position, quantile)}`` of one volume (NaN for a structure under 30 voxels)."""
    a = sitk.GetArrayFromImage(sitk.ReadImage(str(image))).astype(np.float64)
    lab = sitk.GetArrayFromImage(sitk.ReadImage(str(label)))
    low, high = np.percentile(a, [0.5, 99.5])
    ordered = np.sort(a, axis=None)
    out = {}
    for name, value in LABELS.items():
        inside = a[lab == value]
        out[name] = ((inside.mean() - a.mean()) / a.std(), (inside.mean() - low) / (high - low),
                     np.searchsorted(ordered, inside.mean()) / ordered.size) \
            if inside.size >= 30 else (np.nan, np.nan, np.nan)
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
            cells = []
            for n in LABELS:
                z, position, quantile = (np.array([v[n][k] for v in levels]) for k in range(3))
                cells.append(f"{n} z {np.nanmean(z):.2f} range {np.nanmean(position):.2f} "
                             f"quantile {np.nanmin(quantile):.2f}..{np.nanmax(quantile):.2f}")
            print(f"{seed.name} {kind:10} ({len(files)} volumes): " + " | ".join(cells))
            sites = sorted({f.name.split("_")[1] for f, _ in files}) if kind == "real hrT2" else []
            for site in sites if len(sites) > 1 else []:
                q = [v["VS"][2] for (f, _), v in zip(files, levels) if f.name.split("_")[1] == site]
                print(f"{seed.name} {kind:10} site {site}: VS quantile {np.nanmin(q):.2f}..{np.nanmax(q):.2f}")


if __name__ == "__main__":
    main()
