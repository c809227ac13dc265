"""Pieces both translators share: LSGAN loss, history buffer, LR schedule, DDP gradient sync,
checkpoint state."""

from __future__ import annotations

from typing import Iterable

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from nnunet_uda.errors import InputError


def lsgan_loss(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss (MixMatch paper eq. 1): mean of ``(D(x) - target)^2``, target 1 or 0."""
    prediction = prediction.float()
    target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
    return F.mse_loss(prediction, target)


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice over the foreground classes.

    Args:
        logits: ``(B, C, H, W)``.
        labels: ``(B, H, W)`` integer class map.

    Returns:
        Scalar loss; Dice keeps small structures (cochlea) from being ignored by CE.
    """
    logits = logits.float()
    labels = labels.long()
    ce = F.cross_entropy(logits, labels)
    probs = logits.softmax(1)[:, 1:]
    onehot = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    dice = (2 * inter + 1e-5) / (denom + 1e-5)
    return ce + (1 - dice).mean()


class StructureSegmenter(nn.Module):
    """Segments a translated image (shape consistency, Zhang et al. CVPR 2018; COSMOS).

    Trained with the source labels on the A->B generator's output, with its gradient
    flowing into the generator, so the structures must stay visible in the translated
    image itself, where the labels say. Dilated 3x3 convolutions (dilation 1, 2, 4, 8, 1:
    a 33 x 33 pixel field of view), instance norm, LeakyReLU; ``(B, C, H, W)`` ->
    ``(B, num_classes, H, W)`` logits.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 16):
        super().__init__()
        layers, ch = [], in_channels
        for dilation in (1, 2, 4, 8, 1):
            layers += [nn.Conv2d(ch, width, 3, padding=dilation, dilation=dilation), nn.InstanceNorm2d(width, affine=True),
                       nn.LeakyReLU(0.2, True)]
            ch = width
        layers.append(nn.Conv2d(width, num_classes, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


class ImagePool:
    """History buffer of generated images (Shrivastava et al.; CycleGAN uses 50).

    Once full, each query image is, with probability 1/2, swapped for a stored one, so
    the discriminator also sees older generator outputs. Uses its own generator so that
    resuming restores the exact sequence.
    """

    def __init__(self, size: int, seed: int):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)`` mixed with history (detached)."""
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for img in images:
            img = img[None]
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand((), generator=self.rng).item() < 0.5:
                i = int(torch.randint(0, self.size, (), generator=self.rng))
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"images": [im.cpu() for im in self.images], "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.images = [im.to(device) for im in state["images"]]
        self.rng.set_state(state["rng"])


def linear_decay(iterations: int, decay_fraction: float):
    """LR factor per iteration: 1 for the first ``(1 - decay_fraction)`` part, then linear to 0."""
    start = int(round(iterations * (1 - decay_fraction)))
    span = max(1, iterations - start)

    def factor(step: int) -> float:
        return 1.0 if step < start else max(0.0, 1.0 - (step - start) / span)

    return factor


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """CycleGAN's init: conv weights N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def set_requires_grad(modules: Iterable[nn.Module], flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


def distributed() -> bool:
    """True inside an initialised process group with more than one rank (torchrun)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """All-reduce and average gradients across ranks, in one flat buffer (what DDP does).

    Used instead of wrapping in DistributedDataParallel because GAN steps run each
    network several times per backward and freeze parts of it, which DDP's reducer
    does not allow without ``static_graph``. Every rank must pass the same parameters.
    """
    if not distributed():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
        g.copy_(synced)


def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not distributed():
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def generator_optimizers(generators: Iterable[nn.Module], segmenter: nn.Module | None, config) -> tuple:
    """``(opt_G, opt_S)``: Adam over the generators' own weights with the paper's settings, and
    a separate Adam (``config.seg_lr``, betas 0.9/0.999, constant) for the structure segmenter,
    or None without one.

    The segmenter is a plain supervised network and learns too slowly with a GAN's
    settings: on real ceT1 slices its loss after 1500 iterations was 0.89 with
    Adam 2e-4 / beta1 0.5 against 0.66 with 1e-3 / 0.9 (measured), so in a GAN run of a
    few thousand iterations it would hand the generator an untrained segmenter's gradient.
    """
    seg = list(segmenter.parameters()) if segmenter is not None else []
    seg_ids = {id(p) for p in seg}
    own = [p for g in generators for p in g.parameters() if id(p) not in seg_ids]
    opt_G = torch.optim.Adam(own, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    opt_S = torch.optim.Adam(seg, lr=config.seg_lr, betas=(0.9, 0.999)) if seg else None
    return opt_G, opt_S


class TrainingStateMixin:
    """Checkpoint state of a translator with generator/discriminator optimizers and schedulers.

    The model names its networks in ``net_names`` and has ``opt_G``, ``opt_D``,
    ``sched_G``, ``sched_D`` and ``opt_S`` (None without a structure segmenter); this is
    everything all DDP ranks share.
    """

    net_names: tuple[str, ...] = ()
    opt_S: torch.optim.Optimizer | None = None

    def _generator_opts(self) -> list[torch.optim.Optimizer]:
        """``opt_G``, and ``opt_S`` when there is a structure segmenter: what a generator step steps."""
        return [self.opt_G] + ([self.opt_S] if self.opt_S is not None else [])

    def zero_generator_grads(self) -> None:
        for opt in self._generator_opts():
            opt.zero_grad(set_to_none=True)

    def step_generators(self) -> None:
        for opt in self._generator_opts():
            opt.step()

    def _state_names(self) -> tuple[str, ...]:
        return ("opt_G", "opt_D", "sched_G", "sched_D") + (("opt_S",) if self.opt_S is not None else ())

    def training_state(self) -> dict:
        """Weights, optimizers and schedulers."""
        return {"nets": {k: getattr(self, k).state_dict() for k in self.net_names},
                **{k: getattr(self, k).state_dict() for k in self._state_names()}}

    def load_training_state(self, state: dict) -> None:
        """Restore :meth:`training_state`.

        Raises:
            InputError: a structure-preserving checkpoint written before the segmenter had its
                own optimizer (its generator optimizer holds the segmenter's weights).
        """
        if self.opt_S is not None and "opt_S" not in state:
            raise InputError("the translation checkpoint was written by an older nnunet-uda (the structure segmenter "
                             "had no optimizer of its own) and cannot be resumed; pass --overwrite to start over")
        for k, sd in state["nets"].items():
            getattr(self, k).load_state_dict(sd)
        for k in self._state_names():
            getattr(self, k).load_state_dict(state[k])
