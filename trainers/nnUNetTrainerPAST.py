"""nnUNetTrainerPAST: PAST self-training (Dong et al. 2021, Algorithm 1) in one nnU-Net run.

``nnUNetv2_train DATASET 3d_fullres FOLD -tr nnUNetTrainerPAST``; the dataset's imagesTr are
the (translated) labeled source cases, imagesTrUnlabeled the real target scans.
"""

import shutil
from os.path import isdir, join

import torch
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_uda.pseudo_labels import CleaningRule
from nnunet_uda.self_training import (PseudoLabeledDataset, SelfTrainingSchedule, StagedPolyLRScheduler,
                                      dataset_json_with_ignore_label, index_true_labels, label_ids,
                                      label_round)
from nnunet_uda.semi_supervised import ddp_rank_world, prepare_unlabeled_pool
from nnunet_uda.semi_supervised_trainer import NoMirrorValidationMixin
from nnunet_uda.structure_augmentation import StructureAugmentationMixin
from nnunet_uda.trainers.nnUNetTrainer_demo import DemoScaleMixin


class nnUNetTrainerPAST(StructureAugmentationMixin, nnUNetTrainer):
    """Stage 0: supervised S_0 on imagesTr. Rounds k = 1..K: S_(k-1) predicts the unlabeled pool
    (nnU-Net's sliding window, preprocessed space), class-balanced top-q_k voxels become
    pseudo-labels (the rest nnU-Net's ignore label), S_k starts from S_(k-1) with a fresh
    optimizer and the learning rate reset, and trains on them together with the labeled
    (translated) training cases of the fold and their true labels.

    Source labels (``keep_source_labels``, our default): Algorithm 1 of the paper pseudo-labels
    all of X_c = {translated source; target}, i.e. it replaces the translated scans' true labels
    by S_(k-1)'s top-q voxels. CBST (which PAST follows for the top-q selection) keeps the source
    labels, and so do we: a structure S_0 has not learned yet gets no pseudo-labels on either
    domain and is then never learned. Measured on ``nnuda-demo``'s phantoms (seed 0, 2d, the
    same stage 0 of 1000 iterations that found no cochlea; mean Dice on the 4 validation / 8
    unlabeled training hrT2 scans): stage 0 VS 0.29 / 0.29; rounds on the paper's X_c VS 0.20 /
    0.21 (a rerun 0.16 / 0.19), cochlea 0 / 0; rounds keeping the source labels VS 0.35 / 0.34,
    cochlea 0.26 / 0.30. ``nnUNetTrainerPAST_pseudoSource`` is the paper's X_c.

    The stage is a function of nnU-Net's epoch counter (stage 0, then ``round_epochs`` per
    round), so ``run_training``, checkpoints and ``--c`` are nnU-Net's: a checkpoint is written
    at the end of every stage (also kept as ``checkpoint_stage<k>.pth``), pseudo-labels are
    files written case by case (``pseudo_labels/round_<k>/``, with ``summary.json``), and a
    resumed run recomputes only the cases not yet written.

    Learning rate of the rounds (``round_lr``): 0.008, not the 0.08 the paper prints. With
    nnU-Net's SGD (momentum 0.99, Nesterov) 0.08 is eight times nnU-Net's own 0.01, which
    restarts training far from the converged S_(k-1); the same authors' PAST 2.0 (CrossMoDA
    2022 winner) used 0.008. Measured at CPU scale (benchmarks/semi_supervised_accuracy:
    hrT2 phantoms, 3 of 30 scans labeled, ``_demo`` budget, one seed), both runs continuing
    from the same S_0 (tumour Dice 0.57 on 10 held-out scans): 0.008 ends at 0.41, 0.08 at
    0.20. A single small run, but it points the same way as the argument.
    Not in the paper, our choices: round length 250 epochs, q_2 = 0.7 (q grows per round as
    in CBST), class thresholds as in CBST (see nnunet_uda.pseudo_labels) but per domain: the
    translated source cases and the target cases of X_c each keep the top q of their own voxels
    of every class (``thresholds_per_domain``). Over the union, the more confident translated
    scans fill the top q of a hard class: round 1 of a benchmark seed kept 330 cochlea voxels
    on the 10 target scans with shared thresholds, 745 with thresholds per domain. Measured at
    CPU scale (benchmarks/uda_accuracy, two phantom seeds, same stage 0): mean Dice 0.27 / 0.52
    per domain vs 0.26 / 0.37 over the union, cochlea 0.40 / 0.36 vs 0.37 / 0.14.
    ``nnUNetTrainerPAST_sharedThresholds`` keeps one set of thresholds over X_c. (With the source
    labels kept, only target scans are pseudo-labeled, so this matters for the paper's X_c.)
    Structure-level augmentation in every stage (half the samples: VS and cochlea each moved to
    a random quantile of the sample's own intensities, VS U(0.3, 0.97), cochlea U(0.5, 0.99);
    :class:`~nnunet_uda.structure_augmentation.StructureLevelTransform`): the segmenter stops
    trusting how bright the translator and the label edit drew them. The translator draws the
    tumour near the 0.73-0.94 quantile of its volume; real hrT2 shows it there on one benchmark
    site and at 0.35-0.74 on the other, below the image mean, where scaling the normalised
    image cannot move it. Measured (benchmarks/uda_accuracy, two seeds, same translations):
    mean Dice 0.628 / 0.469 and, trained again, 0.553 / 0.525, against 0.494 / 0.404 with the
    scaling (x U(0.5, 1.5), the default before, ``nnUNetTrainerPAST_scaleAug``), which in turn beat no augmentation (0.475 / 0.483
    vs 0.269 / 0.523 in an earlier run). ``nnUNetTrainerPAST_noStructAug`` turns it off;
    ``nnUNetTrainerPAST_structAug`` uses the CrossMoDA 2023 winner's scaling (VS brighter).
    Anatomical pseudo-label cleaning (``clean_pseudo_labels``, on; not in the paper, used by later
    CrossMoDA winners): after the top-q selection, a VS voxel outside the largest VS component
    and a cochlea voxel outside the largest cochlea component of its side become the ignore
    label, so detached blobs that S_(k-1) is sure of are not taught as the structure. The
    translated scans have no inner-ear fluid but the cochlea, so S_0 draws cochlea blobs on the
    real hrT2's other bright inner-ear fluid; cleaning removed about a third of the selected
    cochlea voxels in round 1. Measured (benchmarks/uda_accuracy, two seeds x single and
    per-site translations, rounds from the same stage 0, mean Dice): 0.670 / 0.688 / 0.543 /
    0.515 with cleaning, against 0.628 / 0.651 / 0.469 / 0.531 and, rounds run again, 0.628 /
    0.633 / 0.490 / 0.496 without. ``clean_to_background`` labels the removed blobs background
    instead (``nnUNetTrainerPAST_cleanBackground``: 0.663 / 0.716 / 0.528 / 0.482, not better);
    ``nnUNetTrainerPAST_noClean`` turns cleaning off.

    No ``checkpoint_best.pth``: nnU-Net picks it on its validation cases, here translated
    source scans, which cannot tell which stage segments the target domain best (stage 0,
    trained on exactly that domain, would tend to win). ``checkpoint_final.pth`` is the model.
    """

    stage0_epochs = 1000
    round_epochs = 250
    num_rounds = 2
    q_schedule = (0.6, 0.7)
    round_lr = 0.008
    iterations_per_epoch = 250
    val_iterations_per_epoch = 50
    keep_source_labels = True
    clean_pseudo_labels = True
    clean_to_background = False
    thresholds_per_domain = True
    structure_augmentation_p = 0.5
    structure_quantile_ranges = {"VS": (0.3, 0.97), "cochlea": (0.5, 0.99)}  # noqa: RUF012 (read-only)
    pseudo_label_mirroring = True
    pseudo_label_tile_step_size = 0.5
    unlabeled_site = None  # e.g. "ldn": self-train on the unlabeled scans of one site only (see below)

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_iterations_per_epoch = self.iterations_per_epoch
        self.num_val_iterations_per_epoch = self.val_iterations_per_epoch
        self.schedule = SelfTrainingSchedule(self.stage0_epochs, self.round_epochs, self.num_rounds,
                                             self.initial_lr, self.round_lr, tuple(self.q_schedule))
        self.num_epochs = self.schedule.num_epochs
        self.pseudo_label_manager = self.plans_manager.get_label_manager(dataset_json_with_ignore_label(dataset_json))
        self.pseudo_label_folder = join(self.output_folder, "pseudo_labels")
        self.active_stage = 0
        self.unlabeled_folder, self.unlabeled_ids = None, []

    def configure_optimizers(self):
        optimizer, _ = super().configure_optimizers()
        return optimizer, StagedPolyLRScheduler(optimizer, self.schedule)

    def get_tr_and_val_datasets(self):
        if self.active_stage == 0:
            return super().get_tr_and_val_datasets()
        tr_keys, val_keys = self.do_split()
        round_folder, true_folder = self._round_folder(self.active_stage), self._round_folder("true_labels")
        sources = {case: (folder, round_folder) for case, folder in self._pseudo_label_cases().items()}
        if self.keep_source_labels:
            sources.update({case: (self.preprocessed_dataset_folder, true_folder) for case in tr_keys})
        val_sources = {case: (self.preprocessed_dataset_folder, true_folder) for case in val_keys}
        return PseudoLabeledDataset(sources), PseudoLabeledDataset(val_sources)

    def on_train_start(self):
        if not self.was_initialized:
            self.initialize()
        rank, _, barrier = ddp_rank_world()
        if self.current_epoch == 0 and rank == 0 and isdir(self.pseudo_label_folder):
            shutil.rmtree(self.pseudo_label_folder)  # a fresh run never reuses an older run's pseudo-labels
        barrier()
        self.unlabeled_folder, self.unlabeled_ids = prepare_unlabeled_pool(self)
        self.unlabeled_ids = self._site_cases(self.unlabeled_ids)
        self._enter_stage(self.schedule.stage_of(self.current_epoch))
        super().on_train_start()

    def on_train_epoch_start(self):
        stage = self.schedule.stage_of(self.current_epoch)
        if stage != self.active_stage:
            for loader in (self.dataloader_train, self.dataloader_val):
                if hasattr(loader, "_finish"):
                    loader._finish()
            self._enter_stage(stage)
            self.dataloader_train, self.dataloader_val = self.get_dataloaders()
        super().on_train_epoch_start()

    def on_epoch_end(self):
        self._best_ema = float("inf")  # never "improved": no checkpoint_best (see the class docstring)
        super().on_epoch_end()
        finished = self.current_epoch - 1
        if self.schedule.is_last_epoch_of_stage(finished) and self.current_epoch < self.num_epochs:
            self.current_epoch -= 1  # as nnU-Net's on_train_end: the checkpoint stores current_epoch + 1
            self.save_checkpoint(join(self.output_folder, "checkpoint_latest.pth"))
            self.current_epoch += 1
            if self.local_rank == 0 and not self.disable_checkpointing:
                stage = self.schedule.stage_of(finished)
                shutil.copyfile(join(self.output_folder, "checkpoint_latest.pth"),
                                join(self.output_folder, f"checkpoint_stage{stage}.pth"))

    def _enter_stage(self, stage: int) -> None:
        if stage > 0:
            rank, _, barrier = ddp_rank_world()
            if rank == 0:
                tr_keys, val_keys = self.do_split()
                keys = val_keys + (tr_keys if self.keep_source_labels else [])
                index_true_labels({k: self.preprocessed_dataset_folder for k in keys}, self._round_folder("true_labels"),
                                  self.pseudo_label_manager, tuple(self.configuration_manager.patch_size))
            barrier()
            self._pseudo_label(stage)
            self.label_manager = self.pseudo_label_manager
            self.loss = self._build_loss()
            if self.current_epoch == self.schedule.start(stage):
                self.optimizer, self.lr_scheduler = self.configure_optimizers()
        self.active_stage = stage

    def _site_cases(self, ids: list[str]) -> list[str]:
        """With ``unlabeled_site``, the unlabeled cases whose name contains it: a site-specific
        model (PAST's final entry self-trained one per site, nnUnetCon, and ``nnuda-submit``
        routes each scan to its site's model)."""
        if self.unlabeled_site is None:
            return ids
        mine = [k for k in ids if self.unlabeled_site in k]
        if not mine:
            raise RuntimeError(f"unlabeled_site={self.unlabeled_site!r}: no unlabeled case name contains it "
                               f"(cases: {', '.join(sorted(ids)[:5])}{', ...' if len(ids) > 5 else ''})")
        self.print_to_log_file(f"unlabeled_site={self.unlabeled_site!r}: {len(mine)} of {len(ids)} unlabeled cases")
        return mine

    def _round_folder(self, stage) -> str:
        return join(self.pseudo_label_folder, f"round_{stage}" if isinstance(stage, int) else stage)

    def _pseudo_label_cases(self) -> dict:
        """X_c: case -> folder of its preprocessed image."""
        tr_keys, val_keys = self.do_split()
        clash = sorted(set(self.unlabeled_ids) & set(tr_keys + val_keys))
        if clash:
            raise RuntimeError(f"unlabeled cases share names with labeled ones: {clash[:3]}")
        cases = {} if self.keep_source_labels else {k: self.preprocessed_dataset_folder for k in tr_keys}
        cases.update({k: str(self.unlabeled_folder) for k in self.unlabeled_ids})
        return cases

    def _threshold_groups(self) -> dict | None:
        """With ``thresholds_per_domain``, translated source cases and target cases each get
        class thresholds of their own (see ``label_round``); otherwise one set over X_c."""
        if not self.thresholds_per_domain:
            return None
        return {case: "target" if case in set(self.unlabeled_ids) else "source" for case in self._pseudo_label_cases()}

    def _cleaning_rule(self):
        if not self.clean_pseudo_labels:
            return None
        vs, cochlea = label_ids(self.dataset_json, ("VS", "cochlea"))
        # axis 2 of the image array (x, left-right in scanner-aligned scans) after nnU-Net's transpose
        return CleaningRule((vs,), (cochlea,), list(self.plans_manager.transpose_forward).index(2),
                            to_background=self.clean_to_background)

    def _pseudo_label(self, stage: int) -> None:
        rank, world, barrier = ddp_rank_world()
        network = self.network.module if self.is_ddp else self.network
        self.set_deep_supervision_enabled(False)
        predictor = nnUNetPredictor(tile_step_size=self.pseudo_label_tile_step_size, use_gaussian=True,
                                    use_mirroring=self.pseudo_label_mirroring,
                                    perform_everything_on_device=self.device.type == "cuda",
                                    device=self.device, verbose=False, allow_tqdm=False)
        predictor.manual_initialization(network, self.plans_manager, self.configuration_manager, None,
                                        self.dataset_json, self.__class__.__name__,
                                        self.inference_allowed_mirroring_axes)
        summary = label_round(
            self._pseudo_label_cases(), self._round_folder(stage),
            lambda image: torch.softmax(predictor.predict_sliding_window_return_logits(image).float(), 0),
            self.schedule.q(stage), self.pseudo_label_manager, tuple(self.configuration_manager.patch_size),
            self._cleaning_rule(), rank, world, barrier, progress=rank == 0, groups=self._threshold_groups())
        self.set_deep_supervision_enabled(self.enable_deep_supervision)
        self.print_to_log_file(f"round {stage}: q={summary['q']}, selected fraction per class "
                               f"{summary['selected_fraction']}, mean confidence {summary['mean_confidence']}")
        for group, stats in summary["groups"].items():
            self.print_to_log_file(f"round {stage}, {group}: voxels predicted per class {stats['predicted_voxels']}, "
                                   f"kept {stats['selected_voxels']}")


class nnUNetTrainerPAST_noClean(nnUNetTrainerPAST):
    """PAST without anatomical pseudo-label cleaning (its default until 2026-12-07): every
    selected voxel keeps its class."""

    clean_pseudo_labels = False


class nnUNetTrainerPAST_clean(nnUNetTrainerPAST):
    """PAST with anatomical pseudo-label cleaning, PAST's default since 2026-12-07 (the same
    trainer; kept so models trained under this name load)."""

    clean_pseudo_labels = True


class nnUNetTrainerPAST_cleanBackground(nnUNetTrainerPAST):
    """PAST with anatomical pseudo-label cleaning whose removed blobs become background (not
    ignored): a detached VS blob or a second cochlea on one side is taught as "not this
    structure" on the target scans themselves."""

    clean_to_background = True


class nnUNetTrainerPAST_pseudoSource(nnUNetTrainerPAST):
    """PAST's Algorithm 1 as printed: the rounds pseudo-label the translated source scans too
    (X_c = {translated source; target}) instead of keeping their true labels."""

    keep_source_labels = False


class nnUNetTrainerPAST_sharedThresholds(nnUNetTrainerPAST):
    """PAST with the paper's X_c (translated source pseudo-labeled too) and one set of class
    thresholds over all of it (translated source and target together), as CBST computes them
    over its whole target set."""

    keep_source_labels = False
    thresholds_per_domain = False


class nnUNetTrainerPAST_structAug(nnUNetTrainerPAST):
    """PAST with the CrossMoDA 2023 winner's structure-intensity augmentation: p = 0.1 per
    sample, VS x U(1.2, 2), cochlea x U(0.5, 1)."""

    structure_augmentation_p = 0.1
    structure_quantile_ranges = None
    structure_scale_ranges = {"VS": (1.2, 2.0), "cochlea": (0.5, 1.0)}  # noqa: RUF012 (read-only)


class nnUNetTrainerPAST_scaleAug(nnUNetTrainerPAST):
    """PAST with the structure-intensity scaling that was its default before the structure-level
    augmentation: half the samples, VS and cochlea each x U(0.5, 1.5) on the normalised image."""

    structure_quantile_ranges = None
    structure_scale_ranges = {"VS": (0.5, 1.5), "cochlea": (0.5, 1.5)}  # noqa: RUF012 (read-only)


class nnUNetTrainerPAST_noStructAug(nnUNetTrainerPAST):
    """PAST without structure-intensity augmentation."""

    structure_augmentation_p = 0.0


class nnUNetTrainerPAST_debug(NoMirrorValidationMixin, nnUNetTrainerPAST):
    """Tests: 1 epoch per stage, 2 iterations, the paper's X_c (translated source pseudo-labeled
    too) with every option on, final validation without mirroring."""

    stage0_epochs = 1
    round_epochs = 1
    iterations_per_epoch = 2
    val_iterations_per_epoch = 1
    keep_source_labels = False
    clean_pseudo_labels = True
    thresholds_per_domain = True
    structure_augmentation_p = 0.5
    pseudo_label_mirroring = False


class nnUNetTrainerPAST_demo(DemoScaleMixin, nnUNetTrainerPAST):
    """``nnuda-demo``: stage 0 as long as ``nnUNetTrainer_demo`` (2000 iterations, its scale),
    two rounds of 250 iterations, pseudo-labels without mirroring, no final validation (the
    demo scores the validation scans itself)."""

    stage0_epochs = 80
    round_epochs = 10
    iterations_per_epoch = 25
    val_iterations_per_epoch = 2
    pseudo_label_mirroring = False


class nnUNetTrainerPAST_quick(nnUNetTrainerPAST_demo):
    """``nnuda-demo``'s 15-minute budget: stage 0 as long as ``nnUNetTrainer_quick`` (1000
    iterations), then the two rounds of ``nnUNetTrainerPAST_demo``."""

    stage0_epochs = 40
