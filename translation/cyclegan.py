"""CycleGAN (Zhu et al. 2017) for 1-channel slices; losses as eqs. 1-3 of the MixMatch paper.

Generators G: A->B and F: B->A are ResNet generators (c7s1-64, d128, d256, 9 residual
blocks, u128, u64, c7s1-1, tanh); discriminators are 70x70 PatchGANs. The generator
loss is ``L_adv (LSGAN, eqs. 1-2) + lambda_cycle * L_rec (eq. 3) + lambda_cycle *
lambda_identity * L_idt``; the discriminators see generated images through a history
buffer of 50. With ``preserve_structures`` G carries a small segmenter of its own output
(:class:`StructureSegmenter`) trained with the source labels, so the translated image
keeps the labeled structures where the labels say.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F

from nnunet_uda.translation.config import CycleGANConfig
from nnunet_uda.translation.gan_utils import (
    ImagePool,
    StructureSegmenter,
    TrainingStateMixin,
    average_gradients,
    generator_optimizers,
    init_normal,
    linear_decay,
    lsgan_loss,
    segmentation_loss,
    set_requires_grad,
)


class ResidualBlock(nn.Module):
    """Two reflection-padded 3x3 convs with instance norm, plus the identity."""

    def __init__(self, ch: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s ResNet generator; ``(B, C, H, W)`` -> ``(B, C, H, W)`` in [-1, 1].

    ``forward`` returns the image, or ``(image, seg_logits)`` with ``return_seg``.
    H and W must be multiples of 4.
    """

    def __init__(self, in_ch: int, ch: int = 64, n_blocks: int = 9, num_classes: int = 0):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ch, 7), nn.InstanceNorm2d(ch), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ch * mult, ch * mult * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(ch * mult * 2), nn.ReLU(True)]
        layers += [ResidualBlock(ch * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [
                nn.ConvTranspose2d(ch * mult, ch * mult // 2, 3, stride=2, padding=1, output_padding=1),
                nn.InstanceNorm2d(ch * mult // 2),
                nn.ReLU(True),
            ]
        self.features = nn.Sequential(*layers)
        self.to_image = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ch, in_ch, 7), nn.Tanh())
        self.seg_head = StructureSegmenter(in_ch, num_classes) if num_classes else None

    def forward(self, x: torch.Tensor, return_seg: bool = False):
        f = self.features(x)
        img = self.to_image(f)
        if return_seg:
            return img, self.seg_head(img)
        return img


class PatchDiscriminator(nn.Module):
    """PatchGAN: with 3 layers each output sees a 70x70 patch. ``(B, C, H, W)`` -> ``(B, 1, h, w)``."""

    def __init__(self, in_ch: int, ch: int = 64, n_layers: int = 3):
        super().__init__()
        layers = [nn.Conv2d(in_ch, ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ch * prev, ch * mult, 4, stride=stride, padding=1), nn.InstanceNorm2d(ch * mult), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ch * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class CycleGAN(TrainingStateMixin, nn.Module):
    """Both generators and discriminators, their optimizers, schedulers and history buffers."""

    net_names = ("G_AB", "G_BA", "D_A", "D_B")

    def __init__(self, config: CycleGANConfig, device: torch.device | str = "cpu"):
        super().__init__()
        self.config = c = config
        self.device = torch.device(device)
        seg = c.num_classes if c.preserve_structures else 0
        self.G_AB = ResnetGenerator(c.in_channels, c.base_channels, c.n_res_blocks, num_classes=seg)
        self.G_BA = ResnetGenerator(c.in_channels, c.base_channels, c.n_res_blocks)
        self.D_A = PatchDiscriminator(c.in_channels, c.disc_channels, c.disc_layers)
        self.D_B = PatchDiscriminator(c.in_channels, c.disc_channels, c.disc_layers)
        for m in (self.G_AB, self.G_BA, self.D_A, self.D_B):
            init_normal(m)
        self.to(self.device)
        if self.device.type == "cuda":
            self.to(memory_format=torch.channels_last)
        self.opt_G, self.opt_S = generator_optimizers((self.G_AB, self.G_BA), self.G_AB.seg_head, c)
        self.opt_D = torch.optim.Adam(
            itertools.chain(self.D_A.parameters(), self.D_B.parameters()), lr=c.lr, betas=c.betas, weight_decay=c.weight_decay
        )
        decay = linear_decay(c.iterations, c.decay_fraction)
        self.sched_G = torch.optim.lr_scheduler.LambdaLR(self.opt_G, decay)
        self.sched_D = torch.optim.lr_scheduler.LambdaLR(self.opt_D, decay)
        self.pool_A = ImagePool(c.pool_size, c.seed * 2 + 1)
        self.pool_B = ImagePool(c.pool_size, c.seed * 2 + 2)

    @property
    def generators(self) -> list[nn.Module]:
        return [self.G_AB, self.G_BA]

    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """A -> B."""
        return self.G_AB(x)

    def translate_back(self, x: torch.Tensor) -> torch.Tensor:
        """B -> A."""
        return self.G_BA(x)

    def train_step(self, real_A: torch.Tensor, real_B: torch.Tensor, label_A: torch.Tensor | None, autocast) -> dict[str, float]:
        """One generator step, then one discriminator step. Inputs ``(B, C, H, W)`` in [-1, 1].

        Returns:
            The loss terms, as floats (``cycle`` is L_rec of eq. 3, both directions).
        """
        c = self.config
        set_requires_grad([self.D_A, self.D_B], False)
        self.zero_generator_grads()
        with autocast():
            if c.preserve_structures:
                fake_B, seg_logits = self.G_AB(real_A, return_seg=True)
            else:
                fake_B, seg_logits = self.G_AB(real_A), None
            fake_A = self.G_BA(real_B)
            rec_A = self.G_BA(fake_B)
            rec_B = self.G_AB(fake_A)
            adv = lsgan_loss(self.D_B(fake_B), True) + lsgan_loss(self.D_A(fake_A), True)
            cycle = F.l1_loss(rec_A.float(), real_A.float()) + F.l1_loss(rec_B.float(), real_B.float())
            losses = {"adv_G": adv, "cycle": cycle}
            total = adv + c.lambda_cycle * cycle
            if c.lambda_identity > 0:
                idt = F.l1_loss(self.G_AB(real_B).float(), real_B.float()) + F.l1_loss(self.G_BA(real_A).float(), real_A.float())
                losses["identity"] = idt
                total = total + c.lambda_cycle * c.lambda_identity * idt
            if seg_logits is not None:
                seg = segmentation_loss(seg_logits, label_A)
                losses["seg"] = seg
                total = total + c.lambda_seg * seg
        total.backward()
        average_gradients(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()))
        self.step_generators()

        set_requires_grad([self.D_A, self.D_B], True)
        self.opt_D.zero_grad(set_to_none=True)
        fake_B_hist = self.pool_B.query(fake_B)
        fake_A_hist = self.pool_A.query(fake_A)
        with autocast():
            d_B = 0.5 * (lsgan_loss(self.D_B(real_B), True) + lsgan_loss(self.D_B(fake_B_hist), False))
            d_A = 0.5 * (lsgan_loss(self.D_A(real_A), True) + lsgan_loss(self.D_A(fake_A_hist), False))
        (d_A + d_B).backward()
        average_gradients(itertools.chain(self.D_A.parameters(), self.D_B.parameters()))
        self.opt_D.step()
        self.sched_G.step()
        self.sched_D.step()
        losses.update(D_A=d_A, D_B=d_B)
        return {k: float(v.detach()) for k, v in losses.items()}

    def rank_state(self) -> dict:
        """Per-rank state: the history buffers."""
        return {"pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict()}

    def load_rank_state(self, state: dict) -> None:
        self.pool_A.load_state_dict(state["pool_A"], self.device)
        self.pool_B.load_state_dict(state["pool_B"], self.device)

    def inference_state(self) -> dict:
        """What synthesis needs: both generators."""
        return {"G_AB": self.G_AB.state_dict(), "G_BA": self.G_BA.state_dict()}

    def load_inference_state(self, state: dict) -> None:
        self.G_AB.load_state_dict(state["G_AB"])
        self.G_BA.load_state_dict(state["G_BA"])
