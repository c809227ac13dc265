"""nnUNetTrainerMixMatch: MixMatch for segmentation (MixMatch-CycleGAN UDA paper, §2.2) on nnU-Net.

``nnUNetv2_train DATASET 3d_fullres FOLD -tr nnUNetTrainerMixMatch``; imagesTr are the
labeled cases, imagesTrUnlabeled the unlabeled pool (e.g. translated target scans).
"""

import itertools
import random

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_uda.distributed import unwrap_network
from nnunet_uda.mixup import mixup, sample_mix_weight
from nnunet_uda.rampup import sigmoid_rampup
from nnunet_uda.semi_supervised_trainer import DebugTrainerMixin, SemiSupervisedTrainerMixin, full_resolution
from nnunet_uda.sharpen import sharpen
from nnunet_uda.soft_losses import soft_cross_entropy, soft_dice_loss, softmax_mse
from nnunet_uda.soft_targets import one_hot, pool_soft_targets
from nnunet_uda.trainers.nnUNetTrainer_demo import DemoBudgetMixin


class nnUNetTrainerMixMatch(SemiSupervisedTrainerMixin, nnUNetTrainer):
    """Per step: guess labels of the unlabeled patches (§2.2.1: the current model's softmax
    averaged over ``guess_augmentations`` mirrorings, then per-voxel sharpening, eq. 4);
    shuffle labeled and unlabeled pairs into W and mix X with W[:B] and U with W[B:]
    (§2.2.2, eqs. 5-8: images and soft labels with the same weight ``max(b, 1 - b)``);
    ``L = L_x + lambda_u * rampup(t) * L_u`` (eq. 9) with L_x soft-target cross-entropy +
    soft Dice on X' and L_u the softmax MSE on U'. Every deep-supervision output gets the
    mixed targets average-pooled to its size, weighted as nnU-Net weights its outputs.

    Paper values: T = 0.5, gamma = 0.75 (eq. 5 prints ``Beta(gamma, 1 - gamma)``; set
    ``mixup_symmetric_beta`` for MixMatch's own ``Beta(alpha, alpha)``).
    lambda_u = 10, not the paper's 1: there L_x is a per-pixel binary cross-entropy and L_u a
    per-pixel squared error of the same single output; here L_x adds nnU-Net's soft Dice and
    L_u averages the squared error over the classes too (as MixMatch, Berthelot et al. 2019,
    whose lambda_U is 75-100). Measured on a 2D model trained on translated phantoms, the
    squared error between two views of real hrT2 slices is 0.023 against a supervised loss of
    0.32, so 1 leaves L_u a few percent of the loss and 10 makes the two comparable.
    Ours as well: nnU-Net's optimizer and schedule (the paper used Adam, lr 2e-4), soft Dice beside
    the paper's cross-entropy (as nnU-Net's Dice + CE), K = 2 views for the label guess
    (identity + one random mirroring of the axes nnU-Net mirrors at inference, MixMatch's
    K = 2), ramp-up of lambda_u over 100 epochs (MixMatch ramps its L_u weight up too).
    """

    sharpen_temperature = 0.5
    mixup_gamma = 0.75
    mixup_symmetric_beta = False
    lambda_u = 10.0
    lambda_u_rampup_epochs = 100
    guess_augmentations = 2

    def _guess_labels(self, unlabeled: torch.Tensor) -> torch.Tensor:
        """Sharpened mean softmax over the identity and ``K - 1`` random mirrorings (no gradient)."""
        net = unwrap_network(self.network)
        axes = [a + 2 for a in (self.inference_allowed_mirroring_axes or ())]
        flips = [f for r in range(1, len(axes) + 1) for f in itertools.combinations(axes, r)]
        views = [()] + random.sample(flips, min(len(flips), self.guess_augmentations - 1))
        probs = sum(torch.softmax(full_resolution(net(unlabeled.flip(f))).float(), 1).flip(f) for f in views)
        return sharpen(probs / len(views), self.sharpen_temperature)

    def train_step(self, batch: dict) -> dict:
        data, target, unlabeled = self.batch_to_device(batch)
        n = data.shape[0]
        with torch.no_grad(), self.autocast_context():
            guessed = self._guess_labels(unlabeled)
        images = torch.cat((data, unlabeled))
        labels = torch.cat((one_hot(full_resolution(target), self.label_manager.num_segmentation_heads), guessed))
        shuffled = torch.randperm(images.shape[0], device=images.device)
        weight = sample_mix_weight(images.shape[0], self.mixup_gamma, self.mixup_symmetric_beta).to(images.device)
        mixed_images, mixed_labels = mixup(images, labels, images[shuffled], labels[shuffled], weight)
        lambda_u = self.lambda_u * sigmoid_rampup(self.current_epoch, self.lambda_u_rampup_epochs)

        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast_context():
            outputs = self.network(mixed_images)
            outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
            targets = pool_soft_targets(mixed_labels, [o.shape[2:] for o in outputs])
            weights = self.loss.weight_factors if self.enable_deep_supervision else (1.0,)
            loss_x = loss_u = 0.0
            for w, out, tgt in zip(weights, outputs, targets):
                if w == 0:
                    continue
                out = out.float()
                loss_x = loss_x + w * (soft_cross_entropy(out[:n], tgt[:n]) + soft_dice_loss(
                    torch.softmax(out[:n], 1), tgt[:n], batch_dice=self.configuration_manager.batch_dice, do_bg=False))
                loss_u = loss_u + w * softmax_mse(out[n:], tgt[n:])
            loss = loss_x + lambda_u * loss_u
        self.backward_and_step(loss)
        return {"loss": loss.detach().cpu().numpy(), "loss_x": loss_x.item(), "loss_u": loss_u.item(),
                "lambda_u": lambda_u}


class nnUNetTrainerMixMatch_debug(DebugTrainerMixin, nnUNetTrainerMixMatch):
    """Tests: 1 epoch of 2 iterations, no ramp-up, final validation without mirroring."""

    lambda_u_rampup_epochs = 0


class nnUNetTrainerMixMatch_demo(DemoBudgetMixin, nnUNetTrainerMixMatch):
    """CPU benchmarks: ``nnUNetTrainer_demo``'s budget (80 epochs of 25 iterations, half-width
    network, batch of 6); the ramp-up keeps the default's share of the run (a tenth: 8 epochs)."""

    lambda_u_rampup_epochs = 8
