"""Configuration dataclasses of the translation models, saved as JSON beside their weights.

The defaults are the papers': CycleGAN (Zhu et al. 2017, as in eqs. 1-3 of the
MixMatch+CycleGAN paper) and NICE-GAN (Chen et al., CVPR 2020, official defaults).
Tests and CPU demos shrink ``base_channels``, ``image_size`` and ``iterations``; the
architecture stays the same.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from nnunet_uda.errors import InputError


@dataclass
class SliceConfig:
    """How 2D training slices are cut from volumes (item 1 of the issue).

    Attributes:
        crop_roi: keep only PAST's in-plane ROI ``[W/4:3W/4, H/4:3H/4]``.
        image_size: side of the square network input, in pixels.
        spacing: in-plane spacing (mm) slices are resampled to; ``None`` while not yet
            resolved, then the median target spacing, enlarged if needed so that every
            ROI fits into ``image_size`` (written to the saved config).
        percentiles: robust (low, high) percentiles mapped to 0 and 255 per volume.
        min_foreground: slices whose 0..255 maximum is below this are not used for
            training (empty slices above and below the head).
        source_label_scale: ``{label value: factor}`` or ``{label value: (low, high)}``:
            before scaling, source voxels of that label are multiplied by the factor, in
            training and in synthesis (a label-guided edit of the translator's input, e.g.
            ``{1: 0.5}`` takes the contrast enhancement out of the tumour, which hrT2 does
            not show); a range gives every case its own factor in it
            (:func:`~nnunet_uda.translation.slices.case_label_scale`).
        train_crop: side of the random square crops the translator trains on (``None``:
            whole ``image_size`` slices); the networks are fully convolutional, so
            synthesis still translates whole slices.
        train_flip: random left-right flips in training.
        structure_fraction: share of source training slices drawn from slices that show
            a labeled structure (0: uniform over all slices).
    """

    crop_roi: bool = True
    image_size: int = 256
    spacing: float | None = None
    percentiles: tuple[float, float] = (0.5, 99.5)
    min_foreground: float = 10.0
    source_label_scale: dict[int, float | tuple[float, float]] = field(default_factory=dict)
    train_crop: int | None = None
    train_flip: bool = True
    structure_fraction: float = 0.0


@dataclass
class CycleGANConfig:
    """CycleGAN: ResNet generator (9 blocks), 70x70 PatchGAN, LSGAN, cycle L1 x10.

    ``lambda_identity`` is relative to ``lambda_cycle`` as in Zhu et al. (0.5 -> weight 5); off by
    default: it rewards G_AB(b) = b, i.e. keeping intensities, and with it a ceT1 -> hrT2
    CycleGAN kept the ceT1 contrast (tumour bright, CSF dark; measured at CPU scale, see
    ``benchmarks/structure_preservation``).
    With ``preserve_structures``, ``lambda_seg`` weighs the structure segmenter's loss and
    ``seg_lr`` is the learning rate of the segmenter's own optimizer
    (:func:`~nnunet_uda.translation.gan_utils.generator_optimizers`).
    The learning rate is constant for ``iterations * (1 - decay_fraction)`` iterations,
    then decays linearly to zero.
    """

    model: str = "cyclegan"
    in_channels: int = 1
    base_channels: int = 64
    disc_channels: int = 64
    n_res_blocks: int = 9
    disc_layers: int = 3
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.0
    pool_size: int = 50
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    iterations: int = 100_000
    decay_fraction: float = 0.5
    batch_size: int = 1
    preserve_structures: bool = False
    lambda_seg: float = 1.0
    seg_lr: float = 1e-3
    num_classes: int = 3
    seed: int = 0
    slices: SliceConfig = field(default_factory=SliceConfig)


@dataclass
class NICEGANConfig:
    """NICE-GAN: discriminator encoders reused by the generators, decoupled training.

    Official defaults: 6 AdaILN residual blocks, 7 discriminator layers (local 70x70 and
    global 286x286 heads), Adam 1e-4 with weight decay 1e-4, adversarial 1, cycle 10,
    reconstruction 10, linear decay over the second half. ``lambda_seg`` and ``seg_lr``
    as for :class:`CycleGANConfig`. ``light=False`` (the paper's
    full model) ties the generator to ``slices.image_size`` through its fully connected
    AdaILN parameter layer; ``light=True`` pools instead.
    """

    model: str = "nicegan"
    in_channels: int = 1
    base_channels: int = 64
    n_res_blocks: int = 6
    disc_layers: int = 7
    light: bool = False
    adv_weight: float = 1.0
    cycle_weight: float = 10.0
    recon_weight: float = 10.0
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 1e-4
    iterations: int = 300_000
    decay_fraction: float = 0.5
    batch_size: int = 1
    preserve_structures: bool = False
    lambda_seg: float = 1.0
    seg_lr: float = 1e-3
    num_classes: int = 3
    seed: int = 0
    slices: SliceConfig = field(default_factory=SliceConfig)


MODEL_CONFIGS = {"cyclegan": CycleGANConfig, "nicegan": NICEGANConfig}
ModelConfig = CycleGANConfig | NICEGANConfig


def config_to_dict(config: ModelConfig) -> dict:
    """Plain JSON-able dict (tuples become lists)."""
    return json.loads(json.dumps(asdict(config)))


def config_from_dict(d: dict) -> ModelConfig:
    """Inverse of :func:`config_to_dict`; unknown keys are an :class:`InputError`."""
    d = dict(d)
    name = d.get("model")
    if name not in MODEL_CONFIGS:
        raise InputError(f"unknown translation model {name!r}: expected one of {', '.join(MODEL_CONFIGS)}")
    cls = MODEL_CONFIGS[name]
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise InputError(f"unknown {name} config keys: {sorted(unknown)}")
    slices = dict(d.pop("slices", {}))
    if "percentiles" in slices:
        slices["percentiles"] = tuple(slices["percentiles"])
    if "source_label_scale" in slices:
        slices["source_label_scale"] = {int(k): tuple(map(float, v)) if isinstance(v, (list, tuple)) else float(v)
                                        for k, v in slices["source_label_scale"].items()}
    if "betas" in d:
        d["betas"] = tuple(d["betas"])
    return cls(**d, slices=SliceConfig(**slices))


def save_config(config: ModelConfig, path: Path, extra: dict | None = None) -> None:
    """Write ``{"config": ..., **extra}`` as JSON (atomically)."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"config": config_to_dict(config), **(extra or {})}, indent=2))
    tmp.replace(path)


def load_config(path: Path) -> tuple[ModelConfig, dict]:
    """Read a file written by :func:`save_config`: ``(config, extra)``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"translation config not found: {path}")
    d = json.loads(path.read_text())
    return config_from_dict(d.pop("config")), d
