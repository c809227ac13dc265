"""nnUNetTrainerMeanTeacher: mean teacher (Tarvainen & Valpola 2017) on nnU-Net.

``nnUNetv2_train DATASET 3d_fullres FOLD -tr nnUNetTrainerMeanTeacher``; imagesTr are the
labeled cases, imagesTrUnlabeled the unlabeled pool (``nnuda-convert --unlabeled``).
"""

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_uda.distributed import unwrap_network
from nnunet_uda.ema import MeanTeacherNetwork
from nnunet_uda.perturb import perturb_intensity
from nnunet_uda.rampup import sigmoid_rampup
from nnunet_uda.semi_supervised_trainer import (DebugTrainerMixin, SemiSupervisedTrainerMixin, full_resolution,
                                                split_batch)
from nnunet_uda.soft_losses import softmax_mse
from nnunet_uda.trainers.nnUNetTrainer_demo import DemoBudgetMixin


class nnUNetTrainerMeanTeacher(SemiSupervisedTrainerMixin, nnUNetTrainer):
    """Student trained with nnU-Net's loss on labeled patches plus a consistency loss on
    unlabeled ones; the teacher is an EMA of the student.

    ``L = L_sup(student(x), y) + w(t) * mean((softmax(student(u + n_1)) - softmax(teacher(u + n_2)))^2)``
    where ``u`` is one spatially augmented unlabeled patch (nnU-Net's augmentation) and
    ``n_1``, ``n_2`` independent intensity perturbations (:func:`perturb_intensity`),
    ``w(t) = consistency_weight * sigmoid_rampup(epoch, consistency_rampup_epochs)``. After
    each optimizer step ``teacher <- ema_decay * teacher + (1 - ema_decay) * student``.

    Network: :class:`~nnunet_uda.ema.MeanTeacherNetwork` (student + teacher in one module),
    so checkpoints hold both, ``--c`` restores both and DDP broadcasts both at start; in eval
    mode it runs the teacher: nnU-Net's validation and ``nnUNetv2_predict`` use the teacher.

    Paper values: EMA decay 0.99 applied constantly (the mean teacher baseline of Vorontsov
    et al., "Towards annotation-efficient segmentation via image-to-image translation").
    Consistency weight 10, not their 0.01: they do not say how their squared error is
    normalised, and ours (the mean over classes and voxels, as Tarvainen & Valpola's
    softmax MSE per sample, whose weight reached 100 on CIFAR-10) is small. Measured on a
    2D model trained on translated phantoms, two perturbed views of real hrT2 slices differ
    by a softmax MSE of 0.023 while the supervised CE + Dice is 0.32: at 0.01 the term is
    under a thousandth of the loss (no consistency at all); at 10 the two are comparable.
    Ours as well: the ramp-up length (100 of nnU-Net's 1000 epochs) and the perturbation
    strengths (in units of the normalized intensity).
    """

    ema_decay = 0.99
    consistency_weight = 10.0
    consistency_rampup_epochs = 100
    noise_std = 0.1
    intensity_scale_range = (0.9, 1.1)
    intensity_shift_std = 0.1

    @staticmethod
    def build_network_architecture(plans_manager, configuration_manager, num_input_channels: int,
                                   num_output_channels: int, enable_deep_supervision: bool = True) -> torch.nn.Module:
        return MeanTeacherNetwork(nnUNetTrainer.build_network_architecture(
            plans_manager, configuration_manager, num_input_channels, num_output_channels, enable_deep_supervision))

    def _perturb(self, x: torch.Tensor) -> torch.Tensor:
        return perturb_intensity(x, self.noise_std, self.intensity_scale_range, self.intensity_shift_std)

    def train_step(self, batch: dict) -> dict:
        data, target, unlabeled = self.batch_to_device(batch)
        net = unwrap_network(self.network)
        weight = self.consistency_weight * sigmoid_rampup(self.current_epoch, self.consistency_rampup_epochs)
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast_context():
            labeled_out, unlabeled_out = split_batch(self.network(torch.cat((data, self._perturb(unlabeled)))),
                                                     data.shape[0])
            supervised = self.loss(labeled_out, target)
            with torch.no_grad():
                teacher_probs = torch.softmax(full_resolution(net.teacher_forward(self._perturb(unlabeled))).float(), 1)
            consistency = softmax_mse(full_resolution(unlabeled_out).float(), teacher_probs)
            loss = supervised + weight * consistency
        self.backward_and_step(loss)
        net.update_teacher(self.ema_decay)
        return {"loss": loss.detach().cpu().numpy(), "supervised": supervised.item(),
                "consistency": consistency.item(), "consistency_weight": weight}


class nnUNetTrainerMeanTeacher_debug(DebugTrainerMixin, nnUNetTrainerMeanTeacher):
    """Tests: 1 epoch of 2 iterations, no ramp-up, final validation without mirroring."""

    consistency_rampup_epochs = 0


class nnUNetTrainerMeanTeacher_demo(DemoBudgetMixin, nnUNetTrainerMeanTeacher):
    """CPU benchmarks: ``nnUNetTrainer_demo``'s budget (80 epochs of 25 iterations, half-width
    network, batch of 6); the ramp-up keeps the default's share of the run (a tenth: 8 epochs)."""

    consistency_rampup_epochs = 8
