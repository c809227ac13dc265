"""Student and two EMA teachers in one module: MT-UDA's dual teacher (Zhao et al., MICCAI 2021).

The intra-domain teacher gives the student consistency targets on source-domain images
(real source and synthetic source); the inter-domain teacher sees the target-domain twin
of the student's image (``label-efficient-uda-mt-uda-le-uda.txt``, §3.1). Both are
exponential moving averages of the student. Kept in one ``nn.Module`` as
:class:`~nnunet_uda.ema.MeanTeacherNetwork` keeps one teacher, so nnU-Net's checkpoint
holds all three, ``--c`` restores them, DDP broadcasts them at start, and stock
``nnUNetv2_predict`` (eval mode) runs the inter-domain teacher: the one that learns from
target-domain images, the domain the model is for.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from nnunet_uda.distributed import broadcast_module_
from nnunet_uda.ema import ema_update_

TEACHERS = ("intra", "inter")


def warmup_decay(step: int, decay: float) -> float:
    """``min(1 - 1 / (step + 1), decay)``: the teacher is the plain average of the student's
    weights until the exponential average weighs more (Tarvainen & Valpola's code; MT-UDA's
    authors use it for both teachers). Step 0 copies the student.

    Raises:
        ValueError: ``step`` negative or ``decay`` outside [0, 1].
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay}")
    return min(1.0 - 1.0 / (step + 1), decay)


class DualTeacherNetwork(nn.Module):
    """``student``, ``intra_teacher`` and ``inter_teacher`` of one architecture.

    ``forward`` runs the student in training mode and the inter-domain teacher in eval mode.
    Teachers' parameters do not require gradients, so optimizers and DDP see the student's only.

    Args:
        student: the network to train, e.g. nnU-Net's ``PlainConvUNet``.
    """

    def __init__(self, student: nn.Module):
        super().__init__()
        self.student = student
        self.intra_teacher = copy.deepcopy(student).requires_grad_(False)
        self.inter_teacher = copy.deepcopy(student).requires_grad_(False)

    @property
    def decoder(self) -> nn.Module:
        """The student's decoder, whose ``deep_supervision`` flag nnU-Net switches; the teachers follow it."""
        return self.student.decoder

    def teacher(self, which: str) -> nn.Module:
        if which not in TEACHERS:
            raise ValueError(f"teacher must be one of {TEACHERS}, got {which!r}")
        return self.intra_teacher if which == "intra" else self.inter_teacher

    def forward(self, x: torch.Tensor):
        if self.training:
            return self.student(x)
        return self.teacher_forward("inter", x)

    def teacher_forward(self, which: str, x: torch.Tensor):
        """Output of the ``'intra'`` or ``'inter'`` teacher, with the student's deep-supervision setting."""
        teacher = self.teacher(which)
        teacher.decoder.deep_supervision = self.student.decoder.deep_supervision
        return teacher(x)

    @torch.no_grad()
    def update_teachers(self, step: int, intra_decay: float, inter_decay: float) -> None:
        """One EMA step of each teacher after the student's optimizer step ``step`` (0-based),
        each with :func:`warmup_decay`."""
        ema_update_(self.intra_teacher, self.student, warmup_decay(step, intra_decay))
        ema_update_(self.inter_teacher, self.student, warmup_decay(step, inter_decay))

    def synchronize(self, src: int = 0) -> None:
        """Broadcast student and teachers from rank ``src`` (a no-op without a process group)."""
        broadcast_module_(self, src)
