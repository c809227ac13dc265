"""2-process gloo DDP on the CPU: nnUNetTrainerPresenceAbsence's step (the whole translation forward
as one call through DDP, then the hinge discriminators' step) keeps the network, the
discriminators and their spectral-norm vectors identical across ranks that see different data."""

import json
import os

import pytest
import torch
import torch.distributed as dist
from torch import nn

from nnunet_uda.hinge_discriminators import HingeDiscriminatorSet
from nnunet_uda.presence_absence_losses import translation_terms
from nnunet_uda.presence_absence_net import PresenceAbsenceNetwork
from nnuda_testing import run_gloo

WORLD = 2


def state(module: nn.Module) -> torch.Tensor:
    return torch.cat([t.detach().float().flatten() for t in [*module.parameters(), *module.buffers()]])


def max_diff_to_rank0(t: torch.Tensor) -> float:
    ref = t.clone()
    dist.broadcast(ref, 0)
    return (t - ref).abs().max().item()


def presence_absence_worker(rank: int, world: int, out: str) -> None:
    torch.manual_seed(rank)  # different initial weights and data on every rank
    net = nn.parallel.DistributedDataParallel(
        PresenceAbsenceNetwork(1, 2, [4, 8, 16], [[1, 1], [2, 2], [2, 2]], [[3, 3]] * 3))
    discriminators = HingeDiscriminatorSet(("A", "P"), 1, 4, 2, 1, 1e-3, (0.5, 0.999), 10, torch.device("cpu"))
    opt = torch.optim.Adam(net.parameters(), 1e-3, betas=(0.5, 0.999), amsgrad=True)
    for _ in range(2):
        presence, absence = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16)
        opt.zero_grad()
        o = net(presence, absence)
        loss = sum(translation_terms(o, presence, absence).values()) + o["segmentation"].square().mean()
        (loss + discriminators.generator_loss({"A": o["x_pa"], "P": o["x_ap"]})).backward()
        opt.step()
        discriminators.step({"A": absence, "P": presence}, {"A": o["x_pa"], "P": o["x_ap"]})
    result = {"network": max_diff_to_rank0(state(net.module)),
              "discriminators": max_diff_to_rank0(state(discriminators.modules))}
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


@pytest.mark.slow
def test_network_and_hinge_discriminators_identical_across_ranks(tmp_path):
    run_gloo(presence_absence_worker, WORLD, str(tmp_path))
    for rank in range(WORLD):
        r = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert r["network"] == 0 and r["discriminators"] == 0, r
