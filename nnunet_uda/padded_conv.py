"""The 2D convolution of the presence/absence networks (Vorontsov et al., §IV-B).

"Convolutions are applied to inputs with reflection padding", weights are initialised with
Kaiming normal, and with ``spectral`` the weight is divided by its largest singular value
(spectral normalization, Miyato et al.; the paper applies it to every network, §III-B).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"expected one or two values for a 2D convolution, got {value}")
    return value


class PaddedConv2d(nn.Module):
    """``nn.Conv2d`` after reflection padding of ``kernel - 1`` pixels per axis (the extra
    pixel of an even kernel on the far side), so a stride ``s`` turns a size ``n`` into
    ``ceil(n / s)``. A side shorter than its padding is padded by replication instead
    (reflection needs more pixels than it pads; small bottlenecks have fewer).

    Args:
        in_channels, out_channels: channels.
        kernel_size, stride: an int or one per axis.
        spectral: spectral normalization of the weight.
        negative_slope: of the leaky ReLU this convolution follows (Kaiming gain; 0 for ReLU).

    Shapes:
        ``(B, in_channels, H, W)`` -> ``(B, out_channels, ceil(H / s_h), ceil(W / s_w))``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, spectral: bool = False,
                 negative_slope: float = 0.0):
        super().__init__()
        kernel, stride = _pair(kernel_size), _pair(stride)
        self.padding = []
        for k in reversed(kernel):  # F.pad takes the last axis first
            self.padding += [(k - 1) // 2, k - 1 - (k - 1) // 2]
        conv = nn.Conv2d(in_channels, out_channels, kernel, stride)
        nn.init.kaiming_normal_(conv.weight, a=negative_slope, nonlinearity="leaky_relu")
        nn.init.zeros_(conv.bias)
        self.conv = spectral_norm(conv) if spectral else conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.padding):
            reflect = all(max(self.padding[2 * i:2 * i + 2]) < x.shape[-1 - i] for i in range(2))
            x = F.pad(x, self.padding, mode="reflect" if reflect else "replicate")
        return self.conv(x)
