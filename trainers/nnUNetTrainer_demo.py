"""Stock nnU-Net training, shortened for ``nnuda-demo`` (the no-adaptation baseline)."""

import torch

from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


class nnUNetTrainer_demo(nnUNetTrainer):
    """``nnUNetTrainer`` with a CPU-minutes budget: few short epochs, no final validation.

    Used by ``nnuda-demo`` for the baseline so it is trained exactly like the adapted
    models, only on untranslated data. Not meant for real experiments.
    """

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = 4
        self.num_iterations_per_epoch = 25
        self.num_val_iterations_per_epoch = 2

    def perform_actual_validation(self, save_probabilities: bool = False):
        """Skipped: the demo scores the held-out validation scans with nnuda-evaluate instead."""
        self.print_to_log_file("nnuda demo: final validation skipped")
