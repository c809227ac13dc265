"""Named output-space discriminators a trainer adds beside nnU-Net's network (LE-UDA).

:class:`DiscriminatorSet` holds one :class:`~nnunet_uda.discriminator.FCNDiscriminator`
per name, one Adam optimizer with nnU-Net's poly schedule, the two binary cross-entropy
losses, and their place in nnU-Net's checkpoint (:mod:`nnunet_uda.checkpoint_extras`), so
``--c`` resumes them. Under DDP the discriminators start equal on every rank (broadcast)
and step on all-reduced gradients, so they stay equal. A subclass changes the
discriminator, its optimizer, the learning-rate exponent or the losses through the four
hooks ``build_discriminator``, ``build_optimizer``, ``generator_term`` and
``discriminator_term`` (e.g. :class:`~nnunet_uda.hinge_discriminators.HingeDiscriminatorSet`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from torch import nn

from nnunet_uda.checkpoint_extras import add_to_checkpoint, read_from_checkpoint
from nnunet_uda.discriminator import FCNDiscriminator
from nnunet_uda.distributed import average_gradients_, broadcast_module_


def bce_to(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of logits against all ones (``real``) or all zeros, averaged."""
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits.float(), float(real)))


class DiscriminatorSet:
    """Discriminators by name, their optimizer and schedule.

    The learning rate follows nnU-Net's poly schedule with exponent ``lr_exponent`` (0:
    constant).

    Args:
        names: one discriminator each.
        in_channels, dim, base_channels: of each :class:`FCNDiscriminator`.
        lr, weight_decay: Adam's; the learning rate follows nnU-Net's poly schedule over ``num_epochs``.
        device: where they live.
        checkpoint_key: their key in nnU-Net's checkpoint file.
    """

    lr_exponent = 0.9

    def __init__(self, names: tuple[str, ...], in_channels: int, dim: int, base_channels: int, lr: float,
                 weight_decay: float, num_epochs: int, device: torch.device, checkpoint_key: str = "discriminators"):
        self.modules = nn.ModuleDict({n: self.build_discriminator(in_channels, dim, base_channels)
                                      for n in names}).to(device)
        broadcast_module_(self.modules)
        self.optimizer = self.build_optimizer(self.modules.parameters(), lr, weight_decay)
        self.scheduler = PolyLRScheduler(self.optimizer, lr, num_epochs, exponent=self.lr_exponent)
        self.checkpoint_key = checkpoint_key

    def build_discriminator(self, in_channels: int, dim: int, base_channels: int) -> nn.Module:
        """One discriminator: DMNet's :class:`FCNDiscriminator`."""
        return FCNDiscriminator(in_channels, dim, base_channels)

    def build_optimizer(self, parameters, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        """The optimizer of all discriminators: Adam."""
        return torch.optim.Adam(parameters, lr, weight_decay=weight_decay)

    def generator_term(self, fake_logits) -> torch.Tensor:
        """The loss of the network that makes ``fake``, given a discriminator's logits on it: bce to 1."""
        return bce_to(fake_logits, True)

    def discriminator_term(self, logits, real: bool) -> torch.Tensor:
        """A discriminator's loss on its logits for real (``real``) or made inputs: bce to 1 or 0."""
        return bce_to(logits, real)

    def start_epoch(self, epoch: int) -> None:
        self.modules.train()
        self.scheduler.step(epoch)

    def generator_loss(self, fake: dict[str, torch.Tensor]) -> torch.Tensor:
        """``sum_name generator_term(D_name(fake[name]))`` (default ``bce(., 1)``): the term that
        trains the network that makes ``fake`` to fool each discriminator; no gradient reaches
        the discriminators' parameters."""
        self.modules.requires_grad_(False)
        try:
            return sum(self.generator_term(self.modules[n](x)) for n, x in fake.items())
        finally:
            self.modules.requires_grad_(True)

    def step(self, real: dict[str, torch.Tensor], fake: dict[str, torch.Tensor]) -> float:
        """One optimizer step of every discriminator on ``discriminator_term(D(real), True) +
        discriminator_term(D(fake), False)`` (default ``bce(D(real), 1) + bce(D(fake), 0)``;
        inputs detached); returns the summed loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = sum(self.discriminator_term(self.modules[n](real[n].detach()), True)
                   + self.discriminator_term(self.modules[n](fake[n].detach()), False) for n in real)
        loss.backward()
        average_gradients_(self.modules)
        self.optimizer.step()
        return float(loss.item())

    def save_to(self, checkpoint_file) -> None:
        add_to_checkpoint(checkpoint_file, self.checkpoint_key, {
            "weights": self.modules.state_dict(), "optimizer_state": self.optimizer.state_dict()})

    def load_from(self, filename_or_checkpoint) -> None:
        state = read_from_checkpoint(filename_or_checkpoint, self.checkpoint_key,
                                     map_location=next(self.modules.parameters()).device)
        self.modules.load_state_dict(state["weights"])
        self.optimizer.load_state_dict(state["optimizer_state"])
