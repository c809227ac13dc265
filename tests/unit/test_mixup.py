import pytest
import torch

from nnunet_uda.mixup import mixup, sample_mix_weight


def test_labels_mix_like_images_per_sample():
    x_a, x_b = torch.full((2, 1, 3, 3), 2.0), torch.zeros(2, 1, 3, 3)
    y_a = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1).expand(2, 2, 3, 3)
    y_b = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1).expand(2, 2, 3, 3)
    x, y = mixup(x_a, y_a, x_b, y_b, torch.tensor([0.75, 0.5]))
    assert torch.allclose(x[0], torch.full((1, 3, 3), 1.5)) and torch.allclose(x[1], torch.ones(1, 3, 3))
    assert torch.allclose(y[0, :, 0, 0], torch.tensor([0.75, 0.25])) and torch.allclose(y[1, :, 2, 2], torch.tensor([0.5, 0.5]))


def test_scalar_weight_3d_and_gradients():
    x_a = torch.randn(2, 1, 2, 3, 4, requires_grad=True)
    x_b = torch.randn(2, 1, 2, 3, 4)
    y_a, y_b = torch.softmax(torch.randn(2, 3, 2, 3, 4), 1), torch.softmax(torch.randn(2, 3, 2, 3, 4), 1)
    x, y = mixup(x_a, y_a, x_b, y_b, 0.6)
    w = torch.tensor(0.6)  # float32 as the images: 1 - w is not float32's 0.4, and near 0 the difference shows
    assert torch.allclose(x, w * x_a + (1 - w) * x_b) and torch.allclose(y.sum(1), torch.ones(2, 2, 3, 4))
    x.sum().backward()
    assert torch.allclose(x_a.grad, torch.full_like(x_a, 0.6))


def test_weights_follow_eq5_and_eq6():
    torch.manual_seed(0)
    w = sample_mix_weight(20000, gamma=0.75)
    assert w.shape == (20000,) and w.min() >= 0.5 and w.max() <= 1.0
    # Beta(0.75, 0.25) has mean 0.75, so E[max(b, 1-b)] > 0.75; Beta(a, a) is symmetric and smaller
    sym = sample_mix_weight(20000, gamma=0.75, symmetric=True)
    assert w.mean() > 0.8 > sym.mean() > 0.5


@pytest.mark.parametrize("kwargs", [dict(batch_size=0), dict(batch_size=2, gamma=1.0), dict(batch_size=2, gamma=0.0)])
def test_bad_weight_options(kwargs):
    with pytest.raises(ValueError):
        sample_mix_weight(**kwargs)


def test_bad_shapes():
    x, y = torch.zeros(2, 1, 4, 4), torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match="pairs must match"):
        mixup(x, y, torch.zeros(2, 1, 4, 5), y, 0.5)
    with pytest.raises(ValueError, match="batch or spatial"):
        mixup(x, torch.zeros(2, 3, 4, 3), x, torch.zeros(2, 3, 4, 3), 0.5)
    with pytest.raises(ValueError, match="weights for a batch"):
        mixup(x, y, x, y, torch.tensor([0.5, 0.6, 0.7]))
