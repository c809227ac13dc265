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


def test_step_with_fewer_unlabeled_than_labeled_patches(workspace, monkeypatch):
    """The discriminator's inputs are split by their real sizes (2 labeled + 1 unlabeled patch)."""
    import torch
    from nnunetv2.run.run_training import get_trainer_from_args

    from trainer_testing import nnunet_env

    for key, value in nnunet_env(workspace).items():
        if key.startswith("nnUNet_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("nnUNet_n_proc_DA", "0")
    trainer = get_trainer_from_args("987", "3d_fullres", 0, TRAINER, device=torch.device("cpu"))
    trainer.unlabeled_batch_size = 1
    trainer.initialize()
    stream, _ = trainer.get_dataloaders()
    try:
        batch = next(stream)
        assert batch["data"].shape[0] == 2 and batch["unlabeled"]["data"].shape[0] == 1
        out = trainer.train_step(batch)
    finally:
        stream._finish()
    assert all(torch.isfinite(torch.as_tensor(out[k])) for k in ("loss", "adversarial", "discriminator"))
