"""Multi-scale image discriminator (Vorontsov et al., Table I and §IV-B; the multi-scale
design of pix2pixHD / MUNIT).

At each of ``num_scales`` scales (the image, then average-pooled by 2 each time) one
network "C 64 4x4 / NRC 64, 128, 256, 512 4x4 stride 2 / C 1 1x1" gives a map of logits;
leaky ReLU of slope 0.2, spectral normalization on every convolution, Kaiming init.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnunet_uda.padded_conv import PaddedConv2d
from nnunet_uda.task_norm import layer_norm

SLOPE = 0.2


def discriminator_depth(patch_size, num_scales: int = 3, max_depth: int = 4) -> int:
    """Stride-2 layers per scale so that the coarsest scale still ends at >= 2 pixels: the
    paper's 4 (its 48x48 tasks drop one, §IV-B); at least 1.

    Raises:
        ValueError: ``num_scales`` or ``max_depth`` below 1.
    """
    if num_scales < 1 or max_depth < 1:
        raise ValueError(f"num_scales and max_depth must be >= 1, got {num_scales}, {max_depth}")
    smallest = min(patch_size) / 2 ** (num_scales - 1)
    return int(min(max_depth, max(1, math.floor(math.log2(max(smallest, 2) / 2)))))


class PatchDiscriminator(nn.Module):
    """One scale of Table I's discriminator. "N" is layer normalization here (the table does
    not name it; instance normalization fails on the 1-pixel maps of small patches).

    Shapes:
        ``(B, in_channels, H, W)`` -> ``(B, 1, ~H / 2^depth, ~W / 2^depth)`` logits.
    """

    def __init__(self, in_channels: int, base_channels: int = 64, depth: int = 4, spectral: bool = True):
        super().__init__()
        layers: list[nn.Module] = [PaddedConv2d(in_channels, base_channels, 4, 1, spectral)]
        channels = base_channels
        for i in range(depth):
            out = base_channels * 2 ** i
            layers += [layer_norm(channels), nn.LeakyReLU(SLOPE),
                       PaddedConv2d(channels, out, 4, 2, spectral, negative_slope=SLOPE)]
            channels = out
        layers.append(PaddedConv2d(channels, 1, 1, 1, spectral, negative_slope=SLOPE))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MultiScaleDiscriminator(nn.Module):
    """:class:`PatchDiscriminator` at ``num_scales`` scales (its own weights at each).

    Args:
        in_channels: image channels.
        base_channels: Table I's 64.
        num_scales: 3 in the paper.
        depth: stride-2 layers per scale (:func:`discriminator_depth`).
        spectral: spectral normalization of every convolution.

    Shapes:
        ``(B, in_channels, H, W)`` -> a list of ``num_scales`` logit maps ``(B, 1, h_s, w_s)``;
        losses average over the scales (:mod:`nnunet_uda.hinge_loss`).
    """

    def __init__(self, in_channels: int, base_channels: int = 64, num_scales: int = 3, depth: int = 4,
                 spectral: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.scales = nn.ModuleList(PatchDiscriminator(in_channels, base_channels, depth, spectral)
                                    for _ in range(num_scales))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        outputs = []
        for i, scale in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            outputs.append(scale(x))
        return outputs
