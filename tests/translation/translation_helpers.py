"""Small model configs for the translation tests (the papers' architectures, narrower)."""

from __future__ import annotations

from nnunet_uda.translation.config import CycleGANConfig, NICEGANConfig, SliceConfig


def small_cyclegan(**kw) -> CycleGANConfig:
    """The paper's architecture at width 8 on 32x32 slices."""
    kw.setdefault("slices", SliceConfig(image_size=32))
    return CycleGANConfig(base_channels=8, disc_channels=8, **kw)


def small_nicegan(**kw) -> NICEGANConfig:
    """NICE-GAN at width 8, 2 AdaILN blocks, 6 discriminator layers (the least that fits 48x48)."""
    kw.setdefault("slices", SliceConfig(image_size=48))
    return NICEGANConfig(base_channels=8, n_res_blocks=2, disc_layers=6, light=True, **kw)


def slice_sets(folder, config, labels: bool = False):
    """``(resolved config, source SliceSet, target SliceSet)`` of a CrossMoDA folder."""
    from nnunet_uda.translation.pipeline import find_inputs, resolved_config
    from nnunet_uda.translation.slices import build_slice_set

    inputs = find_inputs(folder, "ceT1", "hrT2")
    cfg = resolved_config(config, [p for p, _ in inputs.source.values()], list(inputs.target.values()))
    src = build_slice_set({c: (p, lab if labels else None) for c, (p, lab) in inputs.source.items()}, cfg.slices, "source")
    tgt = build_slice_set({c: (p, None) for c, p in inputs.target.items()}, cfg.slices, "target")
    return cfg, src, tgt
