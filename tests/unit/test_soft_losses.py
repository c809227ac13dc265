import math

import pytest
import torch

from nnunet_uda.soft_losses import soft_cross_entropy, soft_dice_loss, softmax_mse


def test_soft_dice_known_values():
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 2, 1)  # voxel 0 class 0, voxel 1 class 1
    q = torch.tensor([[0.5, 0.5], [0.0, 1.0]]).T.reshape(1, 2, 2, 1)  # voxel 0 half/half, voxel 1 class 1
    # class 0: 2*0.5/(1+0.5) = 2/3; class 1: 2*1/(1+1.5) = 0.8
    assert soft_dice_loss(p, q, smooth=0).item() == pytest.approx(1 - (2 / 3 + 0.8) / 2, abs=1e-6)
    assert soft_dice_loss(p, q, smooth=0, do_bg=False).item() == pytest.approx(0.2, abs=1e-6)


def test_soft_dice_identical_one_hot_is_zero_3d_and_batch_dice():
    seg = torch.randint(0, 3, (2, 4, 5, 6))
    oh = torch.movedim(torch.nn.functional.one_hot(seg, 3), -1, 1).float()
    assert soft_dice_loss(oh, oh).item() == pytest.approx(0, abs=1e-6)
    assert soft_dice_loss(oh, oh, batch_dice=True).item() == pytest.approx(0, abs=1e-6)


def test_soft_dice_gradient_reaches_both_arguments():
    a = torch.randn(2, 3, 4, 4, requires_grad=True)
    b = torch.randn(2, 3, 4, 4, requires_grad=True)
    soft_dice_loss(torch.softmax(a, 1), torch.softmax(b, 1)).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


def test_soft_cross_entropy_known_values():
    logits = torch.log(torch.tensor([0.5, 0.25, 0.25])).view(1, 3, 1, 1, 1)
    target = torch.tensor([0.5, 0.5, 0.0]).view(1, 3, 1, 1, 1)
    assert soft_cross_entropy(logits, target).item() == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(4))


def test_soft_cross_entropy_matches_torch_for_one_hot():
    logits = torch.randn(2, 3, 5, 5)
    seg = torch.randint(0, 3, (2, 5, 5))
    oh = torch.movedim(torch.nn.functional.one_hot(seg, 3), -1, 1).float()
    assert soft_cross_entropy(logits, oh).item() == pytest.approx(torch.nn.functional.cross_entropy(logits, seg).item(), rel=1e-5)


def test_softmax_mse_known_values_and_gradient():
    logits = torch.zeros(1, 2, 1, 1, requires_grad=True)  # softmax 0.5/0.5
    target = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    loss = softmax_mse(logits, target)
    assert loss.item() == pytest.approx(0.25)
    loss.backward()
    assert logits.grad[0, 0, 0, 0] < 0 < logits.grad[0, 1, 0, 0]


@pytest.mark.parametrize("fn", [soft_dice_loss, soft_cross_entropy, softmax_mse])
def test_bad_shapes(fn):
    with pytest.raises(ValueError, match="same shape"):
        fn(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3, 3))
    with pytest.raises(ValueError, match="spatial"):
        fn(torch.zeros(2, 3), torch.zeros(2, 3))


def test_soft_dice_do_bg_needs_two_channels():
    with pytest.raises(ValueError, match="2 channels"):
        soft_dice_loss(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), do_bg=False)
