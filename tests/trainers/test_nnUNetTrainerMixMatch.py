"""nnUNetTrainerMixMatch through the real nnU-Net CLI: train, resume, predict (CPU, tiny)."""

import pytest

from semi_supervised_cli import predict, resume_round_trip, train

TRAINER = "nnUNetTrainerMixMatch_debug"


@pytest.mark.slow
def test_train_resume_predict(workspace):
    ckpt = train(workspace, TRAINER)
    assert ckpt["trainer_name"] == TRAINER and ckpt["current_epoch"] == 1
    resume_round_trip(workspace, TRAINER, ckpt, ("network_weights", "optimizer_state", "current_epoch"))
    predict(workspace, TRAINER)
