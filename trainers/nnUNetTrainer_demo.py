"""Stock nnU-Net training, shortened and narrowed for ``nnuda-demo`` (the no-adaptation baseline)."""

import copy

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


class DemoNetworkMixin:
    """The demo trainers' network and ending: the plans' architecture (or the trainer's own,
    e.g. DMNet's two decoders) with half the features per stage, and no final validation
    (the demo and the CPU benchmarks score held-out scans themselves).

    Measured on this project's 2-core CPU (tiny phantoms, ``2d``, 800 iterations): half width
    trains in 150 s against 245 s at full width, with the same tumour Dice on held-out ceT1
    cases (0.76 / 0.80 against 0.79 / 0.75). ``nnUNetv2_predict`` builds the network through
    ``build_network_architecture`` too, so prediction rebuilds the same narrow network.
    Not meant for real experiments.
    """

    @classmethod
    def build_network_architecture(cls, plans_manager, configuration_manager, num_input_channels: int,
                                   num_output_channels: int, enable_deep_supervision: bool = True) -> torch.nn.Module:
        narrow = copy.deepcopy(configuration_manager)
        kwargs = narrow.configuration["architecture"]["arch_kwargs"]
        kwargs["features_per_stage"] = [max(8, f // 2) for f in kwargs["features_per_stage"]]
        return super().build_network_architecture(plans_manager, narrow, num_input_channels,
                                                  num_output_channels, enable_deep_supervision)

    def perform_actual_validation(self, save_probabilities: bool = False):
        """Skipped: the demo scores the held-out validation scans with nnuda-evaluate instead."""
        self.print_to_log_file("nnuda demo: final validation skipped")


class DemoBudgetMixin(DemoNetworkMixin):
    """``demo_epochs`` epochs of 25 iterations (800 in all by default, as long as
    ``nnUNetTrainerPAST_demo``'s stage 0) with the narrow network of :class:`DemoNetworkMixin`."""

    demo_epochs = 32

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = self.demo_epochs
        self.num_iterations_per_epoch = 25
        self.num_val_iterations_per_epoch = 2


class nnUNetTrainer_demo(DemoBudgetMixin, nnUNetTrainer):
    """``nnUNetTrainer`` on the demo's budget, so the no-adaptation baseline (and the oracle)
    is trained exactly like the adapted models, only on other data."""
