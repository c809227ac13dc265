import pytest
import torch

from nnunet_uda.discriminator import FCNDiscriminator


@pytest.mark.parametrize("dim,shape", [(3, (2, 3, 24, 48, 48)), (3, (1, 3, 5, 7, 9)), (3, (1, 3, 1, 1, 1)),
                                       (2, (2, 3, 64, 64)), (2, (1, 3, 13, 1))])
def test_output_has_input_size(dim, shape):
    d = FCNDiscriminator(3, dim=dim, base_channels=4)
    assert d(torch.rand(shape)).shape == (shape[0], 1, *shape[2:])


def test_architecture_three_down_three_up_relu():
    d = FCNDiscriminator(2, dim=3, base_channels=8)
    assert [m.stride for m in d.down] == [(2, 2, 2)] * 3 and [m.out_channels for m in d.down] == [8, 16, 32]
    assert [m.stride for m in d.up] == [(2, 2, 2)] * 3 and [m.out_channels for m in d.up] == [16, 8, 1]
    relus = []
    d.relu.register_forward_hook(lambda *a: relus.append(1))
    d(torch.rand(1, 2, 8, 8, 8))
    assert len(relus) == 5  # after every layer except the logit layer


def test_gradients_reach_input_and_weights():
    d = FCNDiscriminator(3, dim=2, base_channels=4)
    x = torch.softmax(torch.randn(2, 3, 16, 16), 1).requires_grad_()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(d(x), torch.ones(2, 1, 16, 16))
    loss.backward()
    assert x.grad.abs().sum() > 0 and all(p.grad is not None for p in d.parameters())


def test_bad_input():
    with pytest.raises(ValueError, match="dim"):
        FCNDiscriminator(3, dim=1)
    with pytest.raises(ValueError, match=">= 1"):
        FCNDiscriminator(0)
    d = FCNDiscriminator(3, dim=3, base_channels=4)
    with pytest.raises(ValueError, match="expected"):
        d(torch.rand(1, 2, 4, 4, 4))
    with pytest.raises(ValueError, match="expected"):
        d(torch.rand(1, 3, 4, 4))
