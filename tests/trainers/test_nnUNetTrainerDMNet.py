"""nnUNetTrainerDMNet through the real nnU-Net CLI: train, resume, predict (CPU, tiny)."""

import pytest

from semi_supervised_cli import predict, resume_round_trip, train

TRAINER = "nnUNetTrainerDMNet_debug"


@pytest.mark.slow
def test_train_resume_predict(workspace):
    ckpt = train(workspace, TRAINER)
    assert any(k.startswith("decoder_interp.") for k in ckpt["network_weights"])
    disc = ckpt["dmnet_discriminator"]
    assert disc["optimizer_state"]["state"], "the discriminator took optimizer steps"
    resume_round_trip(workspace, TRAINER, ckpt,
                      ("network_weights", "optimizer_state", "current_epoch", "dmnet_discriminator"))
    predict(workspace, TRAINER)  # stock predictor rebuilds the dual-decoder network from the plans
