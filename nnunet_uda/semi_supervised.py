"""The unlabeled stream of a semi-supervised nnU-Net trainer, and where it meets the labeled one.

Shared by every trainer that learns from ``imagesTrUnlabeled`` (PAST's pseudo-labelling,
mean teacher, MixMatch, ...). A trainer uses three pieces:

1. :func:`prepare_unlabeled_pool` at ``on_train_start``: nnU-Net's own preprocessor fills
   the cache beside nnU-Net's data (:mod:`nnunet_uda.unlabeled`), lazily, with a progress
   bar, each DDP rank preprocessing its share.
2. :func:`unlabeled_dataloader`: nnU-Net's ``nnUNetDataLoader`` over the cache (random
   patches, no foreground oversampling), with the trainer's own training transforms
   (nnU-Net's augmentation), in nnU-Net's background augmenter; under DDP every rank
   streams its own disjoint shard of the pool.
3. :class:`LabeledUnlabeledIterator`: wraps the labeled augmenter and the unlabeled one;
   ``next()`` gives nnU-Net's labeled batch dict plus ``batch['unlabeled']`` (an
   unlabeled batch dict, ``data`` of shape ``(B, C, *patch)``). Assigned to
   ``trainer.dataloader_train`` in ``get_dataloaders``, so nnU-Net's ``run_training``
   loop stays untouched and ``train_step(batch)`` sees both streams::

       def get_dataloaders(self):
           labeled, val = super().get_dataloaders()
           unlabeled = unlabeled_dataloader(self, *prepare_unlabeled_pool(self))
           return LabeledUnlabeledIterator(labeled, unlabeled), val

   (``on_train_end`` then calls ``self.dataloader_train._finish()``, which stops both.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from batchgenerators.dataloading.nondet_multi_threaded_augmenter import NonDetMultiThreadedAugmenter
from batchgenerators.dataloading.single_threaded_augmenter import SingleThreadedAugmenter
from nnunetv2.training.dataloading.data_loader import nnUNetDataLoader
from nnunetv2.training.dataloading.nnunet_dataset import nnUNetDatasetBlosc2
from nnunetv2.utilities.default_n_proc_DA import get_allowed_n_proc_DA
from torch import distributed as dist

from nnunet_uda.unlabeled import open_unlabeled_pool


def ddp_rank_world() -> tuple[int, int, Callable[[], None]]:
    """``(rank, world_size, barrier)`` of the default process group, or ``(0, 1, no-op)``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), dist.barrier
    return 0, 1, lambda: None


def prepare_unlabeled_pool(trainer, progress: bool = True, pairs: bool = False,
                           absence: bool = False) -> tuple[Path, list[str]]:
    """Preprocess (or reuse) the trainer's unlabeled pool (its twin pairs with ``pairs``, its
    absence scans with ``absence``); ``(cache folder, all identifiers)``."""
    pool = open_unlabeled_pool(trainer.plans_manager.dataset_name, trainer.configuration_name,
                               trainer.plans_manager.plans_name, pairs=pairs, absence=absence)
    rank, world, barrier = ddp_rank_world()
    identifiers = pool.ensure(rank=rank, world_size=world, barrier=barrier, progress=progress and rank == 0)
    return pool.folder, identifiers


def shard(identifiers: list[str], rank: int, world_size: int) -> list[str]:
    """This rank's disjoint share of ``identifiers`` (round robin over the sorted list)."""
    mine = sorted(identifiers)[rank::world_size]
    if not mine:
        raise ValueError(f"rank {rank} of {world_size} gets no unlabeled case: the pool has only {len(identifiers)}")
    return mine


class UnlabeledDataset(nnUNetDatasetBlosc2):
    """nnU-Net's Blosc2 dataset over the unlabeled cache; cases carry no class locations."""

    def load_case(self, identifier: str):
        data, seg, seg_prev, properties = super().load_case(identifier)
        properties.setdefault("class_locations", {})
        return data, seg, seg_prev, properties


class UnlabeledDataLoader(nnUNetDataLoader):
    """``nnUNetDataLoader`` for unlabeled cases: random patches over this rank's shard.

    The ``segmentation`` of an unlabeled case is the preprocessor's nonzero mask, so
    sampling never looks at classes (no oversampling, no ignore-label sampling).
    """

    def __init__(self, dataset, batch_size: int, patch_size, final_patch_size, label_manager, transforms,
                 rank: int = 0, world_size: int = 1):
        super().__init__(dataset, batch_size, patch_size, final_patch_size, label_manager,
                         oversample_foreground_percent=0.0, transforms=transforms)
        self.indices = shard(list(dataset.identifiers), rank, world_size)
        self.has_ignore = False


def unlabeled_dataloader(trainer, folder: Path, identifiers: list[str], batch_size: int | None = None,
                         pairs: bool = False):
    """Stream patches of the unlabeled cache through the trainer's training augmentation.

    Args:
        trainer: an initialized ``nnUNetTrainer`` (its plans, batch size, transforms).
        folder, identifiers: from :func:`prepare_unlabeled_pool`.
        batch_size: default the trainer's (per-rank) batch size.
        pairs: the cache holds twin pairs (two channels per case): both views of a case get
            the same patch, spatial transform and mirroring; intensity transforms are drawn
            per channel, as nnU-Net draws them for a multi-channel image.

    Returns:
        nnU-Net's background augmenter (``SingleThreadedAugmenter`` when
        ``nnUNet_n_proc_DA=0``); ``next()`` gives ``{'data', 'target', 'keys'}``.
    """
    rank, world, _ = ddp_rank_world()
    cm = trainer.configuration_manager
    lm = trainer.label_manager
    rotation, dummy_2d, initial_patch_size, mirror_axes = \
        trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
    transforms = trainer.get_training_transforms(
        cm.patch_size, rotation, trainer._get_deep_supervision_scales(), mirror_axes, dummy_2d,
        use_mask_for_norm=list(cm.use_mask_for_norm) * (2 if pairs else 1), is_cascaded=trainer.is_cascaded,
        foreground_labels=lm.foreground_labels,
        regions=lm.foreground_regions if lm.has_regions else None, ignore_label=lm.ignore_label)
    dataset = UnlabeledDataset(str(folder), list(identifiers))
    loader = UnlabeledDataLoader(dataset, batch_size or trainer.batch_size, initial_patch_size, cm.patch_size, lm,
                                 transforms, rank=rank, world_size=world)
    n_proc = get_allowed_n_proc_DA()
    if n_proc == 0:
        return SingleThreadedAugmenter(loader, None)
    return NonDetMultiThreadedAugmenter(data_loader=loader, transform=None, num_processes=n_proc,
                                        num_cached=max(6, n_proc // 2), seeds=None,
                                        pin_memory=trainer.device.type == "cuda", wait_time=0.002)


class LabeledUnlabeledIterator:
    """One training stream: nnU-Net's labeled batch plus ``batch['unlabeled']``.

    Args:
        labeled: nnU-Net's training augmenter (``trainer.dataloader_train``).
        unlabeled: e.g. :func:`unlabeled_dataloader`.
        extra: further named streams, e.g. ``{'absence': unlabeled_dataloader(...)}``; each
            adds ``batch[name]``.
    """

    def __init__(self, labeled, unlabeled, extra: dict | None = None):
        self.labeled = labeled
        self.unlabeled = unlabeled
        self.extra = dict(extra or {})

    def __iter__(self) -> "LabeledUnlabeledIterator":
        return self

    def __next__(self) -> dict:
        batch = next(self.labeled)
        batch["unlabeled"] = next(self.unlabeled)
        for name, stream in self.extra.items():
            batch[name] = next(stream)
        return batch

    def _finish(self) -> None:
        """Stop the background workers of every stream (nnU-Net's augmenter method name)."""
        for stream in (self.labeled, self.unlabeled, *self.extra.values()):
            if hasattr(stream, "_finish"):
                stream._finish()
