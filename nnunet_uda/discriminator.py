"""DMNet's fully convolutional discriminator on segmentation maps (DMNet §3.4)."""

from __future__ import annotations

import torch
from torch import nn


class FCNDiscriminator(nn.Module):
    """Three stride-2 convolutions, then three up-sampling (transposed) convolutions, ReLU after each
    layer but the last; one logit per voxel: "was this region predicted, or ground truth?".

    Convolutions use kernel 3 and padding 1, so any input size works (a size ``n``
    becomes ``ceil(n / 2)``); each up-sampling restores the exact size of the level above,
    and the output has the spatial size of the input.

    Args:
        in_channels: number of classes (softmax maps or one-hot labels).
        dim: 2 or 3 spatial dimensions.
        base_channels: channels after the first convolution; doubled twice.

    Shapes:
        ``(B, in_channels, *spatial)`` -> ``(B, 1, *spatial)`` logits (use with
        ``BCEWithLogitsLoss``: 1 = ground truth, 0 = prediction).
    """

    def __init__(self, in_channels: int, dim: int = 3, base_channels: int = 64):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if in_channels < 1 or base_channels < 1:
            raise ValueError(f"in_channels and base_channels must be >= 1, got {in_channels}, {base_channels}")
        conv, up = (nn.Conv3d, nn.ConvTranspose3d) if dim == 3 else (nn.Conv2d, nn.ConvTranspose2d)
        self.dim = dim
        self.in_channels = in_channels
        c = [in_channels, base_channels, 2 * base_channels, 4 * base_channels]
        self.down = nn.ModuleList(conv(c[i], c[i + 1], 3, stride=2, padding=1) for i in range(3))
        self.up = nn.ModuleList(up(c[3 - i], c[2 - i] if i < 2 else 1, 3, stride=2, padding=1) for i in range(3))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, {self.dim} spatial axes), got {tuple(x.shape)}")
        sizes = []
        for layer in self.down:
            sizes.append(x.shape[2:])
            x = self.relu(layer(x))
        for i, layer in enumerate(self.up):
            x = layer(x, output_size=sizes[2 - i])
            if i < 2:
                x = self.relu(x)
        return x
