"""bf16 autocast on CPUs that compute bf16 in hardware (Intel AMX or AVX512-BF16).

nnU-Net trains in fp32 on the CPU (its autocast is CUDA-only). On a CPU with AMX tiles or
AVX512-BF16, oneDNN runs bf16 convolutions faster than fp32 ones, and convolutions are what
the CPU-scale demo and benchmarks wait for. Measured on this project's 2-core Xeon (AMX):
one training step of the demo's half-width 2d U-Net (batch 6, patch 80 x 112) 0.098 s in bf16
vs 0.163 s in fp32; nnU-Net's epochs of 25 iterations (``nnUNetTrainer_quick``, one
augmentation worker beside it) on the demo's hrT2 (patch 64 x 96) 3.5-4.0 s vs 5.0-5.4 s, on
its ceT1 (patch 80 x 112) 4.1-4.5 s vs 5.7-6.1 s. On other CPUs bf16 is emulated and slower, so
it stays off there. ``NNUDA_CPU_BF16=1`` / ``=0`` forces it on / off. The translator stays in
fp32 on the CPU: its steps (batch 1, 88-100 pixels, 16 channels) are not limited by
convolution arithmetic (200 CycleGAN iterations took 48 s in bf16 vs 52 s in fp32).
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
    """Whether CPU training runs under bf16 autocast: ``NNUDA_CPU_BF16`` if set, else the hardware check.

    Raises:
        ValueError: ``NNUDA_CPU_BF16`` set to something other than 0 or 1.
    """
    value = os.environ.get(ENV, "").strip()
    if value in ("0", "1"):
        return value == "1"
    if value:
        raise ValueError(f"{ENV} must be 0 or 1, got {value!r}")
    return cpu_bf16_supported()


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
