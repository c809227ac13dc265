"""MT-UDA's dual teacher: EMA warm-up, which network runs when, teachers kept apart."""

import pytest
import torch
from torch import nn

from nnunet_uda.dual_teacher import DualTeacherNetwork, warmup_decay


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.decoder = nn.Module()
        self.decoder.deep_supervision = False

    def forward(self, x):
        return self.conv(x)


def test_warmup_decay_is_the_running_average_until_the_ema_weighs_more():
    assert warmup_decay(0, 0.999) == 0.0  # step 0 copies the student
    assert warmup_decay(1, 0.999) == pytest.approx(0.5)
    assert warmup_decay(9, 0.999) == pytest.approx(0.9)
    assert warmup_decay(5000, 0.999) == 0.999
    with pytest.raises(ValueError):
        warmup_decay(-1, 0.9)
    with pytest.raises(ValueError):
        warmup_decay(3, 1.5)


def test_training_runs_the_student_eval_the_inter_domain_teacher():
    torch.manual_seed(0)
    net = DualTeacherNetwork(TinyNet())
    with torch.no_grad():
        net.inter_teacher.conv.weight.mul_(-1)
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(net.train()(x), net.student(x))
    assert torch.equal(net.eval()(x), net.inter_teacher(x))
    assert not torch.equal(net.eval()(x), net.student(x))
    assert all(not p.requires_grad for t in (net.intra_teacher, net.inter_teacher) for p in t.parameters())
    assert {n.split(".")[0] for n, p in net.named_parameters() if p.requires_grad} == {"student"}


def test_teacher_forward_follows_the_students_deep_supervision_flag():
    net = DualTeacherNetwork(TinyNet())
    net.student.decoder.deep_supervision = True
    net.teacher_forward("intra", torch.zeros(1, 1, 4, 4))
    assert net.intra_teacher.decoder.deep_supervision is True
    with pytest.raises(ValueError, match="teacher must be one of"):
        net.teacher_forward("other", torch.zeros(1, 1, 4, 4))


def test_update_teachers_copies_at_step_0_then_averages_each_with_its_decay():
    torch.manual_seed(0)
    net = DualTeacherNetwork(TinyNet())
    with torch.no_grad():
        for t in (net.intra_teacher, net.inter_teacher):
            t.conv.weight.zero_()
    net.update_teachers(0, 0.9, 0.5)
    assert torch.equal(net.intra_teacher.conv.weight, net.student.conv.weight)
    assert torch.equal(net.inter_teacher.conv.weight, net.student.conv.weight)
    before = net.student.conv.weight.detach().clone()
    with torch.no_grad():
        net.student.conv.weight.add_(1.0)
    net.update_teachers(100, 0.9, 0.5)  # past the warm-up: the decays themselves
    torch.testing.assert_close(net.intra_teacher.conv.weight, before + 0.1)
    torch.testing.assert_close(net.inter_teacher.conv.weight, before + 0.5)
