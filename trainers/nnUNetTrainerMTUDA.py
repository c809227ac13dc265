"""nnUNetTrainerMTUDA and nnUNetTrainerLEUDA: label-efficient UDA with a dual teacher (Zhao et al.).

``nnUNetv2_train DATASET 3d_fullres FOLD -tr nnUNetTrainerMTUDA`` on a dataset written by
``nnuda-translate --twins``: imagesTr holds the labeled source scans and their translated
(target-style) twins with the source labels; imagesTrPairs holds every scan of both
domains as a twin pair, channel 0 in the source domain's style (a real source scan, or a
target scan translated back) and channel 1 in the target domain's (the source scan
translated, or the real target scan). The pairs are preprocessed by nnU-Net's own
preprocessor (:func:`nnunet_uda.unlabeled.pair_plans`) and streamed as one two-channel
image, so both views of a patch share nnU-Net's spatial augmentation and mirroring.
"""

import torch
import torch.nn.functional as F
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_uda.adversarial_parts import DiscriminatorSet
from nnunet_uda.distributed import unwrap_network
from nnunet_uda.dual_teacher import DualTeacherNetwork
from nnunet_uda.perturb import perturb_intensity
from nnunet_uda.rampup import sigmoid_rampup
from nnunet_uda.semi_supervised import LabeledUnlabeledIterator, prepare_unlabeled_pool, unlabeled_dataloader
from nnunet_uda.semi_supervised_trainer import (DebugTrainerMixin, SemiSupervisedTrainerMixin, full_resolution,
                                                split_batch)
from nnunet_uda.soft_losses import softmax_mse
from nnunet_uda.trainers.nnUNetTrainer_demo import DemoBudgetMixin


class nnUNetTrainerMTUDA(SemiSupervisedTrainerMixin, nnUNetTrainer):
    """MT-UDA (Zhao et al., MICCAI 2021; ``../shared/papers/label-efficient-uda-mt-uda-le-uda.txt`` §3.1).

    Per step, with a labeled batch ``(x, y)`` from imagesTr and a batch of twin pairs
    ``(u_s, u_t)`` (source-style and target-style view of one patch)::

        L = L_sup(f(x), y)
            + w_intra(t) * mse(softmax f(u_s + n_1), softmax f'_intra(u_s + n_2))
            + w_inter(t) * mse(softmax f(u_s + n_1), softmax f'_inter(u_t + n_3))

    ``f`` the student, ``f'_intra`` the intra-domain teacher (source-domain images: real
    source and target scans translated back), ``f'_inter`` the inter-domain teacher, which
    sees the target-domain twin of the student's image; ``n_i`` independent intensity
    perturbations (:func:`~nnunet_uda.perturb.perturb_intensity`), ``L_sup`` nnU-Net's Dice +
    CE on labeled source scans and their translated twins, ``w(t) = weight *
    sigmoid_rampup(epoch, rampup)``. After each optimizer step both teachers take an EMA
    step with :func:`~nnunet_uda.dual_teacher.warmup_decay`. Validation and
    ``nnUNetv2_predict`` run the inter-domain teacher.

    Values: EMA decay 0.999 for both teachers and the warm-up average, as in the authors'
    public code. Consistency weights 10 with a ramp-up over a tenth of the run, as
    :class:`nnUNetTrainerMeanTeacher` (its docstring has the measurement): the authors' code
    weighs a per-voxel mean squared error by 0.1, which on our softmax MSE is a small
    fraction of the supervised loss (``nnUNetTrainerMTUDA_authorsWeights`` keeps 0.1). Not
    used: the authors' extra inter-domain pairs with cycle reconstructions (s->t->s, t->s->t).
    """

    intra_ema_decay = 0.999
    inter_ema_decay = 0.999
    intra_consistency_weight = 10.0
    inter_consistency_weight = 10.0
    consistency_rampup_epochs = 100
    noise_std = 0.1
    intensity_scale_range = (0.9, 1.1)
    intensity_shift_std = 0.1

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self._iteration = 0

    @staticmethod
    def build_network_architecture(plans_manager, configuration_manager, num_input_channels: int,
                                   num_output_channels: int, enable_deep_supervision: bool = True) -> torch.nn.Module:
        return DualTeacherNetwork(nnUNetTrainer.build_network_architecture(
            plans_manager, configuration_manager, num_input_channels, num_output_channels, enable_deep_supervision))

    def get_dataloaders(self):
        folder, identifiers = prepare_unlabeled_pool(self, progress=self.local_rank == 0, pairs=True)
        labeled, val = nnUNetTrainer.get_dataloaders(self)
        pairs = unlabeled_dataloader(self, folder, identifiers, batch_size=self.unlabeled_batch_size, pairs=True)
        return LabeledUnlabeledIterator(labeled, pairs), val

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self._iteration = 0

    def _perturb(self, x: torch.Tensor) -> torch.Tensor:
        return perturb_intensity(x, self.noise_std, self.intensity_scale_range, self.intensity_shift_std)

    def _weights(self) -> tuple[float, float]:
        ramp = sigmoid_rampup(self.current_epoch, self.consistency_rampup_epochs)
        return self.intra_consistency_weight * ramp, self.inter_consistency_weight * ramp

    def _step(self) -> int:
        """The 0-based optimizer step of this iteration over the whole run (a resumed run counts on)."""
        return self.current_epoch * self.num_iterations_per_epoch + self._iteration

    def student_and_teachers(self, data: torch.Tensor, pairs: torch.Tensor):
        """``(student output on x and u_s, intra-teacher probs on u_s, inter-teacher probs on u_t)``;
        teachers' outputs keep the deep-supervision list when the student has one."""
        net = unwrap_network(self.network)
        source_view, target_view = pairs[:, :1], pairs[:, 1:]
        out = self.network(torch.cat((data, self._perturb(source_view))))
        with torch.no_grad():
            intra = net.teacher_forward("intra", self._perturb(source_view))
            inter = net.teacher_forward("inter", self._perturb(target_view))
        return out, intra, inter

    def consistency_losses(self, student_out, intra, inter) -> tuple[torch.Tensor, torch.Tensor]:
        logits = full_resolution(student_out).float()
        return (softmax_mse(logits, torch.softmax(full_resolution(intra).float(), 1)),
                softmax_mse(logits, torch.softmax(full_resolution(inter).float(), 1)))

    def train_step(self, batch: dict) -> dict:
        data, target, pairs = self.batch_to_device(batch)
        if pairs.shape[1] != 2 * data.shape[1]:
            raise RuntimeError(f"twin pairs have {pairs.shape[1]} channels, expected {2 * data.shape[1]}")
        w_intra, w_inter = self._weights()
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast_context():
            out, intra, inter = self.student_and_teachers(data, pairs)
            labeled_out, unlabeled_out = split_batch(out, data.shape[0])
            supervised = self.loss(labeled_out, target)
            intra_c, inter_c = self.consistency_losses(unlabeled_out, intra, inter)
            loss = supervised + w_intra * intra_c + w_inter * inter_c
            extra = self.extra_student_loss(unlabeled_out, intra, inter)
            if extra is not None:
                loss = loss + extra
        self.backward_and_step(loss)
        unwrap_network(self.network).update_teachers(self._step(), self.intra_ema_decay, self.inter_ema_decay)
        self._iteration += 1
        parts = {"supervised": supervised.item(), "intra_consistency": intra_c.item(),
                 "inter_consistency": inter_c.item(), "consistency_weight": w_inter}
        parts.update(self.after_student_step(unlabeled_out, intra, inter))
        return {"loss": loss.detach().cpu().numpy(), **parts}

    def extra_student_loss(self, student_out, intra, inter):
        """Hook for variants: a further term of the student's loss (None: none)."""
        return None

    def after_student_step(self, student_out, intra, inter) -> dict:
        """Hook for variants: work after the student's step (e.g. a discriminator's); logged terms."""
        return {}


def multi_level_probs(output, size) -> torch.Tensor:
    """Softmax of every deep-supervision output, resized to ``size`` and stacked along channels:
    ``(B, C * levels, *size)`` (one level without deep supervision)."""
    outputs = output if isinstance(output, (list, tuple)) else [output]
    mode = "bilinear" if len(size) == 2 else "trilinear"
    return torch.cat([F.interpolate(torch.softmax(o.float(), 1), size=size, mode=mode, align_corners=False)
                      if tuple(o.shape[2:]) != tuple(size) else torch.softmax(o.float(), 1) for o in outputs], 1)


class nnUNetTrainerLEUDA(nnUNetTrainerMTUDA):
    """LE-UDA (Zhao et al., IEEE TMI 2022; the extended abstract's §3.1): MT-UDA plus dual
    self-ensembling adversarial learning. One discriminator per teacher sees multi-level
    predictions (every deep-supervision output, :func:`multi_level_probs`).

    Our reading of the abstract (the TMI paper's equations are not in ``../shared/papers``
    and the authors' code is unreleased): discriminator ``D_intra`` tells the intra-domain
    teacher's predictions on ``u_s`` ("real") from the student's on ``u_s`` ("fake"),
    ``D_inter`` the inter-domain teacher's on ``u_t`` from the student's on ``u_s``; the
    student adds ``lambda_adv * (bce(D_intra(p), 1) + bce(D_inter(p), 1))``, so its
    predictions take the shape statistics of the self-ensembled teachers' in both domains.
    Discriminators: :class:`~nnunet_uda.discriminator.FCNDiscriminator`, Adam with DMNet's
    settings (:class:`~nnunet_uda.adversarial_parts.DiscriminatorSet`: saved in nnU-Net's
    checkpoints, equal on every DDP rank). ``lambda_adv`` 0.01 as DMNet's (ours).
    """

    lambda_adv = 0.01
    discriminator_lr = 1e-5
    discriminator_weight_decay = 5e-5
    discriminator_channels = 64

    def initialize(self):
        super().initialize()
        levels = len(self._get_deep_supervision_scales()) if self.enable_deep_supervision else 1
        self.discriminators = DiscriminatorSet(
            ("intra", "inter"), self.label_manager.num_segmentation_heads * levels,
            len(self.configuration_manager.patch_size), self.discriminator_channels, self.discriminator_lr,
            self.discriminator_weight_decay, self.num_epochs, self.device)

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.discriminators.start_epoch(self.current_epoch)

    def _fake(self, student_out) -> torch.Tensor:
        full = full_resolution(student_out)
        return multi_level_probs(student_out, full.shape[2:])

    def extra_student_loss(self, student_out, intra, inter):
        fake = self._fake(student_out)
        return self.lambda_adv * self.discriminators.generator_loss({"intra": fake, "inter": fake})

    def after_student_step(self, student_out, intra, inter) -> dict:
        fake = self._fake(student_out).detach()
        size = fake.shape[2:]
        loss = self.discriminators.step({"intra": multi_level_probs(intra, size), "inter": multi_level_probs(inter, size)},
                                        {"intra": fake, "inter": fake})
        return {"discriminators": loss}

    def save_checkpoint(self, filename: str) -> None:
        super().save_checkpoint(filename)
        if self.local_rank == 0 and not self.disable_checkpointing:
            self.discriminators.save_to(filename)

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        super().load_checkpoint(filename_or_checkpoint)
        self.discriminators.load_from(filename_or_checkpoint)


class nnUNetTrainerMTUDA_authorsWeights(nnUNetTrainerMTUDA):
    """MT-UDA with the consistency weights of the authors' code (0.1 each)."""

    intra_consistency_weight = 0.1
    inter_consistency_weight = 0.1


class nnUNetTrainerMTUDA_debug(DebugTrainerMixin, nnUNetTrainerMTUDA):
    """Tests: 1 epoch of 2 iterations, no ramp-up, final validation without mirroring."""

    consistency_rampup_epochs = 0


class nnUNetTrainerLEUDA_debug(DebugTrainerMixin, nnUNetTrainerLEUDA):
    """Tests: as ``nnUNetTrainerMTUDA_debug``, with narrow discriminators."""

    consistency_rampup_epochs = 0
    discriminator_channels = 8


class nnUNetTrainerMTUDA_demo(DemoBudgetMixin, nnUNetTrainerMTUDA):
    """CPU benchmarks: ``nnUNetTrainer_demo``'s budget (80 epochs of 25 iterations); the ramp-up
    keeps its share of the run (8 epochs); EMA decay 0.99 (a memory of about 100 of the 2000
    steps, where 0.999 would average half the run)."""

    consistency_rampup_epochs = 8
    intra_ema_decay = 0.99
    inter_ema_decay = 0.99


class nnUNetTrainerLEUDA_demo(DemoBudgetMixin, nnUNetTrainerLEUDA):
    """CPU benchmarks: as ``nnUNetTrainerMTUDA_demo``."""

    consistency_rampup_epochs = 8
    intra_ema_decay = 0.99
    inter_ema_decay = 0.99
