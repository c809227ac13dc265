import pytest
import torch

from nnunet_uda.soft_targets import one_hot, pool_soft_targets


def test_one_hot_from_nnunet_layout():
    seg = torch.tensor([[0, 2], [1, 0]]).view(1, 1, 2, 2).float()
    oh = one_hot(seg, 3)
    assert oh.shape == (1, 3, 2, 2) and oh.dtype == torch.float32
    assert oh[0, :, 0, 1].tolist() == [0, 0, 1] and oh[0, :, 1, 0].tolist() == [0, 1, 0]
    assert one_hot(seg[:, 0], 3).equal(oh)


def test_one_hot_rejects_ignore_label():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        one_hot(torch.tensor([[[0, 3]]]), 3)


def test_pool_averages_per_scale_3d():
    t = torch.zeros(1, 2, 2, 4, 4)
    t[:, 0] = 1
    t[:, :, :, :2, :2] = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1, 1)  # one corner block is class 1
    full, half, coarse = pool_soft_targets(t, [(2, 4, 4), (2, 2, 2), (1, 1, 1)])
    assert full is t
    assert half[0, :, 0, 0, 0].tolist() == [0.0, 1.0] and half[0, :, 0, 1, 1].tolist() == [1.0, 0.0]
    assert torch.allclose(coarse.flatten(), torch.tensor([0.75, 0.25]))
    assert torch.allclose(half.sum(1), torch.ones(1, 2, 2, 2))


def test_pool_2d_and_bad_shape():
    t = torch.softmax(torch.randn(2, 3, 8, 8), 1)
    (out,) = pool_soft_targets(t, [(4, 4)])
    assert out.shape == (2, 3, 4, 4) and torch.allclose(out[0, :, 0, 0], t[0, :, :2, :2].mean((1, 2)))
    with pytest.raises(ValueError, match="spatial axes"):
        pool_soft_targets(t, [(4, 4, 4)])
