"""The networks of "Towards annotation-efficient segmentation via image-to-image translation"
(Vorontsov et al.; ``../shared/papers/translation-segmentation-presence-absence.txt``), built
from nnU-Net's plans.

:class:`PresenceAbsenceNetwork` (the proposed method, §III-B): one encoder ``f`` whose
bottleneck splits into a common code ``c`` (3/4 of the channels: 384 of 512 at the paper's
width) and a unique code ``u`` (1/4: 128), a common decoder ``g_com`` and a residual decoder
``g_res`` whose layers the segmentation ``g_seg`` shares, with its own normalization
parameters and a 1x1 classification layer instead of the last layer (eq. 4).
:class:`AutoencodingSegmentationNetwork` is the "AE baseline" (§IV-A): one encoder, a
segmentation decoder with long skips and a reconstruction decoder without them.

Both are called like nnU-Net's networks by nnU-Net (``network(x)`` -> segmentation logits
``(B, classes, H, W)``, in training and in eval mode, without deep supervision), so stock
``nnUNetv2_predict`` uses the segmentation head. ``network(presence, absence)`` runs the whole
training forward pass of the method and returns a dict of tensors: one call through nnU-Net's
DDP wrapper, so gradients are averaged over ranks as for any nnU-Net network.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from nnunet_uda.presence_absence_blocks import Decoder, Encoder, Encoding


def split_code_channels(channels: int) -> tuple[int, int]:
    """``(common, unique)`` channels of a bottleneck in the paper's 3:1 ratio (512 -> 384, 128).

    Raises:
        ValueError: fewer than 2 channels.
    """
    if channels < 2:
        raise ValueError(f"a bottleneck of {channels} channel(s) cannot be split into common and unique codes")
    unique = max(1, round(channels / 4))
    return channels - unique, unique


def residual_kernel(kernel) -> list[int]:
    """Table I's residual decoder uses "slightly larger" kernels: 5 where the others use 3
    (+2 on every axis of size > 1)."""
    kernel = [kernel, kernel] if isinstance(kernel, int) else list(kernel)
    return [k + 2 if k > 1 else k for k in kernel]


class PresenceAbsenceNetwork(nn.Module):
    """Encoder ``f``, common decoder ``g_com``, residual / segmentation decoder ``g_res`` / ``g_seg``.

    Args:
        in_channels: image channels.
        num_classes: segmentation outputs (nnU-Net's segmentation heads).
        features, strides, kernels: per level, from nnU-Net's plans.
        spectral: spectral normalization of every convolution (§III-B, as [35]).
    """

    def __init__(self, in_channels: int, num_classes: int, features: list[int], strides, kernels,
                 spectral: bool = True):
        super().__init__()
        self.common_channels, self.unique_channels = split_code_channels(features[-1])
        self.encoder = Encoder(in_channels, features, strides, kernels, spectral)
        self.common_decoder = Decoder(self.common_channels, features, kernels, {"image": (in_channels, kernels[0])},
                                      long_skips=True, short_skips=True, spectral=spectral)
        wide = [residual_kernel(k) for k in kernels]
        self.residual_decoder = Decoder(features[-1], features, wide,
                                        {"residual": (in_channels, wide[0]), "segmentation": (num_classes, 1)},
                                        long_skips=True, short_skips=False, spectral=spectral)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Encoding]:
        """Eq. 1: ``(c, u, encoding)``; ``c`` after the encoder's final ReLU, ``u`` without it."""
        e = self.encoder(x)
        return torch.relu(e.bottleneck[:, :self.common_channels]), e.bottleneck[:, self.common_channels:], e

    def common(self, c: torch.Tensor, e: Encoding) -> torch.Tensor:
        """Eq. 2: ``g_com(c)``, an image of the absence domain."""
        return self.common_decoder(c, e.features, "image")

    def residual(self, c: torch.Tensor, u: torch.Tensor, e: Encoding) -> torch.Tensor:
        """Eq. 3: ``g_res(c, u)``, the residual change that adds the target structure."""
        return self.residual_decoder(torch.cat((c, u), 1), e.features, "residual")

    def segment(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 4: ``g_seg(c, u)`` of ``x``, logits ``(B, num_classes, H, W)``."""
        c, u, e = self.encode(x)
        return self.residual_decoder(torch.cat((c, u), 1), e.features, "segmentation")

    def translate(self, presence: torch.Tensor, absence: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eqs. 1-5 and the re-encodings of eq. 9 for a batch of each domain.

        Returns ``x_pa`` (presence made healthy), ``delta_pa``, ``x_pp`` (its reconstruction),
        ``x_aa``, ``u`` (the prior sample), ``delta_ap``, ``x_ap`` (absence with a structure
        added), ``x_apa`` (the cycle), the codes ``c_p, u_p, c_a`` and the codes of the made
        images ``c_ap, u_ap, c_pa, c_aa, c_pp, u_pp``, and ``segmentation`` (logits of
        ``presence``).
        """
        c_p, u_p, e_p = self.encode(presence)
        c_a, _, e_a = self.encode(absence)
        x_pa = self.common(c_p, e_p)
        delta_pa = self.residual(c_p, u_p, e_p)
        x_pp = x_pa + delta_pa
        x_aa = self.common(c_a, e_a)
        u = torch.randn(absence.shape[0], self.unique_channels, *c_a.shape[2:], device=c_a.device, dtype=c_a.dtype)
        delta_ap = self.residual(c_a, u, e_a)
        x_ap = x_aa + delta_ap
        c_ap, u_ap, e_ap = self.encode(x_ap)
        out = {"x_pa": x_pa, "delta_pa": delta_pa, "x_pp": x_pp, "x_aa": x_aa, "u": u, "delta_ap": delta_ap,
               "x_ap": x_ap, "x_apa": self.common(c_ap, e_ap), "c_p": c_p, "u_p": u_p, "c_a": c_a,
               "c_ap": c_ap, "u_ap": u_ap}
        out["c_pa"] = self.encode(x_pa)[0]
        out["c_aa"] = self.encode(x_aa)[0]
        out["c_pp"], out["u_pp"], _ = self.encode(x_pp)
        out["segmentation"] = self.residual_decoder(torch.cat((c_p, u_p), 1), e_p.features, "segmentation")
        return out

    def forward(self, x: torch.Tensor, absence: torch.Tensor | None = None):
        """``network(x)``: segmentation logits (nnU-Net's call); ``network(presence, absence)``:
        :meth:`translate`."""
        return self.segment(x) if absence is None else self.translate(x, absence)


class AutoencodingSegmentationNetwork(nn.Module):
    """The AE baseline (§IV-A): encoder, segmentation decoder with long skips, reconstruction
    decoder without them ("long skip connections make autoencoding trivial", §III-C); both
    decoders are Table I's decoder.

    Args:
        as :class:`PresenceAbsenceNetwork`; no spectral normalization by default (the AE has
        no adversarial objective).
    """

    def __init__(self, in_channels: int, num_classes: int, features: list[int], strides, kernels,
                 spectral: bool = False):
        super().__init__()
        self.encoder = Encoder(in_channels, features, strides, kernels, spectral)
        self.segmentation_decoder = Decoder(features[-1], features, kernels, {"segmentation": (num_classes, 1)},
                                            long_skips=True, short_skips=True, spectral=spectral)
        self.reconstruction_decoder = Decoder(features[-1], features, kernels, {"image": (in_channels, kernels[0])},
                                              long_skips=False, short_skips=True, spectral=spectral)

    def encode(self, x: torch.Tensor) -> Encoding:
        e = self.encoder(x)
        return Encoding(torch.relu(e.bottleneck), e.features)

    def segment(self, x: torch.Tensor) -> torch.Tensor:
        e = self.encode(x)
        return self.segmentation_decoder(e.bottleneck, e.features, "segmentation")

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        e = self.encode(x)
        return self.reconstruction_decoder(e.bottleneck, e.features, "image")

    def autoencode(self, presence: torch.Tensor, absence: torch.Tensor) -> dict[str, torch.Tensor]:
        """``segmentation`` (logits of ``presence``), ``x_pp`` and ``x_aa`` (reconstructions)."""
        e_p, e_a = self.encode(presence), self.encode(absence)
        return {"segmentation": self.segmentation_decoder(e_p.bottleneck, e_p.features, "segmentation"),
                "x_pp": self.reconstruction_decoder(e_p.bottleneck, e_p.features, "image"),
                "x_aa": self.reconstruction_decoder(e_a.bottleneck, e_a.features, "image")}

    def forward(self, x: torch.Tensor, absence: torch.Tensor | None = None):
        """``network(x)``: segmentation logits; ``network(presence, absence)``: :meth:`autoencode`."""
        return self.segment(x) if absence is None else self.autoencode(x, absence)


def network_from_plans(configuration_manager, in_channels: int, num_classes: int, width: float = 1.0,
                       spectral: bool = True, autoencoding: bool = False) -> nn.Module:
    """The network for an nnU-Net 2d configuration: its stages, features per stage (times
    ``width``), strides and kernel sizes.

    Raises:
        ValueError: not a 2D configuration, a first stage that downsamples, or ``width <= 0``.
    """
    kwargs = configuration_manager.network_arch_init_kwargs
    strides, kernels = copy.deepcopy(kwargs["strides"]), copy.deepcopy(kwargs["kernel_sizes"])
    patch = configuration_manager.patch_size
    if len(patch) != 2:
        raise ValueError(f"the presence/absence networks are 2D: use nnU-Net's 2d configuration (patch size {patch})")
    if any(s != 1 for s in ([strides[0]] * 2 if isinstance(strides[0], int) else strides[0])):
        raise ValueError(f"the first stage must not downsample, got stride {strides[0]}")
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    features = [max(4, int(round(f * width))) for f in kwargs["features_per_stage"]]
    cls = AutoencodingSegmentationNetwork if autoencoding else PresenceAbsenceNetwork
    return cls(in_channels, num_classes, features, strides, kernels, spectral)
