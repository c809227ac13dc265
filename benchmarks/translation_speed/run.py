"""Translation speed: training images/s and synthesis slices/s, fp32 vs bf16, peak GPU memory.

The papers' architectures (CycleGAN: 9-block ResNet generator, 70x70 PatchGAN; NICE-GAN:
full model, 6 AdaILN blocks, 7 discriminator layers) on random 1-channel slices. Without
CUDA it runs on the CPU and says so (``--tiny`` shrinks everything to prove it runs).

    python benchmarks/translation_speed/run.py                 # GPU, 256x256
    python benchmarks/translation_speed/run.py --tiny          # CPU smoke run

Writes ``results.md`` beside this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from pathlib import Path

import torch

from nnunet_uda.translation.config import CycleGANConfig, NICEGANConfig, SliceConfig
from nnunet_uda.translation.models import build_model
from nnunet_uda.translation.train import autocast_factory


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cfg, device: torch.device, bf16: bool, batch: int, steps: int, warmup: int) -> dict:
    """Images/s of ``train_step`` and slices/s of batched A->B translation."""
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model = build_model(cfg, device)
    model.train()
    size = cfg.slices.image_size
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    a = (torch.rand(batch, 1, size, size, device=device) * 2 - 1).contiguous(memory_format=fmt)
    b = (torch.rand(batch, 1, size, size, device=device) * 2 - 1).contiguous(memory_format=fmt)
    labels = torch.randint(0, 3, (batch, size, size), device=device) if cfg.preserve_structures else None
    autocast = autocast_factory(device, bf16) if bf16 else contextlib.nullcontext
    for _ in range(warmup):
        model.train_step(a, b, labels, autocast)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        model.train_step(a, b, labels, autocast)
    _sync(device)
    train_ips = steps * batch / (time.perf_counter() - t)
    model.eval()
    x = (torch.rand(32, 1, size, size, device=device) * 2 - 1).contiguous(memory_format=fmt)
    with torch.no_grad():
        for _ in range(2):
            with autocast():
                model.translate(x)
        _sync(device)
        t = time.perf_counter()
        n = max(2, steps // 4)
        for _ in range(n):
            with autocast():
                model.translate(x)
        _sync(device)
    synth_sps = n * 32 / (time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return {"train_img_s": train_ips, "train_it_s": train_ips / batch, "synth_slices_s": synth_sps, "peak_gib": peak}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--tiny", action="store_true", help="CPU smoke run: 64x64, width 8, 3 steps")
    p.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = p.parse_args()
    device = torch.device(args.device)
    size, width, steps, warmup = args.size, 64, args.steps, args.warmup
    if args.tiny:
        size, width, steps, warmup = 96, 8, 3, 1
    cases = [
        ("CycleGAN", CycleGANConfig(base_channels=width, disc_channels=width, slices=SliceConfig(image_size=size)), 1),
        ("CycleGAN", CycleGANConfig(base_channels=width, disc_channels=width, slices=SliceConfig(image_size=size)), 8),
        ("NICE-GAN", NICEGANConfig(base_channels=width, slices=SliceConfig(image_size=size)), 1),
    ]
    rows = []
    for name, cfg, batch in cases:
        for bf16 in (False, True):
            if bf16 and device.type != "cuda":
                continue
            r = measure(cfg, device, bf16, batch, steps, warmup)
            rows.append((name, batch, "bf16" if bf16 else "fp32", r))
            print(name, batch, "bf16" if bf16 else "fp32", {k: round(v, 2) for k, v in r.items()}, flush=True)
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    lines = [
        "# Translation speed",
        "",
        f"Machine: {dev}; torch {torch.__version__}; slices {size}x{size}, 1 channel, base width {width}; "
        f"{steps} timed steps after {warmup} warm-up steps.",
        "",
    ]
    if device.type != "cuda":
        lines += ["**No CUDA GPU: CPU smoke run only, not a speed measurement (bf16 rows need CUDA).**", ""]
    lines += [
        "| model | batch | precision | training images/s | training it/s | synthesis slices/s (batch 32) | peak GPU memory (GiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, batch, prec, r in rows:
        lines.append(f"| {name} | {batch} | {prec} | {r['train_img_s']:.1f} | {r['train_it_s']:.2f} | {r['synth_slices_s']:.1f} | {r['peak_gib']:.2f} |")
    lines += ["", f"Command: `python benchmarks/translation_speed/run.py{' --tiny' if args.tiny else ''}`", ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
