"""Stock nnU-Net training, shortened and narrowed for ``nnuda-demo`` (the no-adaptation baseline)."""

import copy

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_uda.cpu_precision import CPUMixedPrecisionMixin
from nnunet_uda.semi_supervised_trainer import DebugTrainerMixin


class DemoScaleMixin(CPUMixedPrecisionMixin):
    """The demo trainers' network, batch and ending: the plans' architecture (or the trainer's
    own, e.g. DMNet's two decoders) with half the features per stage; batches of
    ``demo_batch_size`` patches of which ``demo_oversample_foreground`` are centred on a
    labeled structure (nnU-Net: the plans' batch size, a third); no final validation (the
    demo and the CPU benchmarks score held-out scans themselves).

    Measured on this project's 2-core CPU, ``small`` phantoms, ``2d``, oracle on labeled
    hrT2, 2000 iterations: with the plans' batch of 13 and nnU-Net's third of foreground
    patches the network never predicted the cochlea (Dice 0.000, VS 0.755; 15.2 min); with
    6 patches, two thirds of them on a structure, it reached cochlea 0.891 and VS 0.795
    (8.6 min). Half width trains in 150 s against 245 s at full width on tiny phantoms,
    with the same tumour Dice. ``nnUNetv2_predict`` builds the network through
    ``build_network_architecture`` too, so prediction rebuilds the same narrow network.
    Not meant for real experiments.
    """

    demo_batch_size = 6
    demo_oversample_foreground = 0.66

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        # read by nnU-Net's _set_batch_size_and_oversample (which also splits it under DDP)
        self.configuration_manager.configuration["batch_size"] = min(self.configuration_manager.batch_size,
                                                                     self.demo_batch_size)
        self.oversample_foreground_percent = self.demo_oversample_foreground

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


class DemoBudgetMixin(DemoScaleMixin):
    """``demo_epochs`` epochs of 25 iterations (2000 in all by default, as long as
    ``nnUNetTrainerPAST_demo``'s stage 0) with the scale of :class:`DemoScaleMixin`.

    Measured (same oracle setting as above): 1000 iterations left the cochlea at 0.000 in one
    run and 0.750 (with every patch on a structure) in another, VS 0.72 and 0.58; 2000
    reached VS 0.80, cochlea 0.89. The poly schedule decays too early in shorter runs for the
    small structure to appear reliably."""

    demo_epochs = 80

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = self.demo_epochs
        self.num_iterations_per_epoch = 25
        self.num_val_iterations_per_epoch = 2


class nnUNetTrainer_demo(DemoBudgetMixin, nnUNetTrainer):
    """``nnUNetTrainer`` on the demo's budget, so the no-adaptation baseline (and the oracle)
    is trained exactly like the adapted models, only on other data."""


class nnUNetTrainer_quick(nnUNetTrainer_demo):
    """``nnuda-demo``'s 15-minute budget: 1000 iterations (40 epochs of 25) on the ``demo``
    phantoms (1 mm in plane). The benchmarks use ``nnUNetTrainer_demo`` (2000 iterations) on
    the finer ``small`` phantoms, where 1000 iterations left the cochlea unlearned once."""

    demo_epochs = 40


class nnUNetTrainer_debug(DebugTrainerMixin, nnUNetTrainer):
    """Tests of the demo chain: stock training for a few iterations, validation without mirroring."""
