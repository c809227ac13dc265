"""Translation quality on ``nnuda-synth`` data: PSNR and SSIM of translated ceT1 vs the paired hrT2.

For every source case, ``paired/<case>_hrT2.nii.gz`` is the same anatomy rendered as hrT2
on the ceT1 grid. Inside PAST's ROI (the region the translators see) the translated
volume, the untranslated ceT1 and the truth are each scaled to [0, 1] with the same
robust percentiles (0.5, 99.5), then compared: PSNR (data range 1) over the ROI volume
and SSIM (scikit-image, 2D, averaged over slices).

    python benchmarks/translation_quality/run.py --preset tiny --iterations 400   # CPU scale

Writes ``results.md`` beside this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity

from nnunet_uda.image_io import read_array
from nnunet_uda.translation.config import CycleGANConfig, NICEGANConfig, SliceConfig
from nnunet_uda.translation.pipeline import find_inputs, resolved_config
from nnunet_uda.translation.slices import build_slice_set, intensity_range, roi_bounds, robust_range
from nnunet_uda.translation.synthesize import translate_volume
from nnunet_uda.translation.train import RunOptions, load_translator, train


def unit(arr: np.ndarray) -> np.ndarray:
    lo, hi = robust_range(arr, (0.5, 99.5))
    return np.clip((arr - lo) / (hi - lo), 0, 1)


def scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    p, t = unit(pred), unit(truth)
    mse = float(np.mean((p - t) ** 2))
    psnr = 10 * np.log10(1.0 / max(mse, 1e-12))
    ssim = float(np.mean([structural_similarity(a, b, data_range=1.0, win_size=7) for a, b in zip(p, t)]))
    return psnr, ssim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="an nnuda-synth folder (default: generate --preset)")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--image-size", type=int, default=None, help="default 256 on CUDA, 48 on the CPU")
    ap.add_argument("--channels", type=int, default=None, help="default 64 on CUDA, 8 on the CPU")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = ap.parse_args()
    cuda = args.device.startswith("cuda")
    size = args.image_size or (256 if cuda else 48)
    width = args.channels or (64 if cuda else 8)
    work = Path(tempfile.mkdtemp(prefix="nnuda_quality_"))
    data = args.data
    if data is None:
        from nnunet_uda.synth import synthesize

        data = work / "data"
        synthesize(data, preset=args.preset, seed=0, preview=False)
    inputs = find_inputs(data, "ceT1", "hrT2")
    configs = {
        "CycleGAN": CycleGANConfig(base_channels=width, disc_channels=width, iterations=args.iterations, slices=SliceConfig(image_size=size)),
        "NICE-GAN (light)": NICEGANConfig(base_channels=width, light=True, disc_layers=7 if size >= 96 else 6, iterations=args.iterations, slices=SliceConfig(image_size=size)),
    }
    truth = {c: read_array(data / "paired" / f"{c}_hrT2.nii.gz")[0] for c in inputs.source}
    rows = []

    def roi(arr):
        r = roi_bounds(arr.shape[1:], True)
        return arr[:, r[0], r[1]]

    base = [scores(roi(read_array(p)[0]), roi(truth[c])) for c, (p, _) in inputs.source.items()]
    rows.append(("untranslated ceT1", "-", "-", *np.mean(base, 0)))
    for name, cfg in configs.items():
        cfg = resolved_config(cfg, [p for p, _ in inputs.source.values()], list(inputs.target.values()))
        src = build_slice_set({c: (p, None) for c, (p, _) in inputs.source.items()}, cfg.slices, "source")
        tgt = build_slice_set({c: (p, None) for c, p in inputs.target.items()}, cfg.slices, "target")
        run = work / name.split()[0]
        t = time.time()
        train(cfg, src, tgt, run, args.device, RunOptions(progress=False, sample_every=10**9, save_every=10**9), {"src": "ceT1", "tgt": "hrT2"})
        minutes = (time.time() - t) / 60
        model, cfg, _ = load_translator(run, args.device)
        rng = intensity_range(list(inputs.target.values()), cfg.slices)
        s = [scores(roi(translate_volume(model, cfg, p, rng, args.device)[0]), roi(truth[c])) for c, (p, _) in inputs.source.items()]
        rows.append((name, cfg.iterations, f"{minutes:.1f}", *np.mean(s, 0)))
        print(rows[-1], flush=True)
    machine = torch.cuda.get_device_name() if cuda else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads, shared)"
    lines = [
        "# Translation quality (ceT1 -> hrT2, nnuda-synth)",
        "",
        f"Data: nnuda-synth preset `{args.preset}` seed 0 ({len(inputs.source)} source, {len(inputs.target)} target volumes). "
        f"Machine: {machine}; torch {torch.__version__}. Slices {size}x{size} (PAST ROI), base width {width}, batch 1.",
        "PSNR (dB) and SSIM inside the ROI against the paired hrT2 truth, each volume scaled to [0, 1] "
        "with its 0.5/99.5 percentiles; mean over source cases.",
        "",
        "| image | iterations | training (min) | PSNR (dB) | SSIM |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {it} | {m} | {p:.2f} | {s:.3f} |" for n, it, m, p, s in rows]
    lines += ["", f"Command: `python benchmarks/translation_quality/run.py --preset {args.preset} --iterations {args.iterations}`", ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
