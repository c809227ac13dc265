import pytest
import torch
from torch import nn

from nnunet_uda.ema import MeanTeacherNetwork, ema_update_


def test_update_known_values_and_buffers():
    teacher, student = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        teacher.weight.fill_(1.0)
        student.weight.fill_(3.0)
        student.running_mean.fill_(5.0)
    ema_update_(teacher, student, decay=0.99)
    assert torch.allclose(teacher.weight, torch.full((2,), 0.99 * 1 + 0.01 * 3))
    assert torch.equal(teacher.running_mean, student.running_mean)
    ema_update_(teacher, student, decay=0.0)
    assert torch.equal(teacher.weight, student.weight)


def test_decay_one_keeps_teacher_and_no_grad_is_recorded():
    teacher, student = nn.Linear(3, 2), nn.Linear(3, 2)
    before = teacher.weight.clone()
    ema_update_(teacher, student, decay=1.0)
    assert torch.equal(teacher.weight, before) and teacher.weight.grad_fn is None


@pytest.mark.parametrize("decay", [-0.1, 1.5])
def test_bad_decay(decay):
    with pytest.raises(ValueError, match="decay"):
        ema_update_(nn.Linear(2, 2), nn.Linear(2, 2), decay)


def test_mismatched_modules():
    with pytest.raises(ValueError, match="different"):
        ema_update_(nn.Linear(2, 2), nn.Conv1d(2, 2, 1, bias=False))
    with pytest.raises(ValueError, match="teacher"):
        ema_update_(nn.Linear(2, 2), nn.Linear(3, 2))


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = nn.Conv2d(1, 2, 1)
        self.decoder.deep_supervision = True

    def forward(self, x):
        out = self.decoder(x)
        return [out, out[..., ::2, ::2]] if self.decoder.deep_supervision else out


def test_mean_teacher_network_modes_gradients_and_state():
    net = MeanTeacherNetwork(TinyNet())
    assert all(not p.requires_grad for p in net.teacher.parameters())
    assert {n.split(".")[0] for n in net.state_dict()} == {"student", "teacher"}
    x = torch.randn(2, 1, 4, 4)
    net.train()
    net(x)[0].sum().backward()
    assert net.student.decoder.weight.grad is not None and net.teacher.decoder.weight.grad is None
    with torch.no_grad():
        net.student.decoder.weight.add_(1.0)
    net.update_teacher(0.5)
    expected = 0.5 * net.teacher.decoder.weight  # teacher = 0.5 * old teacher + 0.5 * (old teacher + 1)
    assert torch.allclose(net.student.decoder.weight - net.teacher.decoder.weight, torch.full_like(expected, 0.5))
    net.eval()
    net.decoder.deep_supervision = False  # what nnU-Net's set_deep_supervision_enabled does
    out = net(x)
    assert isinstance(out, torch.Tensor) and torch.allclose(out, net.teacher.decoder(x))
    net.synchronize()  # no process group: a no-op
