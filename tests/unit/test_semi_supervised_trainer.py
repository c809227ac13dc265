import torch

from nnunet_uda.semi_supervised_trainer import full_resolution, split_batch


def test_full_resolution_and_split_batch():
    t = torch.arange(4.0).view(4, 1)
    ds = [torch.arange(4.0).view(4, 1), torch.zeros(4, 2)]
    assert full_resolution(t) is t and full_resolution(ds) is ds[0]
    a, b = split_batch(t, 1)
    assert a.shape == (1, 1) and b.shape == (3, 1)
    (a0, a1), (b0, b1) = split_batch(ds, 3)
    assert a0.shape == (3, 1) and a1.shape == (3, 2) and b0.tolist() == [[3.0]] and b1.shape == (1, 2)
