"""nnUNetTrainerMeanTeacher through the real nnU-Net CLI: train, resume, predict (CPU, tiny)."""

import pytest
import torch

from semi_supervised_cli import predict, resume_round_trip, train

TRAINER = "nnUNetTrainerMeanTeacher_debug"


@pytest.mark.slow
def test_train_resume_predict(workspace):
    ckpt = train(workspace, TRAINER)
    weights = ckpt["network_weights"]
    student = {k[len("student."):]: v for k, v in weights.items() if k.startswith("student.")}
    teacher = {k[len("teacher."):]: v for k, v in weights.items() if k.startswith("teacher.")}
    assert student and student.keys() == teacher.keys() and len(weights) == 2 * len(student)
    # two EMA steps at decay 0.99 moved the teacher, but far less than the student moved
    name = next(k for k in student if k.endswith("conv.weight"))
    assert not torch.equal(student[name], teacher[name])
    resume_round_trip(workspace, TRAINER, ckpt, ("network_weights", "optimizer_state", "current_epoch"))
    predict(workspace, TRAINER)
