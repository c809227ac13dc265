import pytest
import torch

from nnunet_uda.perturb import perturb_intensity


def test_two_views_differ_and_keep_shape_3d():
    x = torch.randn(2, 1, 4, 6, 6)
    a, b = perturb_intensity(x), perturb_intensity(x)
    assert a.shape == x.shape and not torch.equal(a, b) and not torch.equal(a, x)


def test_zero_perturbation_is_identity_2d():
    x = torch.randn(2, 3, 5, 5)
    assert torch.equal(perturb_intensity(x, noise_std=0, scale_range=(1, 1), shift_std=0), x)


def test_noise_level():
    torch.manual_seed(0)
    x = torch.zeros(4, 1, 32, 32, 32)
    out = perturb_intensity(x, noise_std=0.1, scale_range=(1, 1), shift_std=0)
    assert out.std().item() == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("kwargs", [dict(noise_std=-1), dict(scale_range=(1.1, 0.9)), dict(shift_std=-0.1)])
def test_bad_options(kwargs):
    with pytest.raises(ValueError):
        perturb_intensity(torch.zeros(1, 1, 2, 2), **kwargs)
    with pytest.raises(ValueError, match="spatial"):
        perturb_intensity(torch.zeros(2, 2))
