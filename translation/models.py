"""The translation models by name: ``cyclegan`` and ``nicegan``."""

from __future__ import annotations

import torch

from nnunet_uda.translation.config import ModelConfig
from nnunet_uda.translation.cyclegan import CycleGAN
from nnunet_uda.translation.nicegan import NICEGAN

MODELS = {"cyclegan": CycleGAN, "nicegan": NICEGAN}


def build_model(config: ModelConfig, device: torch.device | str = "cpu") -> CycleGAN | NICEGAN:
    """The translator for ``config`` (its ``model`` field picks the class), on ``device``."""
    return MODELS[config.model](config, device)
