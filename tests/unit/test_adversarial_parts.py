"""Output-space discriminators of LE-UDA: the losses on hand-computed cases, one step, the checkpoint."""

import math

import torch

from nnunet_uda.adversarial_parts import DiscriminatorSet, bce_to
from nnunet_uda.checkpoint_extras import read_from_checkpoint
from nnunet_uda.trainers.nnUNetTrainerMTUDA import multi_level_probs


def make_set(**kw):
    torch.manual_seed(0)
    return DiscriminatorSet(("intra", "inter"), 6, 2, 4, 1e-3, 0.0, 10, torch.device("cpu"), **kw)


def test_bce_to_ones_and_zeros_on_hand_computed_logits():
    assert math.isclose(bce_to(torch.zeros(2, 1, 3, 3), True).item(), math.log(2), rel_tol=1e-6)
    # logit 2: -log(sigmoid(2)) against 1, -log(1 - sigmoid(2)) against 0
    assert math.isclose(bce_to(torch.full((4,), 2.0), True).item(), math.log(1 + math.exp(-2)), rel_tol=1e-6)
    assert math.isclose(bce_to(torch.full((4,), 2.0), False).item(), math.log(1 + math.exp(2)), rel_tol=1e-6)


def test_generator_loss_gives_no_gradient_to_the_discriminators():
    d = make_set()
    fake = torch.rand(2, 6, 16, 16, requires_grad=True)
    d.generator_loss({"intra": fake, "inter": fake}).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.modules.parameters())
    assert all(p.requires_grad for p in d.modules.parameters())


def test_steps_separate_real_from_fake():
    d = make_set()
    real = {n: torch.zeros(4, 6, 16, 16).index_fill_(1, torch.tensor([0]), 1.0) for n in ("intra", "inter")}
    fake = {n: torch.full((4, 6, 16, 16), 1 / 6) for n in ("intra", "inter")}
    first = d.step(real, fake)
    for _ in range(30):
        last = d.step(real, fake)
    assert last < first


def test_save_and_load_round_trip_through_a_checkpoint_file(tmp_path):
    d = make_set()
    d.step({"intra": torch.rand(1, 6, 8, 8), "inter": torch.rand(1, 6, 8, 8)},
           {"intra": torch.rand(1, 6, 8, 8), "inter": torch.rand(1, 6, 8, 8)})
    path = tmp_path / "checkpoint.pth"
    torch.save({"network_weights": {}}, path)
    d.save_to(path)
    other = make_set()
    other.modules.apply(lambda m: [p.data.zero_() for p in m.parameters(recurse=False)])
    other.load_from(path)
    for a, b in zip(d.modules.state_dict().values(), other.modules.state_dict().values()):
        assert torch.equal(a, b)
    assert other.optimizer.state_dict()["state"].keys() == d.optimizer.state_dict()["state"].keys()
    assert read_from_checkpoint(torch.load(path, weights_only=False), "discriminators")["weights"].keys()


def test_multi_level_probs_stacks_every_deep_supervision_level_at_full_size():
    outputs = [torch.randn(2, 3, 16, 16), torch.randn(2, 3, 8, 8), torch.randn(2, 3, 4, 4)]
    probs = multi_level_probs(outputs, (16, 16))
    assert probs.shape == (2, 9, 16, 16)
    torch.testing.assert_close(probs[:, :3], torch.softmax(outputs[0], 1))
    torch.testing.assert_close(probs.sum(1), torch.full((2, 16, 16), 3.0))
    assert multi_level_probs(outputs[0], (16, 16)).shape == (2, 3, 16, 16)
