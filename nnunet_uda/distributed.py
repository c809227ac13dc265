"""Keep modules that live outside nnU-Net's DDP wrapper identical on every rank.

nnU-Net wraps only ``trainer.network`` in ``DistributedDataParallel``. A teacher or a
discriminator beside it stays in sync if it starts equal (:func:`broadcast_module_`) and
every rank applies the same update: an EMA of identical student weights, or an
optimizer step on all-reduced gradients (:func:`average_gradients_`). Without an
initialized process group both functions do nothing.
"""

from __future__ import annotations

import torch
from torch import distributed as dist
from torch import nn


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def unwrap_network(network: nn.Module) -> nn.Module:
    """The plain module inside a DDP and/or ``torch.compile`` wrapper."""
    if isinstance(network, nn.parallel.DistributedDataParallel):
        network = network.module
    return getattr(network, "_orig_mod", network)


@torch.no_grad()
def broadcast_module_(module: nn.Module, src: int = 0) -> None:
    """Copy parameters and buffers of rank ``src`` to every rank, in place."""
    if _world() == 1:
        return
    for t in [*module.parameters(), *module.buffers()]:
        dist.broadcast(t.data, src)


@torch.no_grad()
def average_gradients_(module: nn.Module) -> None:
    """All-reduce the gradients of ``module`` to their mean over ranks, in place (as DDP would)."""
    world = _world()
    if world == 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(world)
