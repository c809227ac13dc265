"""The image discriminators of the presence/absence trainer: a
:class:`~nnunet_uda.adversarial_parts.DiscriminatorSet` (checkpoint, DDP broadcast and
gradient averaging) with multi-scale spectral-norm discriminators, hinge losses (eq. 11) and
the paper's optimizer: AMSGrad, betas (0.5, 0.999), constant learning rate (§IV-B).
"""

from __future__ import annotations

import torch
from torch import nn

from nnunet_uda.adversarial_parts import DiscriminatorSet
from nnunet_uda.hinge_loss import hinge_discriminator_loss, hinge_generator_loss
from nnunet_uda.multiscale_discriminator import MultiScaleDiscriminator


class HingeDiscriminatorSet(DiscriminatorSet):
    """One :class:`MultiScaleDiscriminator` per name (e.g. ``("A", "P")``, one per domain).

    Args:
        names: one discriminator each.
        in_channels: image channels.
        base_channels, num_scales, depth: of each discriminator.
        lr, betas: AMSGrad's (no weight decay); the learning rate stays constant.
        num_epochs, device, checkpoint_key: as :class:`DiscriminatorSet`.
    """

    lr_exponent = 0.0

    def __init__(self, names: tuple[str, ...], in_channels: int, base_channels: int, num_scales: int, depth: int,
                 lr: float, betas: tuple[float, float], num_epochs: int, device: torch.device,
                 checkpoint_key: str = "discriminators"):
        self.num_scales, self.depth, self.betas = num_scales, depth, tuple(betas)
        super().__init__(names, in_channels, 2, base_channels, lr, 0.0, num_epochs, device, checkpoint_key)

    def build_discriminator(self, in_channels: int, dim: int, base_channels: int) -> nn.Module:
        return MultiScaleDiscriminator(in_channels, base_channels, self.num_scales, self.depth, spectral=True)

    def build_optimizer(self, parameters, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(parameters, lr, betas=self.betas, weight_decay=weight_decay, amsgrad=True)

    def generator_term(self, fake_logits) -> torch.Tensor:
        return hinge_generator_loss(fake_logits)

    def discriminator_term(self, logits, real: bool) -> torch.Tensor:
        return hinge_discriminator_loss(logits, real)
