"""MR contrasts from tissue properties, and the acquisition nuisances of each protocol.

Each protocol maps tissues to a relative signal (ceT1: enhancing tumour and fat bright,
CSF and inner-ear fluid dark; hrT2 CISS/FIESTA-like: CSF and inner-ear fluid very bright,
tumour intermediate, cysts bright, bone dark). Images of a case in two modalities come
from the same anatomy through different tables, never from each other. The acquisition
then adds a point-spread blur, a smooth multiplicative bias field, a scanner intensity
scale and Rician noise (magnitude of signal plus complex Gaussian noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from nnunet_uda.synth.paint import Grid
from nnunet_uda.synth.tissues import N_TISSUES, Tissue


@dataclass(frozen=True)
class Protocol:
    """One sequence at one site.

    Attributes:
        modality: ``ceT1`` or ``hrT2`` (the file suffix).
        site: ``ldn`` or ``etz``.
        values: relative signal per tissue (CSF on hrT2 = 1).
        jitter: per-case relative spread of each tissue's signal.
        noise: Rician noise sigma relative to a unit signal.
        bias: strength of the bias field (std of its log over the field of view).
        scale: (min, max) scanner intensity scale.
        psf: point-spread blur sigma in voxels (z, y, x).
    """

    modality: str
    site: str
    values: dict[Tissue, float]
    jitter: float
    noise: float
    bias: float
    scale: tuple[float, float]
    psf: tuple[float, float, float]

    def lut(self, rng: np.random.Generator) -> np.ndarray:
        """Signal per tissue code for one case, with the per-case spread."""
        table = np.zeros(N_TISSUES, np.float32)
        for tissue, v in self.values.items():
            table[int(tissue)] = v * rng.uniform(1 - self.jitter, 1 + self.jitter)
        return table


def _values(**kw: float) -> dict[Tissue, float]:
    out = {Tissue[k.upper()]: v for k, v in kw.items()}
    missing = set(Tissue) - set(out)
    if missing:
        raise ValueError(f"protocol lacks tissues {sorted(t.name for t in missing)}")
    return out


CET1 = Protocol(
    "ceT1",
    "ldn",
    _values(
        air=0.0, soft=0.38, fat=1.0, bone=0.04, marrow=0.72, csf=0.1, grey=0.4, white=0.54, brainstem=0.5,
        nerve=0.46, artery=0.85, venous=0.9, labyrinth=0.12, cochlea_l=0.13, cochlea_r=0.13, vs=0.95, vs_cyst=0.2,
    ),
    jitter=0.06,
    noise=0.03,
    bias=0.12,
    scale=(400.0, 900.0),
    psf=(0.5, 0.45, 0.45),
)

HRT2_ETZ = Protocol(
    "hrT2",
    "etz",
    _values(
        air=0.0, soft=0.12, fat=0.45, bone=0.02, marrow=0.22, csf=1.0, grey=0.24, white=0.15, brainstem=0.18,
        nerve=0.13, artery=0.03, venous=0.06, labyrinth=0.97, cochlea_l=0.95, cochlea_r=0.95, vs=0.33, vs_cyst=0.85,
    ),
    jitter=0.05,
    noise=0.022,
    bias=0.1,
    scale=(1500.0, 2600.0),
    psf=(0.45, 0.4, 0.4),
)

HRT2_LDN = Protocol(
    "hrT2",
    "ldn",
    _values(
        air=0.0, soft=0.22, fat=0.6, bone=0.05, marrow=0.35, csf=1.0, grey=0.42, white=0.33, brainstem=0.36,
        nerve=0.28, artery=0.06, venous=0.1, labyrinth=0.92, cochlea_l=0.9, cochlea_r=0.9, vs=0.45, vs_cyst=0.8,
    ),
    jitter=0.07,
    noise=0.04,
    bias=0.18,
    scale=(150.0, 350.0),
    psf=(0.6, 0.6, 0.6),
)

PROTOCOLS: dict[tuple[str, str], Protocol] = {
    ("ceT1", "ldn"): CET1,
    ("hrT2", "etz"): HRT2_ETZ,
    ("hrT2", "ldn"): HRT2_LDN,
}


@dataclass(frozen=True)
class Acquisition:
    """The random part of one acquisition of one case: tissue table, bias, scale, noise seed."""

    lut: np.ndarray
    bias_coef: np.ndarray  # (9,) quadratic log-bias coefficients
    scale: float
    noise_seed: int

    @classmethod
    def draw(cls, protocol: Protocol, rng: np.random.Generator) -> "Acquisition":
        """Draw the per-case settings of ``protocol`` from ``rng``."""
        lut = protocol.lut(rng)
        coef = rng.normal(0.0, protocol.bias, size=9) * np.array([1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
        return cls(lut, coef, float(rng.uniform(*protocol.scale)), int(rng.integers(2**31)))


def bias_field(grid: Grid, coef: np.ndarray) -> np.ndarray:
    """``exp`` of a quadratic polynomial in coordinates normalised to the field of view."""
    axes = []
    for i in range(3):
        c = grid.axis(i)
        half = max(1e-6, (c[-1] - c[0]) / 2)
        axes.append(((c - c.mean()) / half).astype(np.float32))
    x = axes[0][None, None, :]
    y = axes[1][None, :, None]
    z = axes[2][:, None, None]
    log_b = coef[0] * x + coef[1] * y + coef[2] * z
    log_b = log_b + coef[3] * x * x + coef[4] * y * y + coef[5] * z * z
    log_b = log_b + coef[6] * x * y + coef[7] * x * z + coef[8] * y * z
    return np.exp(log_b - log_b.mean()).astype(np.float32)


def acquire(signal: np.ndarray, grid: Grid, protocol: Protocol, acq: Acquisition, clean: bool = False) -> np.ndarray:
    """Turn a partial-volume signal into a scanner image (float32).

    Args:
        signal: (z, y, x) relative signal sampled on ``grid``.
        clean: skip bias field and noise (the paired reference renders).
    """
    img = gaussian_filter(signal, sigma=protocol.psf, mode="nearest", truncate=3.0)
    if clean:
        return (img * acq.scale).astype(np.float32)
    img = img * bias_field(grid, acq.bias_coef) * np.float32(acq.scale)
    rng = np.random.default_rng(acq.noise_seed)
    sigma = np.float32(protocol.noise * acq.scale)
    real = img + sigma * rng.standard_normal(img.shape, dtype=np.float32)
    imag = sigma * rng.standard_normal(img.shape, dtype=np.float32)
    return np.sqrt(real * real + imag * imag).astype(np.float32)
