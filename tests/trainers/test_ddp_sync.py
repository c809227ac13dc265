"""2-process gloo DDP on the CPU: the mean teacher, MT-UDA's two teachers, and the DMNet and
LE-UDA discriminators stay identical across ranks when every rank sees different data (the
trainers' code path, outside nnU-Net)."""

import json
import os

import pytest
import torch
import torch.distributed as dist
from torch import nn

from nnunet_uda.adversarial_parts import DiscriminatorSet
from nnunet_uda.discriminator import FCNDiscriminator
from nnunet_uda.dual_teacher import DualTeacherNetwork
from nnunet_uda.distributed import average_gradients_, broadcast_module_, unwrap_network
from nnunet_uda.ema import MeanTeacherNetwork
from nnuda_testing import run_gloo

WORLD = 2


class TinySegNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Conv2d(1, 4, 3, padding=1)
        self.decoder = nn.Conv2d(4, 3, 1)
        self.decoder.deep_supervision = False

    def forward(self, x):
        return self.decoder(torch.relu(self.encoder(x)))


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def max_diff_to_rank0(t: torch.Tensor) -> float:
    ref = t.clone()
    dist.broadcast(ref, 0)
    diff = (t - ref).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return diff.item()


def worker(rank: int, world: int, out: str) -> None:
    torch.manual_seed(rank)  # different initial weights and data on every rank
    net = nn.parallel.DistributedDataParallel(MeanTeacherNetwork(TinySegNet()))  # broadcasts student and teacher
    disc = FCNDiscriminator(3, dim=2, base_channels=4)
    unsynced = FCNDiscriminator(3, dim=2, base_channels=4)
    broadcast_module_(disc)
    broadcast_module_(unsynced)
    opt = torch.optim.SGD(unwrap_network(net).student.parameters(), lr=0.1)
    d_opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    u_opt = torch.optim.Adam(unsynced.parameters(), lr=1e-2)
    for _ in range(3):
        x = torch.randn(2, 1, 16, 16)
        opt.zero_grad()
        probs = torch.softmax(net(x), 1)
        probs.square().mean().backward()
        opt.step()
        unwrap_network(net).update_teacher(0.9)
        for d, o, sync in ((disc, d_opt, True), (unsynced, u_opt, False)):
            o.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(d(probs.detach()), torch.zeros(2, 1, 16, 16)).backward()
            if sync:
                average_gradients_(d)
            o.step()
    mt = unwrap_network(net)
    result = {"student": max_diff_to_rank0(flat(mt.student)), "teacher": max_diff_to_rank0(flat(mt.teacher)),
              "teacher_moved": (flat(mt.teacher) - flat(mt.student)).abs().max().item(),
              "discriminator": max_diff_to_rank0(flat(disc)), "unsynced": max_diff_to_rank0(flat(unsynced))}
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


@pytest.mark.slow
def test_teacher_and_discriminator_identical_across_ranks(tmp_path):
    run_gloo(worker, WORLD, str(tmp_path))
    for rank in range(WORLD):
        r = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert r["student"] == 0 and r["teacher"] == 0 and r["discriminator"] == 0
        assert r["teacher_moved"] > 0  # the teacher is an average, not a copy
        assert r["unsynced"] > 0  # without averaged gradients the ranks drift apart: the data differed


def dual_teacher_worker(rank: int, world: int, out: str) -> None:
    torch.manual_seed(rank)  # different initial weights and data on every rank
    net = nn.parallel.DistributedDataParallel(DualTeacherNetwork(TinySegNet()))
    discriminators = DiscriminatorSet(("intra", "inter"), 3, 2, 4, 1e-2, 0.0, 10, torch.device("cpu"))
    opt = torch.optim.SGD(unwrap_network(net).student.parameters(), lr=0.1)
    for step in range(3):
        x = torch.randn(2, 1, 16, 16)
        opt.zero_grad()
        probs = torch.softmax(net(x), 1)
        (probs.square().mean() + 0.1 * discriminators.generator_loss({"intra": probs, "inter": probs})).backward()
        opt.step()
        unwrap_network(net).update_teachers(step, 0.9, 0.5)
        with torch.no_grad():
            teacher = torch.softmax(unwrap_network(net).teacher_forward("inter", x), 1)
        discriminators.step({"intra": teacher, "inter": teacher}, {"intra": probs, "inter": probs})
    dual = unwrap_network(net)
    result = {name: max_diff_to_rank0(flat(m)) for name, m in (
        ("student", dual.student), ("intra", dual.intra_teacher), ("inter", dual.inter_teacher),
        ("discriminators", discriminators.modules))}
    result["teachers_differ"] = (flat(dual.intra_teacher) - flat(dual.inter_teacher)).abs().max().item()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


@pytest.mark.slow
def test_dual_teachers_and_leuda_discriminators_identical_across_ranks(tmp_path):
    run_gloo(dual_teacher_worker, WORLD, str(tmp_path))
    for rank in range(WORLD):
        r = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert r["student"] == r["intra"] == r["inter"] == r["discriminators"] == 0, r
        assert r["teachers_differ"] > 0  # two decays, two averages


def test_helpers_are_no_ops_without_process_group():
    m = nn.Linear(2, 2)
    m(torch.randn(3, 2)).sum().backward()
    before = m.weight.grad.clone()
    broadcast_module_(m)
    average_gradients_(m)
    assert torch.equal(m.weight.grad, before)
    assert unwrap_network(m) is m
