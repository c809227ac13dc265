"""The presence/absence networks: code split, task-specific normalization, compressed long skips,
spectral normalization, the forward nnU-Net calls, and building from nnU-Net's plans."""

from types import SimpleNamespace

import pytest
import torch
from torch.nn.utils import parametrize

from nnunet_uda.compressed_skip import CompressedSkip
from nnunet_uda.padded_conv import PaddedConv2d
from nnunet_uda.presence_absence_net import (AutoencodingSegmentationNetwork, PresenceAbsenceNetwork,
                                             network_from_plans, residual_kernel, split_code_channels)
from nnunet_uda.task_norm import TaskNorm

FEATURES, STRIDES, KERNELS = [8, 16, 32, 64], [[1, 1], [2, 2], [2, 2], [2, 2]], [[3, 3]] * 4


def make_net(spectral: bool = True, classes: int = 3) -> PresenceAbsenceNetwork:
    torch.manual_seed(0)
    return PresenceAbsenceNetwork(1, classes, FEATURES, STRIDES, KERNELS, spectral)


def test_code_split_is_three_to_one():
    assert split_code_channels(512) == (384, 128)
    assert split_code_channels(64) == (48, 16)
    assert split_code_channels(2) == (1, 1)
    with pytest.raises(ValueError, match="cannot be split"):
        split_code_channels(1)


def test_translation_outputs_and_code_shapes():
    net = make_net()
    presence, absence = torch.randn(3, 1, 40, 40), torch.randn(2, 1, 40, 40)
    out = net(presence, absence)
    for name in ("x_pa", "delta_pa", "x_pp", "x_apa"):
        assert out[name].shape == (3 if name != "x_apa" else 2, 1, 40, 40), name
    for name in ("x_aa", "delta_ap", "x_ap"):
        assert out[name].shape == (2, 1, 40, 40), name
    assert out["c_p"].shape == (3, 48, 5, 5) and out["u_p"].shape == (3, 16, 5, 5)
    assert out["c_a"].shape == out["c_ap"].shape == out["c_aa"].shape == (2, 48, 5, 5)
    assert out["u"].shape == out["u_ap"].shape == (2, 16, 5, 5)
    assert out["segmentation"].shape == (3, 3, 40, 40)
    torch.testing.assert_close(out["x_pp"], out["x_pa"] + out["delta_pa"])  # eq. 3
    torch.testing.assert_close(out["x_ap"], out["x_aa"] + out["delta_ap"])  # eq. 5
    assert out["c_p"].min() >= 0 and out["u_p"].min() < 0  # the unique code can match N(0, I)


def test_nnunet_call_returns_segmentation_logits_in_train_and_eval_mode():
    net = make_net()
    x = torch.randn(2, 1, 40, 40)
    assert net(x).shape == (2, 3, 40, 40)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), net.segment(x))
    ae = AutoencodingSegmentationNetwork(1, 3, FEATURES, STRIDES, KERNELS).eval()
    assert ae(x).shape == (2, 3, 40, 40)
    assert set(ae(x, x)) == {"segmentation", "x_pp", "x_aa"}


def test_residual_and_segmentation_norms_are_separate_parameters():
    net = make_net().eval()
    x = torch.randn(2, 1, 40, 40)
    c, u, e = net.encode(x)
    with torch.no_grad():
        residual, segmentation = net.residual(c, u, e), net.segment(x)
        for module in net.residual_decoder.modules():
            if isinstance(module, TaskNorm):
                module.norms["segmentation"].weight.mul_(3.0).add_(0.5)
                module.norms["segmentation"].bias.add_(1.0)
        torch.testing.assert_close(net.residual(c, u, e), residual)  # unchanged
        assert not torch.allclose(net.segment(x), segmentation)
    # and a segmentation loss gives no gradient to the residual task's norms (nor its head)
    net.train()
    net.segment(x).sum().backward()
    for module in net.residual_decoder.modules():
        if isinstance(module, TaskNorm):
            assert module.norms["residual"].weight.grad is None
            assert module.norms["segmentation"].weight.grad.abs().sum() > 0
    assert net.residual_decoder.heads["residual"].conv.parametrizations.weight.original.grad is None


def test_segmentation_head_is_a_1x1_classifier_and_residual_kernels_are_larger():
    net = make_net(classes=4)
    heads = net.residual_decoder.heads
    assert heads["segmentation"].conv.weight.shape == (4, 8, 1, 1)
    assert heads["residual"].conv.weight.shape == (1, 8, 5, 5)
    assert net.common_decoder.heads["image"].conv.weight.shape == (1, 8, 3, 3)
    assert residual_kernel([3, 3]) == [5, 5] and residual_kernel([1, 3]) == [1, 5]
    assert net.residual_decoder.shortcuts is None and net.common_decoder.shortcuts is not None


def test_compressed_skip_is_one_instance_normalized_map():
    skip = CompressedSkip(16)
    x = torch.randn(3, 16, 10, 12) * 5 + 2
    y = skip(x)
    assert y.shape == (3, 1, 10, 12)
    torch.testing.assert_close(y.mean((1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var((1, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    # decoders concatenate one map per skipped level 1 .. n-2 (not the first, not the bottleneck)
    net = make_net()
    assert [s.compress.conv.weight.shape[:2] for s in net.common_decoder.skips] == [(1, 32), (1, 16)]
    ae = AutoencodingSegmentationNetwork(1, 3, FEATURES, STRIDES, KERNELS)
    assert ae.reconstruction_decoder.skips is None and ae.segmentation_decoder.skips is not None


def test_spectral_norm_on_every_convolution():
    net = make_net()
    convs = [m for m in net.modules() if isinstance(m, PaddedConv2d)]
    assert len(convs) > 20 and all(parametrize.is_parametrized(m.conv, "weight") for m in convs)
    for _ in range(30):  # power iterations in training mode
        net.segment(torch.randn(1, 1, 40, 40))
    w = net.encoder.convs[1].conv.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.05)
    plain = make_net(spectral=False)
    assert not any(parametrize.is_parametrized(m.conv) for m in plain.modules() if isinstance(m, PaddedConv2d))


def test_padded_conv_keeps_or_divides_the_size_and_pads_small_maps_too():
    assert PaddedConv2d(2, 3, 3)(torch.randn(1, 2, 7, 8)).shape == (1, 3, 7, 8)
    assert PaddedConv2d(2, 3, 4, 2)(torch.randn(1, 2, 8, 9)).shape == (1, 3, 4, 5)
    assert PaddedConv2d(2, 3, 5)(torch.randn(1, 2, 2, 2)).shape == (1, 3, 2, 2)  # replication below 3 pixels


def _configuration(patch, features=(32, 64, 128, 256, 512), strides=None):
    strides = strides or [[1, 1]] + [[2, 2]] * (len(features) - 1)
    kwargs = {"features_per_stage": list(features), "strides": strides, "kernel_sizes": [[3, 3]] * len(features)}
    return SimpleNamespace(network_arch_init_kwargs=kwargs, patch_size=patch)


def test_network_follows_the_plans():
    net = network_from_plans(_configuration([64, 64]), 2, 3)
    assert isinstance(net, PresenceAbsenceNetwork)
    assert (net.common_channels, net.unique_channels) == (384, 128)
    assert net.encoder.stem.conv.weight.shape[:2] == (32, 2)
    narrow = network_from_plans(_configuration([64, 64]), 1, 2, width=0.25, autoencoding=True)
    assert isinstance(narrow, AutoencodingSegmentationNetwork)
    assert narrow.encoder.final_norm.num_features == 128
    with pytest.raises(ValueError, match="2d configuration"):
        network_from_plans(_configuration([16, 64, 64]), 1, 2)
    with pytest.raises(ValueError, match="first stage"):
        network_from_plans(_configuration([64, 64], strides=[[2, 2]] * 5), 1, 2)


def test_trainer_variants_rebuild_their_networks_from_the_plans():
    """What nnUNetv2_predict calls: the class's build_network_architecture (half width for _demo,
    a quarter for _debug, the AE network for the AE variants)."""
    from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager

    from nnunet_uda.trainers.nnUNetTrainerPresenceAbsence import (nnUNetTrainerPresenceAbsence,
                                                                  nnUNetTrainerPresenceAbsence_AE_demo,
                                                                  nnUNetTrainerPresenceAbsence_debug,
                                                                  nnUNetTrainerPresenceAbsence_demo)

    plans = _configuration([64, 64])
    cm = ConfigurationManager({"patch_size": plans.patch_size, "architecture": {
        "network_class_name": "unused", "arch_kwargs": plans.network_arch_init_kwargs, "_kw_requires_import": []}})
    expected = [(nnUNetTrainerPresenceAbsence, PresenceAbsenceNetwork, 512),
                (nnUNetTrainerPresenceAbsence_demo, PresenceAbsenceNetwork, 256),
                (nnUNetTrainerPresenceAbsence_debug, PresenceAbsenceNetwork, 128),
                (nnUNetTrainerPresenceAbsence_AE_demo, AutoencodingSegmentationNetwork, 256)]
    for trainer, network, bottleneck in expected:
        net = trainer.build_network_architecture(None, cm, 1, 3, False)
        assert isinstance(net, network) and net.encoder.final_norm.num_features == bottleneck, trainer.__name__
    assert cm.network_arch_init_kwargs["features_per_stage"][-1] == 512  # the plans are not changed
