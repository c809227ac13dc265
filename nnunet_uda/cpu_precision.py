"""bf16 autocast for CPU training, opt-in (``NNUDA_CPU_BF16=1``) on CPUs that compute bf16 in
hardware (Intel AMX or AVX512-BF16).

nnU-Net trains in fp32 on the CPU (its autocast is CUDA-only). On a CPU with AMX tiles or
AVX512-BF16, oneDNN runs bf16 convolutions faster than fp32 ones. Measured on a 2-core Xeon
(AMX): one training step of the demo's half-width 2d U-Net (batch 6, patch 80 x 112) 0.098 s
in bf16 vs 0.163 s in fp32; nnU-Net's epochs of 25 iterations on the demo's ceT1 4.1-4.5 s vs
5.7-6.1 s. On a 2-core AMD EPYC (AVX512-BF16) the same network's forward + backward took 0.38
vs 0.80-0.85 s.

It is off by default because it cost the small structure: ``nnUNetTrainer_demo`` trained on
the labeled hrT2 of ``benchmarks/uda_accuracy``'s seed 1 (the oracle) never predicted the
cochlea in bf16 (pseudo Dice 0.0 in all 80 epochs; validation Dice 0.000), while in fp32 on
the same data it found it from epoch 40 (pseudo Dice 0.84-0.88 at the end). Before bf16 the
benchmark's oracles reached cochlea 0.80-0.88 in four of four runs; with it, three of four
oracle runs (benchmark and ``nnuda-demo``) missed the cochlea. ``NNUDA_CPU_BF16=1`` turns it
on (use it on CPUs with bf16 in hardware; elsewhere it is emulated and slower); ``=0`` or
unset keeps fp32. The
translator always trains in fp32 on the CPU (200 CycleGAN iterations: 48 s bf16 vs 52 s fp32).
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import torch

ENV = "NNUDA_CPU_BF16"


@functools.lru_cache(maxsize=1)
def cpu_bf16_supported() -> bool:
    """True if this CPU has AMX-BF16 or AVX512-BF16 (torch's CPU checks, else /proc/cpuinfo)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # private helpers of torch.cpu; fall back on the kernel's flags
        cpuinfo = Path("/proc/cpuinfo")
        flags = cpuinfo.read_text().split() if cpuinfo.is_file() else []
        return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_bf16_enabled() -> bool:
    """Whether CPU training runs under bf16 autocast: only with ``NNUDA_CPU_BF16=1``
    (:func:`cpu_bf16_supported` says whether the CPU has it in hardware).

    Raises:
        ValueError: ``NNUDA_CPU_BF16`` set to something other than 0 or 1.
    """
    value = os.environ.get(ENV, "").strip()
    if value and value not in ("0", "1"):
        raise ValueError(f"{ENV} must be 0 or 1, got {value!r}")
    return value == "1"


def cpu_autocast(device: torch.device):
    """bf16 autocast context for ``device`` if it is a CPU with bf16 enabled, else a no-op context."""
    if device.type == "cpu" and cpu_bf16_enabled():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class CPUMixedPrecisionMixin:
    """Runs an ``nnUNetTrainer``'s ``train_step`` and ``validation_step`` under bf16 autocast on a
    CPU where :func:`cpu_bf16_enabled` (put it before the trainer in the bases). On CUDA it does
    nothing: nnU-Net's own autocast and gradient scaling apply there.

    The whole step is wrapped (so a subclass's own ``train_step`` is covered without copying
    it); backward then runs inside the autocast region too, where PyTorch casts each gradient
    back to its parameter's dtype (fp32 weights, fp32 optimizer).
    """

    def train_step(self, batch: dict) -> dict:
        with cpu_autocast(self.device):
            return super().train_step(batch)

    def validation_step(self, batch: dict) -> dict:
        with cpu_autocast(self.device):
            return super().validation_step(batch)
