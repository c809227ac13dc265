"""Mean-teacher weights: an exponential moving average of the student (Tarvainen & Valpola 2017).

``theta'_t = alpha theta'_(t-1) + (1 - alpha) theta_t`` after every optimizer step, with
``alpha = 0.99`` as in the mean-teacher baseline of the presence/absence translation paper
(applied constantly). :class:`MeanTeacherNetwork` keeps student and teacher in one module,
so nnU-Net's checkpoint holds both, ``--c`` restores both, DDP broadcasts both at start,
and stock ``nnUNetv2_predict`` (which puts the network in eval mode) runs the teacher.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from nnunet_uda.distributed import broadcast_module_


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, decay: float = 0.99) -> None:
    """``teacher <- decay * teacher + (1 - decay) * student`` for parameters; buffers are copied.

    Deterministic and purely local: ranks whose students are identical keep identical
    teachers (start them equal with :func:`nnunet_uda.distributed.broadcast_module_`).

    Raises:
        ValueError: ``decay`` outside [0, 1], or the two modules differ in names or shapes.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay}")
    t_params, s_params = dict(teacher.named_parameters()), dict(student.named_parameters())
    t_buffers, s_buffers = dict(teacher.named_buffers()), dict(student.named_buffers())
    if t_params.keys() != s_params.keys() or t_buffers.keys() != s_buffers.keys():
        raise ValueError("teacher and student have different parameters or buffers")
    for name, t in t_params.items():
        s = s_params[name]
        if t.shape != s.shape:
            raise ValueError(f"{name}: teacher {tuple(t.shape)} vs student {tuple(s.shape)}")
        t.lerp_(s.detach().to(t.dtype), 1.0 - decay)
    for name, t in t_buffers.items():
        t.copy_(s_buffers[name])


class MeanTeacherNetwork(nn.Module):
    """Student and EMA teacher of the same architecture in one module.

    ``forward`` runs the student in training mode and the teacher in eval mode (nnU-Net's
    validation, final validation and ``nnUNetv2_predict``). The teacher's parameters do
    not require gradients, so optimizers and DDP see only the student's.

    Args:
        student: the network to train, e.g. nnU-Net's ``PlainConvUNet``.
    """

    def __init__(self, student: nn.Module):
        super().__init__()
        self.student = student
        self.teacher = copy.deepcopy(student)
        self.teacher.requires_grad_(False)

    @property
    def decoder(self) -> nn.Module:
        """The student's decoder, whose ``deep_supervision`` flag nnU-Net switches; the teacher follows it."""
        return self.student.decoder

    def forward(self, x: torch.Tensor):
        if self.training:
            return self.student(x)
        return self.teacher_forward(x)

    def teacher_forward(self, x: torch.Tensor):
        """The teacher's output, with the student's deep-supervision setting."""
        self.teacher.decoder.deep_supervision = self.student.decoder.deep_supervision
        return self.teacher(x)

    @torch.no_grad()
    def update_teacher(self, decay: float = 0.99) -> None:
        """One EMA step (eq. of the module docstring), after the student's optimizer step."""
        ema_update_(self.teacher, self.student, decay)

    def synchronize(self, src: int = 0) -> None:
        """Broadcast student and teacher from rank ``src`` (a no-op without a process group)."""
        broadcast_module_(self, src)
