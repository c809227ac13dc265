"""Hinge losses (eq. 11) on hand-computed cases, the multi-scale discriminator, and its
DiscriminatorSet (no gradient into D from the generator term, a step, the checkpoint)."""

import pytest
import torch
from torch.nn.utils import parametrize

from nnunet_uda.hinge_discriminators import HingeDiscriminatorSet
from nnunet_uda.hinge_loss import hinge_discriminator_loss, hinge_generator_loss
from nnunet_uda.multiscale_discriminator import MultiScaleDiscriminator, discriminator_depth
from nnunet_uda.padded_conv import PaddedConv2d


def test_hinge_losses_on_hand_computed_logits():
    logits = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
    # real: relu(1 - D) = 3, 1.5, 1, 0.5, 0 -> 1.2; made: relu(1 + D) = 0, 0.5, 1, 1.5, 3 -> 1.2
    assert hinge_discriminator_loss(logits, True).item() == pytest.approx(1.2)
    assert hinge_discriminator_loss(torch.tensor([1.5, 3.0]), True).item() == 0.0
    assert hinge_discriminator_loss(torch.tensor([-1.5, -3.0]), False).item() == 0.0
    assert hinge_discriminator_loss(torch.tensor([0.0, 1.0]), False).item() == pytest.approx(1.5)
    assert hinge_generator_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)
    # multi-scale: the mean over scales
    scales = [torch.full((1, 1, 4, 4), 0.5), torch.full((1, 1, 2, 2), -1.0)]
    assert hinge_discriminator_loss(scales, True).item() == pytest.approx((0.5 + 2.0) / 2)
    assert hinge_generator_loss(scales).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="no logits"):
        hinge_generator_loss([])


def test_discriminator_depth_and_scales():
    assert discriminator_depth([256, 256]) == 4
    assert discriminator_depth([48, 48]) == 2  # 12 pixels at the coarsest scale: 12 -> 6 -> 3
    assert discriminator_depth([8, 8]) == 1
    with pytest.raises(ValueError, match="num_scales"):
        discriminator_depth([64, 64], 0)
    d = MultiScaleDiscriminator(2, 4, num_scales=3, depth=2)
    outs = d(torch.randn(2, 2, 48, 40))
    assert [tuple(o.shape) for o in outs] == [(2, 1, 12, 10), (2, 1, 6, 5), (2, 1, 3, 3)]
    convs = [m for m in d.modules() if isinstance(m, PaddedConv2d)]
    assert len(convs) == 3 * 4 and all(parametrize.is_parametrized(m.conv, "weight") for m in convs)
    with pytest.raises(ValueError, match="expected"):
        d(torch.randn(2, 1, 48, 40))


def make_set():
    torch.manual_seed(0)
    return HingeDiscriminatorSet(("A", "P"), 1, 4, 2, 2, 1e-3, (0.5, 0.999), 10, torch.device("cpu"))


def test_generator_term_reaches_the_images_not_the_discriminators():
    d = make_set()
    fake = torch.randn(2, 1, 32, 32, requires_grad=True)
    d.generator_loss({"A": fake, "P": fake}).backward()
    assert fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.modules.parameters()) and all(p.requires_grad for p in d.modules.parameters())


def test_amsgrad_constant_rate_and_steps_separate_real_from_made():
    d = make_set()
    group = d.optimizer.param_groups[0]
    assert group["amsgrad"] and group["betas"] == (0.5, 0.999) and group["weight_decay"] == 0.0
    d.start_epoch(7)
    assert group["lr"] == pytest.approx(1e-3)
    real = {n: torch.ones(4, 1, 32, 32) for n in "AP"}
    made = {n: -torch.ones(4, 1, 32, 32) for n in "AP"}
    first = d.step(real, made)
    for _ in range(20):
        last = d.step(real, made)
    assert last < first


def test_checkpoint_round_trip(tmp_path):
    d = make_set()
    d.step({n: torch.rand(1, 1, 32, 32) for n in "AP"}, {n: torch.rand(1, 1, 32, 32) for n in "AP"})
    path = tmp_path / "checkpoint.pth"
    torch.save({"network_weights": {}}, path)
    d.save_to(path)
    torch.manual_seed(1)
    other = HingeDiscriminatorSet(("A", "P"), 1, 4, 2, 2, 1e-3, (0.5, 0.999), 10, torch.device("cpu"))
    other.load_from(str(path))
    for k, v in d.modules.state_dict().items():
        assert torch.equal(v, other.modules.state_dict()[k]), k
    assert other.optimizer.state_dict()["state"]
