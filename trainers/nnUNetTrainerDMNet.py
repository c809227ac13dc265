"""nnUNetTrainerDMNet: difference minimization network (Fang & Li, DMNet, MICCAI 2020) on nnU-Net.

``nnUNetv2_train DATASET 3d_fullres FOLD -tr nnUNetTrainerDMNet``; imagesTr are the labeled
cases, imagesTrUnlabeled the unlabeled pool. ``nnUNetv2_predict -tr nnUNetTrainerDMNet``
rebuilds the two-decoder network from the plans and averages the decoders.
"""

import torch
import torch.nn.functional as F
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_uda.checkpoint_extras import add_to_checkpoint, read_from_checkpoint
from nnunet_uda.discriminator import FCNDiscriminator
from nnunet_uda.distributed import average_gradients_, broadcast_module_
from nnunet_uda.dual_decoder import build_dual_decoder_unet
from nnunet_uda.semi_supervised_trainer import (DebugTrainerMixin, SemiSupervisedTrainerMixin, full_resolution,
                                                split_batch)
from nnunet_uda.sharpen import sharpen
from nnunet_uda.soft_losses import soft_dice_loss
from nnunet_uda.soft_targets import one_hot
from nnunet_uda.trainers.nnUNetTrainer_demo import DemoBudgetMixin

CHECKPOINT_KEY = "dmnet_discriminator"


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """DMNet's L_bce against a tensor of ones (``real``) or zeros, averaged over voxels."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


class nnUNetTrainerDMNet(SemiSupervisedTrainerMixin, nnUNetTrainer):
    """Shared nnU-Net encoder, decoder 1 (transposed convolutions) and decoder 2
    (interpolation), :mod:`nnunet_uda.dual_decoder`; an FCN discriminator D on softmax maps.

    Segmentation network, per step (§3.5): ``L_S = L_sup + lambda_adv L_adv + lambda_semi L_semi``
    with L_sup nnU-Net's Dice + CE on each decoder (the paper: Dice only), L_semi the soft
    Dice between the sharpened (T) predictions of the two decoders on unlabeled patches
    (§3.3), and ``L_adv = bce(D(p_1), 1) + bce(D(p_2), 1)`` on labeled and unlabeled
    patches (§3.4). Discriminator, after it: ``L_dis = bce(D(p_1), 0) + bce(D(p_2), 0) +
    bce(D(y), 1)`` (y only for labeled patches), Adam at lr 1e-5 with the poly schedule.
    D's state and optimizer are added to nnU-Net's checkpoints, so ``--c`` resumes them;
    under DDP D starts equal on every rank (broadcast) and steps on all-reduced gradients.

    Paper values: lambda_adv = 0.01, lambda_semi = 0.1, T = 0.5, D lr 1e-5, weight decay
    5e-5, three stride-2 convolutions and three up-sampling layers with ReLU. Ours: nnU-Net's
    SGD for the segmentation network (the paper: Adam 1e-4), D's base width 64.
    """

    lambda_adv = 0.01
    lambda_semi = 0.1
    sharpen_temperature = 0.5
    discriminator_lr = 1e-5
    discriminator_weight_decay = 5e-5
    discriminator_channels = 64

    @staticmethod
    def build_network_architecture(plans_manager, configuration_manager, num_input_channels: int,
                                   num_output_channels: int, enable_deep_supervision: bool = True) -> torch.nn.Module:
        return build_dual_decoder_unet(configuration_manager, num_input_channels, num_output_channels,
                                       enable_deep_supervision)

    def initialize(self):
        super().initialize()
        self.discriminator = FCNDiscriminator(self.label_manager.num_segmentation_heads,
                                              len(self.configuration_manager.patch_size),
                                              self.discriminator_channels).to(self.device)
        broadcast_module_(self.discriminator)
        self.discriminator_optimizer = torch.optim.Adam(self.discriminator.parameters(), self.discriminator_lr,
                                                        weight_decay=self.discriminator_weight_decay)
        self.discriminator_lr_scheduler = PolyLRScheduler(self.discriminator_optimizer, self.discriminator_lr,
                                                          self.num_epochs)

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.discriminator.train()
        self.discriminator_lr_scheduler.step(self.current_epoch)

    def train_step(self, batch: dict) -> dict:
        data, target, unlabeled = self.batch_to_device(batch)
        n = data.shape[0]
        self.optimizer.zero_grad(set_to_none=True)
        self.discriminator.requires_grad_(False)
        with self.autocast_context():
            out_1, out_2 = self.network(torch.cat((data, unlabeled)))
            supervised = self.loss(split_batch(out_1, n)[0], target) + self.loss(split_batch(out_2, n)[0], target)
            p_1 = torch.softmax(full_resolution(out_1).float(), 1)
            p_2 = torch.softmax(full_resolution(out_2).float(), 1)
            semi = soft_dice_loss(sharpen(p_1[n:], self.sharpen_temperature), sharpen(p_2[n:], self.sharpen_temperature))
            fake_logits_1, fake_logits_2 = self.discriminator(torch.cat((p_1, p_2))).float().chunk(2)
            adversarial = _bce(fake_logits_1, True) + _bce(fake_logits_2, True)
            loss = supervised + self.lambda_adv * adversarial + self.lambda_semi * semi
        self.backward_and_step(loss)

        self.discriminator.requires_grad_(True)
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        real = one_hot(full_resolution(target), self.label_manager.num_segmentation_heads)
        # p_1 and p_2 hold the labeled and the unlabeled patches, whose batch sizes may differ
        d_1, d_2, d_real = self.discriminator(torch.cat((p_1.detach(), p_2.detach(), real))).split(
            (p_1.shape[0], p_2.shape[0], real.shape[0]))
        discriminator_loss = _bce(d_1, False) + _bce(d_2, False) + _bce(d_real, True)
        discriminator_loss.backward()
        average_gradients_(self.discriminator)
        self.discriminator_optimizer.step()
        return {"loss": loss.detach().cpu().numpy(), "supervised": supervised.item(), "semi": semi.item(),
                "adversarial": adversarial.item(), "discriminator": discriminator_loss.item()}

    def save_checkpoint(self, filename: str) -> None:
        super().save_checkpoint(filename)
        if self.local_rank == 0 and not self.disable_checkpointing:
            add_to_checkpoint(filename, CHECKPOINT_KEY, {
                "weights": self.discriminator.state_dict(),
                "optimizer_state": self.discriminator_optimizer.state_dict()})

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        super().load_checkpoint(filename_or_checkpoint)
        state = read_from_checkpoint(filename_or_checkpoint, CHECKPOINT_KEY, map_location=self.device)
        self.discriminator.load_state_dict(state["weights"])
        self.discriminator_optimizer.load_state_dict(state["optimizer_state"])


class nnUNetTrainerDMNet_debug(DebugTrainerMixin, nnUNetTrainerDMNet):
    """Tests: 1 epoch of 2 iterations, a narrow discriminator, final validation without mirroring."""

    discriminator_channels = 8


class nnUNetTrainerDMNet_demo(DemoBudgetMixin, nnUNetTrainerDMNet):
    """CPU benchmarks: ``nnUNetTrainer_demo``'s budget (80 epochs of 25 iterations, half-width
    encoder and decoders, batch of 6); the discriminator keeps its width."""
