"""Encoder and decoders of the presence/absence networks (Vorontsov et al., Table I, §III-C, §III-D).

Levels follow nnU-Net's plans: level ``j`` has ``features[j]`` channels in the encoder and
the resolution after ``strides[0..j]``. The encoder is Table I's: a convolution (level 0),
then one pre-activation block per level (instance norm, ReLU, strided convolution, with a
short skip), then a final normalization. A decoder starts with a convolution at the
bottleneck, then per level ``j = n-2 .. 1`` normalizes, applies ReLU, upsamples to level
``j``, concatenates the compressed long skip of level ``j`` and convolves to
``features[j - 1]`` channels (a short skip beside it where asked), and ends with a head at
level 0: normalization, ReLU, upsampling, convolution to the output. At the paper's widths
(16, 32, ..., 512) this is Table I exactly (decoder 256, 128, ..., 16, output). Long skips
come from every encoder level except the first and the last (§III-C).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nnunet_uda.compressed_skip import CompressedSkip
from nnunet_uda.padded_conv import PaddedConv2d
from nnunet_uda.task_norm import TaskNorm


@dataclass
class Encoding:
    """What the encoder gives: the normalized bottleneck ``(B, features[-1], h, w)`` and the
    output of every level before it, ``features[j]`` of ``(B, features[j], H_j, W_j)``."""

    bottleneck: torch.Tensor
    features: list[torch.Tensor]


class Encoder(nn.Module):
    """Table I's encoder ("C, NRC* ..., NR" without the last ReLU, which the network applies
    where it wants it: a unique code must be able to be negative to match ``N(0, I)``, eq. 5).

    Args:
        in_channels: image channels.
        features, strides, kernels: per level, from nnU-Net's plans (``strides[0]`` is
            normally 1).
        spectral: spectral normalization of every convolution.
    """

    def __init__(self, in_channels: int, features: list[int], strides, kernels, spectral: bool = False):
        super().__init__()
        if len(features) < 2 or not len(features) == len(strides) == len(kernels):
            raise ValueError(f"need >= 2 levels and one stride and kernel per level, got {features}, {strides}, {kernels}")
        self.stem = PaddedConv2d(in_channels, features[0], kernels[0], strides[0], spectral)
        self.norms = nn.ModuleList(nn.InstanceNorm2d(f, affine=True) for f in features[:-1])
        self.convs = nn.ModuleList(PaddedConv2d(features[j - 1], features[j], kernels[j], strides[j], spectral)
                                   for j in range(1, len(features)))
        self.shortcuts = nn.ModuleList(PaddedConv2d(features[j - 1], features[j], 1, strides[j], spectral)
                                       for j in range(1, len(features)))
        self.final_norm = nn.InstanceNorm2d(features[-1], affine=True)

    def forward(self, x: torch.Tensor) -> Encoding:
        h = self.stem(x)
        features = []
        for norm, conv, shortcut in zip(self.norms, self.convs, self.shortcuts):
            features.append(h)
            h = conv(F.relu(norm(h))) + shortcut(h)
        return Encoding(self.final_norm(h), features)


class Decoder(nn.Module):
    """A decoder of Table I with one head per task and task-specific normalization.

    Args:
        code_channels: channels of the code it decodes.
        features, kernels: per level, as the encoder's.
        heads: ``task -> (output channels, kernel)``; every normalization layer has one set
            of parameters per task (:class:`~nnunet_uda.task_norm.TaskNorm`) and the last
            convolution is the task's head (eq. 4: the segmentation replaces the residual
            decoder's last layer by a 1x1 classification layer).
        long_skips: concatenate compressed long skips (§III-C) at levels ``1 .. n-2``.
        short_skips: residual (1x1) shortcuts around each block ("*" in Table I).
        spectral: spectral normalization of every convolution.

    Shapes:
        ``forward(code, encoding_features, task)``: ``(B, code_channels, h, w)`` and the
        encoder's level outputs -> ``(B, heads[task][0], H_0, W_0)``.
    """

    def __init__(self, code_channels: int, features: list[int], kernels, heads: dict[str, tuple[int, object]],
                 long_skips: bool = True, short_skips: bool = True, spectral: bool = False):
        super().__init__()
        n = len(features)
        tasks = tuple(heads)
        self.long_skips = long_skips
        self.entry = PaddedConv2d(code_channels, features[n - 2], kernels[n - 1], 1, spectral)
        self.levels = list(range(n - 2, 0, -1))
        extra = 1 if long_skips else 0
        self.norms = nn.ModuleList(TaskNorm(features[j], tasks) for j in self.levels)
        self.convs = nn.ModuleList(PaddedConv2d(features[j] + extra, features[j - 1], kernels[j], 1, spectral)
                                   for j in self.levels)
        self.shortcuts = nn.ModuleList(PaddedConv2d(features[j], features[j - 1], 1, 1, spectral)
                                       for j in self.levels) if short_skips else None
        self.skips = nn.ModuleList(CompressedSkip(features[j], spectral) for j in self.levels) if long_skips else None
        self.head_norm = TaskNorm(features[0], tasks)
        self.heads = nn.ModuleDict({t: PaddedConv2d(features[0], c, k, 1, spectral) for t, (c, k) in heads.items()})

    def forward(self, code: torch.Tensor, encoding_features: list[torch.Tensor], task: str) -> torch.Tensor:
        if task not in self.heads:
            raise ValueError(f"unknown task {task!r}; this decoder has {sorted(self.heads)}")
        h = self.entry(code)
        for i, j in enumerate(self.levels):
            up = F.interpolate(F.relu(self.norms[i](h, task)), size=encoding_features[j].shape[2:], mode="nearest")
            if self.long_skips:
                up = torch.cat((up, self.skips[i](encoding_features[j])), 1)
            out = self.convs[i](up)
            if self.shortcuts is not None:
                out = out + self.shortcuts[i](F.interpolate(h, size=out.shape[2:], mode="nearest"))
            h = out
        h = F.interpolate(F.relu(self.head_norm(h, task)), size=encoding_features[0].shape[2:], mode="nearest")
        return self.heads[task](h)
