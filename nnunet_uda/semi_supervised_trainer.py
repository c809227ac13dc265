"""Plumbing shared by nnU-Net trainers that learn from labeled + unlabeled batches.

:class:`SemiSupervisedTrainerMixin` (put it before ``nnUNetTrainer`` in the bases) feeds
``train_step`` nnU-Net's labeled batch plus ``batch['unlabeled']`` through
:mod:`nnunet_uda.semi_supervised`, stops both streams at the end, and gives the step the
pieces of nnU-Net's own ``train_step`` (device transfer, autocast, scaled backward with
gradient clipping at 12), so a trainer's ``train_step`` is the paper's loss and nothing
else. :class:`DebugTrainerMixin` makes the ``_debug`` variants used by the tests.
"""

from __future__ import annotations

import numpy as np
import torch
from nnunetv2.utilities.helpers import dummy_context
from torch import autocast

from nnunet_uda.semi_supervised import LabeledUnlabeledIterator, prepare_unlabeled_pool, unlabeled_dataloader


def full_resolution(output):
    """The highest-resolution output of a network with or without deep supervision."""
    return output[0] if isinstance(output, (list, tuple)) else output


def split_batch(output, n: int):
    """``(output[:n], output[n:])`` along the batch axis, for a tensor or a deep-supervision list."""
    if isinstance(output, (list, tuple)):
        return [o[:n] for o in output], [o[n:] for o in output]
    return output[:n], output[n:]


class SemiSupervisedTrainerMixin:
    """Labeled + unlabeled stream and nnU-Net's step mechanics for ``nnUNetTrainer`` subclasses.

    Softmax segmentation only: region-based training and ignore labels are rejected at
    ``initialize`` (the soft targets of these methods are class distributions).
    """

    unlabeled_batch_size = None  # None: the trainer's (per-rank) labeled batch size

    def initialize(self):
        if self.label_manager.has_regions or self.label_manager.has_ignore_label:
            raise NotImplementedError(f"{self.__class__.__name__} supports plain label maps only "
                                      "(no region-based training, no ignore label)")
        super().initialize()

    def get_dataloaders(self):
        # the pool first: a missing one is then reported before nnU-Net starts its workers
        pool = prepare_unlabeled_pool(self, progress=self.local_rank == 0)
        labeled, val = super().get_dataloaders()
        unlabeled = unlabeled_dataloader(self, *pool, batch_size=self.unlabeled_batch_size)
        return LabeledUnlabeledIterator(labeled, unlabeled), val

    def on_train_end(self):
        super().on_train_end()
        if isinstance(self.dataloader_train, LabeledUnlabeledIterator):
            self.dataloader_train._finish()  # nnU-Net's on_train_end stops only its own augmenter types

    def on_train_epoch_end(self, train_outputs: list[dict]):
        super().on_train_epoch_end(train_outputs)
        parts = {k: float(np.mean([o[k] for o in train_outputs])) for k in train_outputs[0] if k != "loss"}
        if parts:
            self.print_to_log_file("loss terms (this rank): " + ", ".join(f"{k} {v:.4f}" for k, v in parts.items()))

    def batch_to_device(self, batch: dict):
        """``(data, target, unlabeled data)`` on the trainer's device; target as nnU-Net gives it."""
        target = batch["target"]
        target = [t.to(self.device, non_blocking=True) for t in target] if isinstance(target, list) \
            else target.to(self.device, non_blocking=True)
        return (batch["data"].to(self.device, non_blocking=True), target,
                batch["unlabeled"]["data"].to(self.device, non_blocking=True))

    def autocast_context(self):
        """nnU-Net's mixed precision: autocast on CUDA only."""
        return autocast(self.device.type, enabled=True) if self.device.type == "cuda" else dummy_context()

    def backward_and_step(self, loss: torch.Tensor) -> None:
        """nnU-Net's update of the segmentation network: (scaled) backward, clip at 12, step."""
        if self.grad_scaler is not None:
            self.grad_scaler.scale(loss).backward()
            self.grad_scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), 12)
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), 12)
            self.optimizer.step()


class NoMirrorValidationMixin:
    """Final validation without mirroring (its cost on the CPU is mostly the mirrored passes)."""

    def perform_actual_validation(self, save_probabilities: bool = False):
        axes, self.inference_allowed_mirroring_axes = self.inference_allowed_mirroring_axes, None
        try:
            super().perform_actual_validation(save_probabilities)
        finally:
            self.inference_allowed_mirroring_axes = axes


class DebugTrainerMixin(NoMirrorValidationMixin):
    """Test variants: ``debug_epochs`` epochs of ``debug_iterations`` steps, one validation step,
    final validation without mirroring."""

    debug_epochs = 1
    debug_iterations = 2

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = self.debug_epochs
        self.num_iterations_per_epoch = self.debug_iterations
        self.num_val_iterations_per_epoch = 1
