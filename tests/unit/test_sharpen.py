import math

import pytest
import torch

from nnunet_uda.sharpen import sharpen


def test_two_classes_is_eq4():
    p = torch.tensor([0.8, 0.2]).view(1, 2, 1, 1)
    out = sharpen(p, 0.5)
    assert torch.allclose(out.flatten(), torch.tensor([0.64 / 0.68, 0.04 / 0.68]))


def test_multi_class_known_values_3d():
    p = torch.tensor([0.5, 0.3, 0.2]).view(1, 3, 1, 1, 1).repeat(2, 1, 2, 3, 4)
    out = sharpen(p, 0.5)
    expected = torch.tensor([0.25, 0.09, 0.04]) / 0.38
    assert out.shape == p.shape
    assert torch.allclose(out[1, :, 1, 2, 3], expected)
    assert torch.allclose(out.sum(1), torch.ones(2, 2, 3, 4))


def test_temperature_one_is_identity_and_zero_probabilities_stay_finite():
    p = torch.softmax(torch.randn(2, 4, 5, 6), 1)
    assert torch.allclose(sharpen(p, 1.0), p, atol=1e-6)
    hard = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    out = sharpen(hard, 0.1)
    assert torch.isfinite(out).all() and math.isclose(out[0, 0, 0, 0].item(), 1.0)


def test_gradient_flows():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    sharpen(torch.softmax(logits, 1), 0.5)[:, 0].sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


@pytest.mark.parametrize("t", [0.0, -1.0])
def test_bad_temperature(t):
    with pytest.raises(ValueError, match="temperature"):
        sharpen(torch.ones(1, 2, 3), t)


def test_bad_shape():
    with pytest.raises(ValueError, match="spatial"):
        sharpen(torch.ones(2, 3), 0.5)
