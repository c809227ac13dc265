"""NICE-GAN (Chen et al., CVPR 2020): the discriminators' encoders are the generators' encoders.

Discriminator of domain X (architecture of the paper, spectral norm throughout):

- encoder E_X: two stride-2 4x4 convs (ch, 2ch), then CAM attention: a linear
  classifier on ``[GAP, GMP]`` of the features gives ``cam_logit`` and its weights
  re-weight the channels, fused by a 1x1 conv and a learned residual scale ``lambda``;
  the result ``z`` (2ch channels at 1/4 resolution) is the code;
- multi-scale classifier on ``z``: a local head (70x70 receptive field) and a global
  head (286x286 with 7 layers), each an LSGAN output map.

Generator X->Y (decoder only): a 3x3 conv to 4ch, ``n_res_blocks`` residual blocks with
AdaILN whose gamma/beta come from a small MLP on the features (flattened in the full
model, pooled in the light one), two sub-pixel up-sampling blocks with ILN, a 7x7 conv
and tanh.

Decoupled training: the encoder is a part of the discriminator and is updated only by
the discriminator's (maximising) step; in the generator step it is frozen. Losses with
the official weights: ``adv * (local + global + CAM LSGAN) + cycle * L1(x, G_YX(E_Y(G_XY(E_X x))))
+ recon * L1(x, G_YX(E_X x))``. With ``preserve_structures`` the A->B decoder
carries a small segmenter of its own output (:class:`StructureSegmenter`) trained with
the source labels, so the translated image keeps the labeled structures.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from nnunet_uda.translation.config import NICEGANConfig
from nnunet_uda.translation.gan_utils import (
    StructureSegmenter,
    TrainingStateMixin,
    average_gradients,
    generator_optimizers,
    linear_decay,
    lsgan_loss,
    segmentation_loss,
    set_requires_grad,
)


def nicegan_min_size(disc_layers: int) -> int:
    """Smallest slice side the multi-scale discriminator accepts: its global head needs 3 pixels."""
    return 3 * 2 ** (disc_layers - 2)


def _sn_conv(cin: int, cout: int, stride: int, bias: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), spectral_norm(nn.Conv2d(cin, cout, 4, stride=stride, bias=bias)))


class InstanceLayerNorm(nn.Module):
    """Learned mix of instance and layer normalisation (ILN, as in U-GAT-IT / NICE-GAN).

    ``rho`` (softmax over the two) starts from the paper's values: ILN favours LN, AdaILN
    favours IN. Without ``adaptive``, gamma/beta are parameters; with it, they are given.
    """

    def __init__(self, ch: int, adaptive: bool, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        init = (3.2, 1.0) if adaptive else (1.0, 3.2)
        self.rho = nn.Parameter(torch.tensor(init).repeat(1, ch, 1))
        if not adaptive:
            self.gamma = nn.Parameter(torch.ones(1, ch, 1, 1))
            self.beta = nn.Parameter(torch.zeros(1, ch, 1, 1))

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None = None, beta: torch.Tensor | None = None) -> torch.Tensor:
        x_in = (x - x.mean((2, 3), keepdim=True)) / torch.sqrt(x.var((2, 3), keepdim=True) + self.eps)
        x_ln = (x - x.mean((1, 2, 3), keepdim=True)) / torch.sqrt(x.var((1, 2, 3), keepdim=True) + self.eps)
        rho = self.rho.softmax(2)
        out = rho[..., 0, None, None] * x_in + rho[..., 1, None, None] * x_ln
        if gamma is None:
            return out * self.gamma + self.beta
        return out * gamma[..., None, None] + beta[..., None, None]


class AdaILNBlock(nn.Module):
    """Residual block with AdaILN after each 3x3 conv."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=False))
        self.norm1 = InstanceLayerNorm(ch, adaptive=True)
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=False))
        self.norm2 = InstanceLayerNorm(ch, adaptive=True)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x), gamma, beta))
        return x + self.norm2(self.conv2(out), gamma, beta)


class NiceDiscriminator(nn.Module):
    """Encoder + CAM + multi-scale classifier. ``encode`` gives the code reused by the generators."""

    def __init__(self, in_ch: int, ch: int = 64, n_layers: int = 7):
        super().__init__()
        if n_layers < 6:
            raise ValueError("NICE-GAN discriminator needs at least 6 layers")
        self.encoder = nn.Sequential(
            _sn_conv(in_ch, ch, 2), nn.LeakyReLU(0.2, True), _sn_conv(ch, ch * 2, 2), nn.LeakyReLU(0.2, True)
        )
        self.cam_fc = spectral_norm(nn.Linear(ch * 4, 1, bias=False))
        self.cam_fuse = nn.Conv2d(ch * 4, ch * 2, 1)
        self.lamda = nn.Parameter(torch.zeros(1))
        local = []
        for i in range(2, n_layers - 4):
            m = 2 ** (i - 1)
            local += [_sn_conv(ch * m, ch * m * 2, 2), nn.LeakyReLU(0.2, True)]
        m = 2 ** (n_layers - 5)
        self.local_body = nn.Sequential(*local)
        self.local_head = nn.Sequential(
            _sn_conv(ch * m, ch * m * 2, 1), nn.LeakyReLU(0.2, True), nn.ReflectionPad2d(1),
            spectral_norm(nn.Conv2d(ch * m * 2, 1, 4, bias=False)),
        )
        glob = []
        for i in range(n_layers - 4, n_layers - 2):
            m = 2 ** (i - 1)
            glob += [_sn_conv(ch * m, ch * m * 2, 2), nn.LeakyReLU(0.2, True)]
        m = 2 ** (n_layers - 3)
        self.global_body = nn.Sequential(*glob)
        self.global_head = nn.Sequential(
            _sn_conv(ch * m, ch * m * 2, 1), nn.LeakyReLU(0.2, True), nn.ReflectionPad2d(1),
            spectral_norm(nn.Conv2d(ch * m * 2, 1, 4, bias=False)),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W)`` -> code ``z`` ``(B, 2ch, H/4, W/4)`` and CAM logit ``(B, 1)``."""
        x0 = self.encoder(x)
        pooled = torch.cat([F.adaptive_avg_pool2d(x0, 1), F.adaptive_max_pool2d(x0, 1)], 1).flatten(1)
        cam_logit = self.cam_fc(pooled)
        weighted = torch.cat([x0, x0], 1) * self.cam_fc.weight[0][None, :, None, None]
        z = F.leaky_relu(self.lamda * self.cam_fuse(weighted) + x0, 0.2)
        return z, cam_logit

    def classify(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Local and global LSGAN output maps of a code."""
        h = self.local_body(z)
        return self.local_head(h), self.global_head(self.global_body(h))

    def forward(self, x: torch.Tensor):
        """``(local, global, cam_logit, z)``."""
        z, cam = self.encode(x)
        local, glob = self.classify(z)
        return local, glob, cam, z


class NiceDecoder(nn.Module):
    """The generator: code ``(B, 2ch, S/4, S/4)`` -> image ``(B, C, S, S)`` in [-1, 1]."""

    def __init__(self, out_ch: int, ch: int = 64, n_blocks: int = 6, image_size: int = 256, light: bool = False, num_classes: int = 0):
        super().__init__()
        width = ch * 4
        self.light = light
        self.stem = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch * 2, width, 3), InstanceLayerNorm(width, False), nn.ReLU(True))
        fc_in = width if light else (image_size // 4) ** 2 * width
        self.mlp = nn.Sequential(nn.Linear(fc_in, width, bias=False), nn.ReLU(True), nn.Linear(width, width, bias=False), nn.ReLU(True))
        self.gamma = nn.Linear(width, width, bias=False)
        self.beta = nn.Linear(width, width, bias=False)
        self.blocks = nn.ModuleList(AdaILNBlock(width) for _ in range(n_blocks))
        up = []
        for m in (4, 2):
            c_out = ch * m // 2
            up += [
                nn.ReflectionPad2d(1), nn.Conv2d(ch * m, c_out, 3, bias=False), InstanceLayerNorm(c_out, False), nn.ReLU(True),
                nn.Conv2d(c_out, c_out * 4, 1), nn.PixelShuffle(2), InstanceLayerNorm(c_out, False), nn.ReLU(True),
            ]
        self.up = nn.Sequential(*up)
        self.to_image = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ch, out_ch, 7, bias=False), nn.Tanh())
        self.seg_head = StructureSegmenter(out_ch, num_classes) if num_classes else None

    def forward(self, z: torch.Tensor, return_seg: bool = False):
        x = self.stem(z)
        stats = F.adaptive_avg_pool2d(x, 1).flatten(1) if self.light else x.flatten(1)
        h = self.mlp(stats)
        gamma, beta = self.gamma(h), self.beta(h)
        for block in self.blocks:
            x = block(x, gamma, beta)
        f = self.up(x)
        img = self.to_image(f)
        if return_seg:
            return img, self.seg_head(img)
        return img


class NICEGAN(TrainingStateMixin, nn.Module):
    """Two discriminators (with encoders), two decoders, optimizers and schedulers."""

    net_names = ("dis_A", "dis_B", "gen_AB", "gen_BA")

    def __init__(self, config: NICEGANConfig, device: torch.device | str = "cpu"):
        super().__init__()
        self.config = c = config
        self.device = torch.device(device)
        size = c.slices.image_size
        seg = c.num_classes if c.preserve_structures else 0
        self.dis_A = NiceDiscriminator(c.in_channels, c.base_channels, c.disc_layers)
        self.dis_B = NiceDiscriminator(c.in_channels, c.base_channels, c.disc_layers)
        self.gen_AB = NiceDecoder(c.in_channels, c.base_channels, c.n_res_blocks, size, c.light, num_classes=seg)
        self.gen_BA = NiceDecoder(c.in_channels, c.base_channels, c.n_res_blocks, size, c.light)
        self.to(self.device)
        if self.device.type == "cuda":
            self.to(memory_format=torch.channels_last)
        self.opt_G, self.opt_S = generator_optimizers((self.gen_AB, self.gen_BA), self.gen_AB.seg_head, c)
        self.opt_D = torch.optim.Adam(
            itertools.chain(self.dis_A.parameters(), self.dis_B.parameters()), lr=c.lr, betas=c.betas, weight_decay=c.weight_decay
        )
        decay = linear_decay(c.iterations, c.decay_fraction)
        self.sched_G = torch.optim.lr_scheduler.LambdaLR(self.opt_G, decay)
        self.sched_D = torch.optim.lr_scheduler.LambdaLR(self.opt_D, decay)

    @property
    def generators(self) -> list[nn.Module]:
        """The translation path: encoders (inside the discriminators) and decoders."""
        return [self.dis_A, self.dis_B, self.gen_AB, self.gen_BA]

    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """A -> B: decoder B on encoder A's code."""
        return self.gen_AB(self.dis_A.encode(x)[0])

    def translate_back(self, x: torch.Tensor) -> torch.Tensor:
        """B -> A."""
        return self.gen_BA(self.dis_B.encode(x)[0])

    @staticmethod
    def _adv(outputs, real: bool) -> torch.Tensor:
        local, glob, cam = outputs[:3]
        return lsgan_loss(local, real) + lsgan_loss(glob, real) + lsgan_loss(cam, real)

    def train_step(self, real_A: torch.Tensor, real_B: torch.Tensor, label_A: torch.Tensor | None, autocast) -> dict[str, float]:
        """Discriminator (and encoder) step, then decoder step with the encoders frozen."""
        c = self.config
        set_requires_grad([self.dis_A, self.dis_B], True)
        self.opt_D.zero_grad(set_to_none=True)
        with autocast():
            out_A, out_B = self.dis_A(real_A), self.dis_B(real_B)
            with torch.no_grad():
                fake_B = self.gen_AB(out_A[3].detach())
                fake_A = self.gen_BA(out_B[3].detach())
            d_A = c.adv_weight * (self._adv(out_A, True) + self._adv(self.dis_A(fake_A), False))
            d_B = c.adv_weight * (self._adv(out_B, True) + self._adv(self.dis_B(fake_B), False))
        (d_A + d_B).backward()
        average_gradients(itertools.chain(self.dis_A.parameters(), self.dis_B.parameters()))
        self.opt_D.step()

        set_requires_grad([self.dis_A, self.dis_B], False)
        self.zero_generator_grads()
        with autocast():
            with torch.no_grad():
                z_A, z_B = self.dis_A.encode(real_A)[0], self.dis_B.encode(real_B)[0]
            if c.preserve_structures:
                fake_B, seg_logits = self.gen_AB(z_A, return_seg=True)
            else:
                fake_B, seg_logits = self.gen_AB(z_A), None
            fake_A = self.gen_BA(z_B)
            fake_out_A, fake_out_B = self.dis_A(fake_A), self.dis_B(fake_B)
            rec_A = self.gen_BA(fake_out_B[3])
            rec_B = self.gen_AB(fake_out_A[3])
            adv = c.adv_weight * (self._adv(fake_out_A, True) + self._adv(fake_out_B, True))
            cycle = F.l1_loss(rec_A.float(), real_A.float()) + F.l1_loss(rec_B.float(), real_B.float())
            recon = F.l1_loss(self.gen_BA(z_A).float(), real_A.float()) + F.l1_loss(self.gen_AB(z_B).float(), real_B.float())
            total = adv + c.cycle_weight * cycle + c.recon_weight * recon
            losses = {"adv_G": adv, "cycle": cycle, "recon": recon}
            if seg_logits is not None:
                seg = segmentation_loss(seg_logits, label_A)
                losses["seg"] = seg
                total = total + c.lambda_seg * seg
        total.backward()
        average_gradients(itertools.chain(self.gen_AB.parameters(), self.gen_BA.parameters()))
        self.step_generators()
        set_requires_grad([self.dis_A, self.dis_B], True)
        self.sched_G.step()
        self.sched_D.step()
        losses.update(D_A=d_A, D_B=d_B)
        return {k: float(v.detach()) for k, v in losses.items()}

    def rank_state(self) -> dict:
        return {}

    def load_rank_state(self, state: dict) -> None:
        return None

    def inference_state(self) -> dict:
        """Synthesis needs the encoders, so the discriminators are kept whole (small)."""
        return {k: getattr(self, k).state_dict() for k in ("dis_A", "dis_B", "gen_AB", "gen_BA")}

    def load_inference_state(self, state: dict) -> None:
        for k, sd in state.items():
            getattr(self, k).load_state_dict(sd)

