"""nnUNetTrainerPresenceAbsence: semi-supervised segmentation through presence <-> absence translation
(Vorontsov et al., "Towards annotation-efficient segmentation via image-to-image translation";
``../shared/papers/translation-segmentation-presence-absence.txt``).

``nnUNetv2_train DATASET 2d FOLD -tr nnUNetTrainerPresenceAbsence`` on a dataset with weak
labels: imagesTr/labelsTr are presence scans with masks, ``imagesTrUnlabeled/`` presence scans
without masks (the target structure is somewhere in them), ``imagesTrAbsence/`` scans known to
show no target structure anywhere. Both pools are preprocessed by nnU-Net's own preprocessor
and streamed through nnU-Net's augmentation (:mod:`nnunet_uda.semi_supervised`); every
``train_step`` gets nnU-Net's labeled batch, ``batch['unlabeled']`` and ``batch['absence']``.
``nnUNetv2_predict -tr nnUNetTrainerPresenceAbsence`` segments with ``g_seg`` (eq. 4).
"""

from pathlib import Path

import torch
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_uda.distributed import unwrap_network
from nnunet_uda.hinge_discriminators import HingeDiscriminatorSet
from nnunet_uda.multiscale_discriminator import discriminator_depth
from nnunet_uda.presence_absence_losses import reconstruction_loss, relative_weights, translation_terms
from nnunet_uda.presence_absence_net import network_from_plans
from nnunet_uda.semi_supervised import LabeledUnlabeledIterator, prepare_unlabeled_pool, unlabeled_dataloader
from nnunet_uda.semi_supervised_trainer import DebugTrainerMixin, SemiSupervisedTrainerMixin
from nnunet_uda.trainers.nnUNetTrainer_demo import DemoBudgetMixin
from nnunet_uda.translation.plots import save_grid
from nnunet_uda.translation_samples import sample_rows


class nnUNetTrainerPresenceAbsence(SemiSupervisedTrainerMixin, nnUNetTrainer):
    """The proposed method (§III-B), nnU-Net 2d configuration.

    Network (:class:`~nnunet_uda.presence_absence_net.PresenceAbsenceNetwork`, widths and
    stages from the plans): encoder with common / unique codes (3:1), common decoder, residual
    decoder shared with the segmentation head (own normalization parameters), compressed long
    skips, spectral normalization everywhere. Per step, with presence patches ``x_P`` (the
    labeled batch, then ``batch['unlabeled']``) and absence patches ``x_A`` (as many, the
    paper's N diseased and N healthy slices)::

        L = w_seg L_seg + w_rec L_rec + w_lat L_lat + w_cyc L_cyc + w_adv L_adv      (eq. 6)

    ``L_seg`` nnU-Net's Dice + CE of ``g_seg`` on the labeled patches (the paper: soft Dice,
    eq. 7), ``L_rec``, ``L_lat``, ``L_cyc`` the L1 losses of eqs. 8-10
    (:mod:`nnunet_uda.presence_absence_losses`), ``L_adv = -D_A(x_PA) - D_P(x_AP)`` (hinge,
    eq. 11); then one step of the discriminators ``D_A`` (real ``x_A``, made ``x_PA``) and
    ``D_P`` (real ``x_P``, made ``x_AP``): multi-scale, spectral norm, hinge loss
    (:class:`~nnunet_uda.hinge_discriminators.HingeDiscriminatorSet`, saved in nnU-Net's
    checkpoints, equal on every DDP rank). The ``w`` are the paper's weights for 1 % labels
    (adv 3, rec 50, lat 1, cyc 50, seg 0.01) normalized to sum to 1 (§IV-B); the paper used
    ``lambda_seg`` 10, 100 and 1000 with 10, 20 and 100 % labels. AMSGrad, lr 1e-4, betas
    (0.5, 0.999), constant, for the network and the discriminators (nnU-Net: SGD, poly).
    No deep supervision. Every ``samples_every`` epochs (and at the last) a PNG grid of
    translations goes to ``<fold>/translation_samples/``.
    """

    lambda_adv = 3.0
    lambda_rec = 50.0
    lambda_lat = 1.0
    lambda_cyc = 50.0
    lambda_seg = 0.01
    learning_rate = 1e-4
    adam_betas = (0.5, 0.999)
    discriminator_channels = 64
    discriminator_scales = 3
    discriminator_max_depth = 4
    width = 1.0
    spectral_norm = True
    autoencoding_baseline = False
    absence_batch_size = None  # None: as many as presence patches (labeled + unlabeled)
    samples_every = 50
    samples_per_domain = 2

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.enable_deep_supervision = False
        self.initial_lr = self.learning_rate
        self.weight_decay = 0.0
        self.discriminators = None
        self._samples = None

    @classmethod
    def build_network_architecture(cls, plans_manager, configuration_manager, num_input_channels: int,
                                   num_output_channels: int, enable_deep_supervision: bool = True) -> torch.nn.Module:
        return network_from_plans(configuration_manager, num_input_channels, num_output_channels, cls.width,
                                  cls.spectral_norm, cls.autoencoding_baseline)

    def set_deep_supervision_enabled(self, enabled: bool):
        """Nothing to switch: the network has one output (``enable_deep_supervision`` is False);
        nnU-Net still calls this around its final validation."""

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.network.parameters(), self.learning_rate, betas=self.adam_betas,
                                     weight_decay=self.weight_decay, amsgrad=True)
        return optimizer, PolyLRScheduler(optimizer, self.learning_rate, self.num_epochs, exponent=0.0)

    def initialize(self):
        super().initialize()
        self.discriminators = self.build_discriminators()
        self.print_to_log_file("objective weights (normalized): " + ", ".join(
            f"{k} {v:.3g}" for k, v in self.loss_weights().items()))

    def build_discriminators(self) -> HingeDiscriminatorSet | None:
        depth = discriminator_depth(self.configuration_manager.patch_size, self.discriminator_scales,
                                    self.discriminator_max_depth)
        return HingeDiscriminatorSet(("A", "P"), self.num_input_channels, self.discriminator_channels,
                                     self.discriminator_scales, depth, self.learning_rate, self.adam_betas,
                                     self.num_epochs, self.device)

    def get_dataloaders(self):
        # the pools first: a missing folder is then reported before nnU-Net starts its workers
        absence = prepare_unlabeled_pool(self, progress=self.local_rank == 0, absence=True)
        unlabeled = prepare_unlabeled_pool(self, progress=self.local_rank == 0)
        labeled, val = nnUNetTrainer.get_dataloaders(self)
        presence_size = self.batch_size + (self.unlabeled_batch_size or self.batch_size)
        streams = {"absence": unlabeled_dataloader(self, *absence, batch_size=self.absence_batch_size or presence_size)}
        return LabeledUnlabeledIterator(
            labeled, unlabeled_dataloader(self, *unlabeled, batch_size=self.unlabeled_batch_size), streams), val

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        if self.discriminators is not None:
            self.discriminators.start_epoch(self.current_epoch)

    def loss_weights(self) -> dict[str, float]:
        return relative_weights({"seg": self.lambda_seg, "rec": self.lambda_rec, "lat": self.lambda_lat,
                                 "cyc": self.lambda_cyc, "adv": self.lambda_adv})

    def objective_terms(self, out: dict, presence, absence, target) -> dict[str, torch.Tensor]:
        """The unweighted terms of eq. 6 (``presence[:len(target)]`` are the labeled patches)."""
        terms = translation_terms(out, presence, absence)
        terms["seg"] = self.loss(out["segmentation"][:target.shape[0]], target)
        terms["adv"] = self.discriminators.generator_loss({"A": out["x_pa"], "P": out["x_ap"]})
        return terms

    def train_step(self, batch: dict) -> dict:
        data, target, unlabeled = self.batch_to_device(batch)
        absence = batch["absence"]["data"].to(self.device, non_blocking=True)
        presence = torch.cat((data, unlabeled))
        weights = self.loss_weights()
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast_context():
            out = self.network(presence, absence)
            terms = self.objective_terms(out, presence, absence, target)
            loss = sum(weights[k] * terms[k] for k in weights)
        self.backward_and_step(loss)
        logged = {k: v.item() for k, v in terms.items()}
        if self.discriminators is not None:
            logged["discriminators"] = self.discriminators.step(
                {"A": absence.float(), "P": presence.float()}, {"A": out["x_pa"].float(), "P": out["x_ap"].float()})
        k = self.samples_per_domain
        self._samples = (presence[:k].detach(), absence[:k].detach())
        return {"loss": loss.detach().cpu().numpy(), **logged}

    def on_train_epoch_end(self, train_outputs: list[dict]):
        super().on_train_epoch_end(train_outputs)
        epoch = self.current_epoch
        if self.local_rank == 0 and self._samples is not None and (
                (epoch + 1) % self.samples_every == 0 or epoch == self.num_epochs - 1):
            columns, rows = sample_rows(unwrap_network(self.network), *self._samples)
            folder = Path(self.output_folder) / "translation_samples"
            folder.mkdir(exist_ok=True)
            save_grid(rows, folder / f"epoch_{epoch:04d}.png", f"{self.__class__.__name__}, epoch {epoch}", columns)

    def save_checkpoint(self, filename: str) -> None:
        super().save_checkpoint(filename)
        if self.discriminators is not None and self.local_rank == 0 and not self.disable_checkpointing:
            self.discriminators.save_to(filename)

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        super().load_checkpoint(filename_or_checkpoint)
        if self.discriminators is not None:
            self.discriminators.load_from(filename_or_checkpoint)


class nnUNetTrainerPresenceAbsence_AE(nnUNetTrainerPresenceAbsence):
    """The "AE baseline" of the paper's tables (§IV-A): segmentation plus a reconstruction decoder
    (no long skips) that autoencodes presence and absence patches,
    ``L = w_seg L_seg + w_rec (L1(x_P, x_PP) + L1(x_A, x_AA))`` with ``lambda_rec = lambda_seg = 1``
    (normalized); no translation, no discriminators, no spectral normalization."""

    lambda_rec = 1.0
    lambda_seg = 1.0
    autoencoding_baseline = True
    spectral_norm = False

    def build_discriminators(self):
        return None

    def loss_weights(self) -> dict[str, float]:
        return relative_weights({"seg": self.lambda_seg, "rec": self.lambda_rec})

    def objective_terms(self, out: dict, presence, absence, target) -> dict[str, torch.Tensor]:
        return {"seg": self.loss(out["segmentation"][:target.shape[0]], target),
                "rec": reconstruction_loss(out, presence, absence)}


class nnUNetTrainerPresenceAbsence_debug(DebugTrainerMixin, nnUNetTrainerPresenceAbsence):
    """Tests: 1 epoch of 2 iterations, a quarter of the plans' widths, narrow discriminators,
    a sample grid every epoch, final validation without mirroring."""

    width = 0.25
    discriminator_channels = 8
    samples_every = 1


class nnUNetTrainerPresenceAbsence_AE_debug(DebugTrainerMixin, nnUNetTrainerPresenceAbsence_AE):
    """Tests: as ``nnUNetTrainerPresenceAbsence_debug``, for the AE baseline."""

    width = 0.25
    samples_every = 1


class PresenceAbsenceDemoMixin(DemoBudgetMixin):
    """CPU benchmarks: ``nnUNetTrainer_demo``'s budget (80 epochs of 25 iterations, half the
    plans' widths, batches of 6); a sample grid every 10 epochs; AMSGrad at 1e-3 instead of
    1e-4 for the network and the discriminators, because 2000 iterations are about 1 % of the
    paper's brain training (500 epochs of 7729 slices in batches of 20).

    Measured (``benchmarks/presence_absence_accuracy``, 1 of 30 scans labeled, 2-core CPU): at
    1e-4 the segmentation term of the paper's weights fell from 1.08 to 0.80 in 10 epochs and
    nothing was segmented in 80; at 1e-3 it fell to 0.49 in 9 epochs, and with lambda_seg 10 to
    -0.28 in 10 (pseudo Dice VS 0.62-0.89 from epoch 5 on, against at most 0.02 in 17 at 1e-4)."""

    samples_every = 10
    learning_rate = 1e-3


class nnUNetTrainerPresenceAbsence_demo(PresenceAbsenceDemoMixin, nnUNetTrainerPresenceAbsence):
    """CPU benchmarks: the proposed method on :class:`PresenceAbsenceDemoMixin`'s budget."""


class nnUNetTrainerPresenceAbsence_AE_demo(PresenceAbsenceDemoMixin, nnUNetTrainerPresenceAbsence_AE):
    """CPU benchmarks: the AE baseline on :class:`PresenceAbsenceDemoMixin`'s budget."""
