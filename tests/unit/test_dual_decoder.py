import pytest
import torch
from dynamic_network_architectures.architectures.unet import PlainConvUNet
from torch import nn

from nnunet_uda.dual_decoder import DualDecoderUNet, InterpolationUpsample, average_softmax_logits


def plain_unet(dim: int, deep_supervision: bool = True) -> PlainConvUNet:
    conv, norm = (nn.Conv3d, nn.InstanceNorm3d) if dim == 3 else (nn.Conv2d, nn.InstanceNorm2d)
    strides = [1, [1, 2, 2], 2] if dim == 3 else [1, 2, 2]
    return PlainConvUNet(1, 3, [4, 8, 16], conv, 3, strides, 2, 3, 2, True, norm, {"eps": 1e-5, "affine": True},
                         None, None, nn.LeakyReLU, {"inplace": True}, deep_supervision=deep_supervision)


def test_average_softmax_logits_known_values():
    a = torch.log(torch.tensor([0.8, 0.2])).view(1, 2, 1, 1)
    b = torch.log(torch.tensor([0.2, 0.8])).view(1, 2, 1, 1) + 3.0  # logits are shift-invariant
    avg = average_softmax_logits(a, b)
    assert torch.allclose(torch.softmax(avg, 1).flatten(), torch.tensor([0.5, 0.5]))
    assert torch.allclose(torch.exp(avg).sum(1), torch.ones(1, 1, 1))


@pytest.mark.parametrize("dim,shape", [(3, (2, 1, 8, 16, 16)), (2, (2, 1, 16, 16))])
def test_train_returns_both_eval_returns_average(dim, shape):
    net = DualDecoderUNet(plain_unet(dim), 2)
    assert net.encoder is net.decoder.encoder is net.decoder_interp.encoder
    assert isinstance(net.decoder_interp.transpconvs[0], InterpolationUpsample)
    x = torch.randn(shape)
    out_1, out_2 = net(x)
    assert len(out_1) == len(out_2) == 2 and out_1[0].shape == out_2[0].shape == (2, 3, *shape[2:])
    assert not torch.allclose(out_1[0], out_2[0])
    net.eval()
    with torch.no_grad():
        avg = net(x)
        both = net.forward_both(x)
    assert torch.allclose(torch.softmax(avg[0], 1), (torch.softmax(both[0][0], 1) + torch.softmax(both[1][0], 1)) / 2,
                          atol=1e-6)
    net.decoder.deep_supervision = False  # nnU-Net's switch; branch 2 follows it
    with torch.no_grad():
        single = net(x)
    assert isinstance(single, torch.Tensor) and torch.allclose(single, avg[0], atol=1e-5)


def test_gradients_reach_shared_encoder_from_each_branch():
    net = DualDecoderUNet(plain_unet(3), 2)
    x = torch.randn(1, 1, 8, 16, 16)
    for branch in (0, 1):
        net.zero_grad()
        net(x)[branch][0].sum().backward()
        enc = next(net.encoder.parameters()).grad
        assert enc is not None and enc.abs().sum() > 0
        other = net.decoder_interp if branch == 0 else net.decoder
        assert all(p.grad is None or p.grad.abs().sum() == 0 for n, p in other.named_parameters()
                   if not n.startswith("encoder."))


def test_state_dict_round_trip():
    a, b = DualDecoderUNet(plain_unet(2), 2), DualDecoderUNet(plain_unet(2), 2)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randn(1, 1, 16, 16)
    assert torch.equal(a(x)[0], b(x)[0])
