"""Normalization with one set of parameters per task (Vorontsov et al., §III-D and eq. 4).

The residual decoder is used both for translation (the residual image) and for
segmentation; "a different normalization is applied to each layer depending on whether the
output is a translation residual or a segmentation", so the same learned convolutions can be
used in different ways. Decoders use layer normalization (§IV-B): ``GroupNorm`` with one
group normalizes each sample over channels and pixels, with a scale and shift per channel.
"""

from __future__ import annotations

import torch
from torch import nn


def layer_norm(channels: int) -> nn.GroupNorm:
    """Layer normalization of ``(B, channels, *spatial)`` maps, affine per channel."""
    return nn.GroupNorm(1, channels)


class TaskNorm(nn.Module):
    """Layer normalization whose affine parameters are chosen by the task.

    Args:
        channels: of the maps normalized.
        tasks: task names, one set of parameters each.

    Shapes:
        ``forward(x, task)``: ``(B, channels, *spatial)`` -> same.

    Raises:
        ValueError: no task, or a task name unknown to ``forward``.
    """

    def __init__(self, channels: int, tasks: tuple[str, ...]):
        super().__init__()
        if not tasks:
            raise ValueError("TaskNorm needs at least one task")
        self.norms = nn.ModuleDict({t: layer_norm(channels) for t in tasks})

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        if task not in self.norms:
            raise ValueError(f"unknown task {task!r}; this layer has {sorted(self.norms)}")
        return self.norms[task](x)
