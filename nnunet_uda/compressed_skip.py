"""Compressed long skip connections (Vorontsov et al., §III-C).

Instead of summing or concatenating every encoder feature map into the decoder, each stack
of maps is compressed by a 1x1 convolution to a single map and normalized with instance
normalization before it is concatenated to the decoder's maps: cheaper than concatenation,
and it keeps translation learnable where summation made it hard.
"""

from __future__ import annotations

import torch
from torch import nn

from nnunet_uda.padded_conv import PaddedConv2d


class CompressedSkip(nn.Module):
    """1x1 convolution to one map, then instance normalization (no affine: zero mean, unit
    variance per sample).

    Args:
        in_channels: channels of the encoder maps skipped.
        spectral: spectral normalization of the 1x1 convolution.

    Shapes:
        ``(B, in_channels, H, W)`` -> ``(B, 1, H, W)``.
    """

    def __init__(self, in_channels: int, spectral: bool = False):
        super().__init__()
        self.compress = PaddedConv2d(in_channels, 1, 1, spectral=spectral)
        self.norm = nn.InstanceNorm2d(1, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.compress(x))
