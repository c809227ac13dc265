"""DMNet's segmentation network: one nnU-Net encoder shared by two decoders of different
architecture (DMNet §3.1).

Decoder 1 is nnU-Net's own ``UNetDecoder`` (transposed-convolution up-sampling); decoder 2
is the same decoder with interpolation up-sampling (a 1x1 convolution, then
(tri/bi)linear interpolation), so the two branches differ and can teach each other.

In training mode the network returns both branches' logits, ``(out_1, out_2)`` (each a
list, highest resolution first, with deep supervision). In eval mode it returns one
output, the logarithm of the average of the two softmax maps: ``softmax`` of it is
exactly that average (DMNet §4.2: inference averages the two branches), so nnU-Net's
validation, sliding-window prediction, probabilities and argmax work unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from dynamic_network_architectures.building_blocks.unet_decoder import UNetDecoder
from dynamic_network_architectures.initialization.weight_init import InitWeights_He
from torch import nn


class InterpolationUpsample(nn.Module):
    """1x1 convolution to the skip's channel count, then linear interpolation by ``stride``."""

    def __init__(self, conv_op: type[nn.Module], in_channels: int, out_channels: int, stride, bias: bool):
        super().__init__()
        self.proj = conv_op(in_channels, out_channels, 1, 1, 0, bias=bias)
        dim = 3 if conv_op is nn.Conv3d else 2
        stride = [stride] * dim if isinstance(stride, int) else list(stride)
        self.scale = tuple(float(s) for s in stride)
        self.mode = "trilinear" if dim == 3 else "bilinear"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.proj(x), scale_factor=self.scale, mode=self.mode, align_corners=False)


class InterpolationUNetDecoder(UNetDecoder):
    """nnU-Net's ``UNetDecoder`` with :class:`InterpolationUpsample` instead of transposed convolutions."""

    def __init__(self, encoder: nn.Module, num_classes: int, n_conv_per_stage, deep_supervision: bool,
                 nonlin_first: bool = False):
        super().__init__(encoder, num_classes, n_conv_per_stage, deep_supervision, nonlin_first=nonlin_first)
        n = len(encoder.output_channels)
        self.transpconvs = nn.ModuleList(
            InterpolationUpsample(encoder.conv_op, encoder.output_channels[-s], encoder.output_channels[-(s + 1)],
                                  encoder.strides[-s], encoder.conv_bias)
            for s in range(1, n))


def average_softmax_logits(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log((softmax(a) + softmax(b)) / 2)``: logits whose softmax is the mean of the two."""
    return torch.logsumexp(torch.stack((torch.log_softmax(a, 1), torch.log_softmax(b, 1))), 0) - math.log(2)


class DualDecoderUNet(nn.Module):
    """An nnU-Net encoder-decoder network plus a second, interpolating decoder on its encoder.

    Args:
        base: a network with ``encoder`` and ``decoder`` (nnU-Net's ``PlainConvUNet`` or
            ``ResidualEncoderUNet``); its decoder becomes branch 1.
        n_conv_per_stage_decoder: convolutions per stage of branch 2 (as in the plans).
        init: He-initialize branch 2 as nnU-Net initializes its networks.
    """

    def __init__(self, base: nn.Module, n_conv_per_stage_decoder, init: bool = True):
        super().__init__()
        self.encoder = base.encoder
        self.decoder = base.decoder
        self.decoder_interp = InterpolationUNetDecoder(
            self.encoder, self.decoder.num_classes, n_conv_per_stage_decoder, self.decoder.deep_supervision)
        if init:
            self.decoder_interp.apply(InitWeights_He(1e-2))

    def forward_both(self, x: torch.Tensor):
        """Logits of both branches, ``(out_1, out_2)``, whatever the mode.

        Branch 2 follows branch 1's ``deep_supervision`` flag, the one nnU-Net's
        ``set_deep_supervision_enabled`` switches.
        """
        self.decoder_interp.deep_supervision = self.decoder.deep_supervision
        skips = self.encoder(x)
        return self.decoder(skips), self.decoder_interp(skips)

    def forward(self, x: torch.Tensor):
        out_1, out_2 = self.forward_both(x)
        if self.training:
            return out_1, out_2
        if isinstance(out_1, (list, tuple)):
            return [average_softmax_logits(a, b) for a, b in zip(out_1, out_2)]
        return average_softmax_logits(out_1, out_2)


def build_dual_decoder_unet(configuration_manager, num_input_channels: int, num_output_channels: int,
                            deep_supervision: bool = True) -> DualDecoderUNet:
    """The DMNet network for an nnU-Net configuration: the planned architecture + branch 2.

    Deterministic in the plans, so a trainer's static ``build_network_architecture``
    rebuilds it for ``nnUNetv2_predict``.

    Args:
        configuration_manager: nnU-Net's ``ConfigurationManager`` of the configuration.
        num_input_channels, num_output_channels: as nnU-Net passes them.
        deep_supervision: return one output per decoder stage.
    """
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    kwargs = configuration_manager.network_arch_init_kwargs
    base = get_network_from_plans(configuration_manager.network_arch_class_name, kwargs,
                                  configuration_manager.network_arch_init_kwargs_req_import,
                                  num_input_channels, num_output_channels, allow_init=True,
                                  deep_supervision=deep_supervision)
    n_conv = kwargs.get("n_conv_per_stage_decoder", [len(s.convs) for s in base.decoder.stages])
    return DualDecoderUNet(base, n_conv)
