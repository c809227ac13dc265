"""The ``_demo`` trainers (nnuda-demo, CPU benchmarks): half-width networks that stock
prediction rebuilds the same way, on top of each trainer's own architecture."""

from __future__ import annotations

import pytest
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager

from nnunet_uda.trainers.nnUNetTrainer_demo import nnUNetTrainer_demo
from nnunet_uda.trainers.nnUNetTrainerDMNet import nnUNetTrainerDMNet, nnUNetTrainerDMNet_demo
from nnunet_uda.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher, nnUNetTrainerMeanTeacher_demo
from nnunet_uda.trainers.nnUNetTrainerMixMatch import nnUNetTrainerMixMatch_demo
from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST, nnUNetTrainerPAST_demo

FEATURES = [32, 64, 128, 256]


def _configuration() -> ConfigurationManager:
    return ConfigurationManager({
        "data_identifier": "nnUNetPlans_2d", "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
        "patch_size": [32, 32], "spacing": [1.0, 1.0], "normalization_schemes": ["ZScoreNormalization"],
        "use_mask_for_norm": [False], "architecture": {
            "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
            "arch_kwargs": {"n_stages": 4, "features_per_stage": list(FEATURES), "conv_op": "torch.nn.modules.conv.Conv2d",
                            "kernel_sizes": [[3, 3]] * 4, "strides": [[1, 1], [2, 2], [2, 2], [2, 2]],
                            "n_conv_per_stage": [2] * 4, "n_conv_per_stage_decoder": [2] * 3, "conv_bias": True,
                            "norm_op": "torch.nn.modules.instancenorm.InstanceNorm2d",
                            "norm_op_kwargs": {"eps": 1e-05, "affine": True}, "dropout_op": None,
                            "dropout_op_kwargs": None, "nonlin": "torch.nn.LeakyReLU",
                            "nonlin_kwargs": {"inplace": True}},
            "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"]},
    })


def _n_params(trainer_class) -> int:
    """Parameters of the trainer's network (the plans manager is not used by these builders)."""
    network = trainer_class.build_network_architecture(None, _configuration(), 1, 3, False)
    return sum(p.numel() for p in network.parameters())


@pytest.mark.parametrize("demo, full", [(nnUNetTrainer_demo, nnUNetTrainer), (nnUNetTrainerPAST_demo, nnUNetTrainerPAST),
                                        (nnUNetTrainerMeanTeacher_demo, nnUNetTrainerMeanTeacher),
                                        (nnUNetTrainerDMNet_demo, nnUNetTrainerDMNet)],
                         ids=["nnUNet", "PAST", "MeanTeacher", "DMNet"])
def test_demo_network_is_the_trainers_own_at_half_width(demo, full):
    n_demo, n_full = _n_params(demo), _n_params(full)
    # conv weights scale with width squared: half width has about a quarter of the parameters
    assert 0.2 * n_full < n_demo < 0.3 * n_full, (n_demo, n_full)
    assert type(demo.build_network_architecture(None, _configuration(), 1, 3, False)) is \
        type(full.build_network_architecture(None, _configuration(), 1, 3, False))


def test_plans_are_not_changed():
    cm = _configuration()
    nnUNetTrainerMixMatch_demo.build_network_architecture(None, cm, 1, 3, True)
    assert cm.network_arch_init_kwargs["features_per_stage"] == FEATURES


def _trainer(workspace, monkeypatch, name: str):
    """The trainer ``name`` as nnUNetv2_train builds it for the test workspace's dataset (CPU)."""
    import torch
    from nnunetv2.run.run_training import get_trainer_from_args

    from trainer_testing import DATASET_ID, nnunet_env

    for key, value in nnunet_env(workspace).items():
        if key.startswith("nnUNet_"):
            monkeypatch.setenv(key, value)
    return get_trainer_from_args(str(DATASET_ID), "3d_fullres", 0, name, device=torch.device("cpu"))


def test_demo_batch_and_foreground_oversampling(workspace, monkeypatch):
    """The plans' batch size, capped at demo_batch_size, two thirds of it centred on a structure."""
    trainer = _trainer(workspace, monkeypatch, "nnUNetTrainer_demo")
    trainer.initialize()
    planned = trainer.plans_manager.get_configuration("3d_fullres").batch_size
    assert trainer.batch_size == min(planned, nnUNetTrainer_demo.demo_batch_size)
    assert trainer.oversample_foreground_percent == nnUNetTrainer_demo.demo_oversample_foreground == 0.66
    assert trainer.num_epochs * trainer.num_iterations_per_epoch == 2000


def test_quick_trainers_halve_the_budget_and_keep_the_rounds(workspace, monkeypatch):
    """nnuda-demo's trainers: 1000 iterations; PAST's stage 0 as long, then the _demo rounds."""
    quick = _trainer(workspace, monkeypatch, "nnUNetTrainer_quick")
    assert quick.num_epochs * quick.num_iterations_per_epoch == 1000
    past = _trainer(workspace, monkeypatch, "nnUNetTrainerPAST_quick")
    demo = _trainer(workspace, monkeypatch, "nnUNetTrainerPAST_demo")
    assert past.stage0_epochs * past.num_iterations_per_epoch == 1000
    assert past.num_epochs - past.stage0_epochs == demo.num_epochs - demo.stage0_epochs == 20


def test_demo_trainer_steps_in_bf16_on_the_cpu_when_enabled(workspace, monkeypatch):
    """nnU-Net's own train_step under CPUMixedPrecisionMixin: bf16 network output, fp32 weights that move."""
    import numpy as np
    import torch

    monkeypatch.setenv("NNUDA_CPU_BF16", "1")
    trainer = _trainer(workspace, monkeypatch, "nnUNetTrainer_demo")
    monkeypatch.setenv("nnUNet_n_proc_DA", "0")  # augmentation in this process: no workers to stop
    trainer.initialize()
    loader, _ = trainer.get_dataloaders()
    batch = next(loader)
    dtypes = []
    hook = trainer.network.register_forward_hook(
        lambda module, args, out: dtypes.append((out[0] if isinstance(out, (list, tuple)) else out).dtype))
    before = [p.detach().clone() for p in trainer.network.parameters()]
    loss = trainer.train_step(batch)["loss"]
    hook.remove()
    assert dtypes == [torch.bfloat16] and np.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in trainer.network.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.network.parameters()))
