"""Self-training rounds on nnU-Net's epoch counter, and pseudo-labels on disk in nnU-Net's format.

PAST (Dong et al. 2021, Algorithm 1): S_0 is trained supervised; for k = 1..K, S_(k-1)
pseudo-labels X_c (line 7), S_k starts from S_(k-1) (line 8) and trains on them (line 9).
:class:`SelfTrainingSchedule` lays stage 0 and the K rounds end to end on one epoch
counter, so nnU-Net's ``run_training`` loop, checkpointing and ``--c`` stay untouched:
the stage is a function of the epoch. :func:`label_round` writes the pseudo-labels of one
round, resumably and split across DDP ranks; :class:`PseudoLabeledDataset` serves them
to nnU-Net's own data loader.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import blosc2
import numpy as np
import torch
from batchgenerators.utilities.file_and_folder_operations import join, load_pickle
from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
from nnunetv2.training.dataloading.nnunet_dataset import comp_blosc2_params, infer_dataset_class, nnUNetDatasetBlosc2
from tqdm import tqdm

from nnunet_uda.pseudo_labels import (CleaningRule, SelectionStats, bin_confidence, confidence_histogram,
                                      confidence_scores, group_thresholds, make_pseudo_label)

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class SelfTrainingSchedule:
    """Stage 0 (supervised, ``stage0_epochs``) then ``num_rounds`` rounds of ``round_epochs``.

    The learning rate follows nnU-Net's poly schedule, ``lr * (1 - e / E) ** 0.9``, restarted
    at every stage from ``stage0_lr`` or ``round_lr`` (the LR reset of S_k).
    """

    stage0_epochs: int
    round_epochs: int
    num_rounds: int
    stage0_lr: float
    round_lr: float
    q_schedule: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.stage0_epochs < 1 or self.round_epochs < 1 or self.num_rounds < 0:
            raise ValueError(f"bad schedule: {self}")
        if len(self.q_schedule) < self.num_rounds or not all(0 < q <= 1 for q in self.q_schedule):
            raise ValueError(f"q_schedule needs {self.num_rounds} values in (0, 1], got {self.q_schedule}")

    @property
    def num_epochs(self) -> int:
        return self.stage0_epochs + self.num_rounds * self.round_epochs

    def stage_of(self, epoch: int) -> int:
        """0 for stage 0, k for round k; epochs past the end belong to the last stage."""
        if epoch < self.stage0_epochs:
            return 0
        return min(self.num_rounds, 1 + (epoch - self.stage0_epochs) // self.round_epochs)

    def start(self, stage: int) -> int:
        """First epoch of ``stage``."""
        return 0 if stage == 0 else self.stage0_epochs + (stage - 1) * self.round_epochs

    def is_last_epoch_of_stage(self, epoch: int) -> bool:
        return epoch + 1 == self.start(self.stage_of(epoch) + 1)

    def q(self, stage: int) -> float:
        """q_k of round ``stage`` (k >= 1)."""
        return self.q_schedule[stage - 1]

    def lr(self, epoch: int) -> float:
        stage = self.stage_of(epoch)
        length = self.stage0_epochs if stage == 0 else self.round_epochs
        base = self.stage0_lr if stage == 0 else self.round_lr
        return base * (1 - (epoch - self.start(stage)) / length) ** 0.9


class StagedPolyLRScheduler:
    """nnU-Net's ``PolyLRScheduler`` interface (``step(epoch)``), restarted at every stage."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: SelfTrainingSchedule):
        self.optimizer = optimizer
        self.schedule = schedule

    def step(self, current_step: int) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.lr(current_step)


def dataset_json_with_ignore_label(dataset_json: dict) -> dict:
    """A copy of ``dataset_json`` whose labels end with ``"ignore": max + 1`` (nnU-Net's rule).

    Raises:
        ValueError: the dataset already has an ignore label or uses regions.
    """
    labels = dataset_json["labels"]
    if "ignore" in labels:
        raise ValueError("the dataset already has an ignore label; pseudo-labels need it for unselected voxels")
    if not all(isinstance(v, int) for v in labels.values()):
        raise ValueError(f"self-training needs integer labels, not regions: {labels}")
    return {**dataset_json, "labels": {**labels, "ignore": max(labels.values()) + 1}}


def label_ids(dataset_json: dict, names) -> list[int]:
    """The label values of ``names`` in ``dataset_json['labels']``; a clear error for a missing name."""
    labels = dataset_json["labels"]
    missing = [n for n in names if n not in labels]
    if missing:
        raise ValueError(f"labels {missing} not in the dataset's labels {sorted(labels)}")
    return [int(labels[n]) for n in names]


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _save_label(label: np.ndarray, path: Path, patch_size: tuple[int, ...]) -> None:
    blocks, chunks = comp_blosc2_params(label.shape, patch_size, label.itemsize)
    tmp = path.with_name(f".{uuid.uuid4().hex[:8]}.tmp.b2nd")
    blosc2.asarray(np.ascontiguousarray(label), urlpath=str(tmp), chunks=chunks, blocks=blocks,
                   cparams={"codec": blosc2.Codec.LZ4HC, "clevel": 5, "nthreads": 1})
    os.replace(tmp, path)


def _write_label_case(folder: Path, case: str, label: np.ndarray, properties: dict, label_manager,
                      patch_size: tuple[int, ...]) -> None:
    """``<case>_seg.b2nd`` and ``<case>.pkl`` with ``class_locations`` as nnU-Net's preprocessor
    computes them for a dataset with an ignore label (``.pkl`` last)."""
    collect = [*label_manager.foreground_labels, [-1, *label_manager.all_labels]]
    properties = dict(properties)
    properties["class_locations"] = DefaultPreprocessor._sample_foreground_locations(label, collect)
    _save_label(label, folder / f"{case}_seg.b2nd", tuple(patch_size))
    _atomic_write_bytes(folder / f"{case}.pkl", pickle.dumps(properties))


def index_true_labels(cases: dict[str, Path], folder: Path, label_manager, patch_size: tuple[int, ...]) -> None:
    """Copy the true labels of ``cases`` (nnU-Net preprocessed folders) into ``folder`` with the
    class locations nnU-Net's sampler needs once the label manager has an ignore label
    (validation cases, and source cases that keep their labels). Cases already there are kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for case in sorted(cases):
        if not (folder / f"{case}.pkl").is_file():
            _, seg, _, properties = infer_dataset_class(str(cases[case]))(str(cases[case]), [case]).load_case(case)
            _write_label_case(folder, case, np.asarray(seg[:], dtype=np.int16), properties, label_manager, patch_size)


def label_case_done(folder: Path, case: str) -> bool:
    """True if ``case`` of a round folder is complete (its stats file is written last)."""
    return (folder / f"{case}.json").is_file()


SCORES_FOLDER = "scores"
THRESHOLDS_FILE = "thresholds.json"


def _save_uint(array: np.ndarray, path: Path) -> None:
    tmp = path.with_name(f".{uuid.uuid4().hex[:8]}.tmp.b2nd")
    blosc2.asarray(np.ascontiguousarray(array), urlpath=str(tmp), cparams={"codec": blosc2.Codec.LZ4, "nthreads": 1})
    os.replace(tmp, path)


def _score_case(case: str, image_folder: Path, scores: Path, predict_probabilities, num_classes: int) -> None:
    """Pass 1 for one case: argmax and confidence bin per voxel (``<case>.b2nd``), then its
    histogram (``<case>.npy``, written last: a case with it is scored)."""
    data, _, _, _ = infer_dataset_class(str(image_folder))(str(image_folder), [case]).load_case(case)
    with torch.no_grad():
        probabilities = predict_probabilities(torch.from_numpy(np.asarray(data[:], dtype=np.float32)))
    prediction, bins = confidence_scores(probabilities.float().cpu().numpy())
    _save_uint(np.stack((prediction.astype(np.uint16), bins)), scores / f"{case}.b2nd")
    tmp = scores / f".{case}.{uuid.uuid4().hex[:8]}.npy"
    np.save(tmp, confidence_histogram(prediction, bins, num_classes))
    os.replace(tmp, scores / f"{case}.npy")


def label_round(
    cases: dict[str, Path],
    folder: Path,
    predict_probabilities: Callable[[torch.Tensor], torch.Tensor],
    q: float,
    label_manager,
    patch_size: tuple[int, ...],
    cleaning: CleaningRule | None = None,
    rank: int = 0,
    world_size: int = 1,
    barrier: Callable[[], None] = lambda: None,
    progress: bool = True,
    groups: dict[str, str] | None = None,
) -> dict:
    """Pseudo-label every case of X_c for one round (PAST Algorithm 1, line 7), with class
    thresholds over the whole of X_c (:mod:`nnunet_uda.pseudo_labels`), or over each group
    of cases on its own (``groups``).

    Two passes, each resumable case by case:

    1. every case is predicted once; ``scores/<case>.b2nd`` keeps its argmax and confidence
       bin per voxel, ``scores/<case>.npy`` its confidence histogram;
    2. rank 0 sums the histograms of all cases into ``thresholds.json`` (files, not a
       collective, so any DDP backend and a resumed run see the same thresholds); then
       every case's pseudo-label is written from its scores.

    Args:
        cases: ``case -> folder`` of nnU-Net preprocessed data (``<case>.b2nd``, ``<case>.pkl``).
        folder: the round's output folder; per case ``<case>_seg.b2nd`` (label with the
            ignore label, ``(1, *spatial)`` int16), ``<case>.pkl`` (the image's properties
            with ``class_locations`` of the pseudo-label, for nnU-Net's sampler) and
            ``<case>.json`` (stats, written last: a case with it is done and skipped).
            ``scores/`` is removed once the round is complete.
        predict_probabilities: image ``(C_in, *spatial)`` -> softmax ``(C, *spatial)``.
        q: portion kept of the voxels predicted as each class, over all cases.
        label_manager: nnU-Net ``LabelManager`` of a dataset.json that has an ``ignore`` label.
        patch_size: the configuration's patch size (Blosc2 chunking, as nnU-Net does).
        cleaning: optional anatomical cleaning.
        rank, world_size, barrier: DDP; rank r predicts and labels ``sorted(cases)[r::world_size]``,
            rank 0 writes the thresholds and ``summary.json``.
        groups: ``case -> group name`` (every case); each group gets class thresholds of its
            own, so every group keeps the top q of its own voxels of each class. Used for
            the two domains of X_c (translated source, target): over their union, the
            domain the network is surer of (the one it was trained on) fills the top q of
            a class, and the other domain keeps little of it. None: one group, ``"all"``.

    Returns:
        The round summary (also in ``folder/summary.json``): per class the selected
        fraction, mean confidence and threshold (per group), the cases, q; ``groups``
        holds the same counts per group.

    Raises:
        ValueError: ``groups`` misses a case.
    """
    if not label_manager.has_ignore_label:
        raise ValueError("label_round needs a label manager with an ignore label")
    group_of = {case: "all" for case in cases} if groups is None else dict(groups)
    missing = sorted(set(cases) - set(group_of))
    if missing:
        raise ValueError(f"groups has no entry for {len(missing)} case(s), e.g. {missing[:3]}")
    folder = Path(folder)
    scores = folder / SCORES_FOLDER
    num_classes = len(label_manager.all_labels)
    if not (folder / SUMMARY_FILE).is_file():
        scores.mkdir(parents=True, exist_ok=True)
        # split before filtering: every rank must agree on the shares while others are writing
        mine = sorted(cases)[rank::world_size]
        todo = [c for c in mine if not label_case_done(folder, c) and not (scores / f"{c}.npy").is_file()]
        for case in tqdm(todo, desc=f"predict for pseudo-labels (rank {rank})", unit="case",
                         disable=not progress or not todo):
            _score_case(case, cases[case], scores, predict_probabilities, num_classes)
        barrier()
        if rank == 0 and not (folder / THRESHOLDS_FILE).is_file():
            histograms = {c: np.load(scores / f"{c}.npy") for c in cases}
            record = {"q": q, "groups": {g: {"bins": t.tolist(), "confidence": bin_confidence(t - 0.5).tolist()}
                                         for g, t in group_thresholds(histograms, group_of, q).items()}}
            _atomic_write_bytes(folder / THRESHOLDS_FILE, json.dumps(record).encode())
        barrier()
        thresholds = json.loads((folder / THRESHOLDS_FILE).read_text())["groups"]
        todo = [c for c in mine if not label_case_done(folder, c)]
        for case in tqdm(todo, desc=f"pseudo-labels q={q:g} (rank {rank})", unit="case",
                         disable=not progress or not todo):
            prediction, bins = blosc2.open(str(scores / f"{case}.b2nd"), mode="r")[:]
            label, stats = make_pseudo_label(prediction, bins, np.asarray(thresholds[group_of[case]]["bins"]),
                                             label_manager.ignore_label, cleaning)
            properties = load_pickle(join(str(cases[case]), case + ".pkl"))
            _write_label_case(folder, case, label[None], properties, label_manager, patch_size)
            _atomic_write_bytes(folder / f"{case}.json", json.dumps(stats.__dict__).encode())
        barrier()
        if rank == 0:
            per_group = {g: SelectionStats.zeros(num_classes) for g in sorted(set(group_of[c] for c in cases))}
            for case in sorted(cases):
                per_group[group_of[case]] += SelectionStats(**json.loads((folder / f"{case}.json").read_text()))
            total = sum(per_group.values(), SelectionStats.zeros(num_classes))
            thresholds = json.loads((folder / THRESHOLDS_FILE).read_text())["groups"]
            summary = {"q": q, "num_cases": len(cases), "cases": sorted(cases),
                       "labels": [int(c) for c in label_manager.all_labels], **total.summary(),
                       "threshold_confidence": {g: t["confidence"] for g, t in thresholds.items()},
                       "groups": {g: stats.summary() for g, stats in per_group.items()}}
            _atomic_write_bytes(folder / SUMMARY_FILE, json.dumps(summary, indent=2).encode())
            shutil.rmtree(scores, ignore_errors=True)
        barrier()
    return json.loads((folder / SUMMARY_FILE).read_text())


class PseudoLabeledDataset(nnUNetDatasetBlosc2):
    """nnU-Net Blosc2 dataset whose image and label of a case come from different folders.

    ``sources[case] = (image_folder, label_folder)``: ``<case>.b2nd`` is read from the first,
    ``<case>_seg.b2nd`` and ``<case>.pkl`` from the second (a pseudo-label round folder, or
    nnU-Net's own folder for cases that keep their true label). ``nnUNetDataLoader`` uses
    it like any nnU-Net dataset.
    """

    def __init__(self, sources: dict[str, tuple[Path, Path]]):
        self.sources = {k: (str(a), str(b)) for k, (a, b) in sources.items()}
        super().__init__("", sorted(self.sources))

    def load_case(self, identifier: str):
        image_folder, label_folder = self.sources[identifier]
        dparams = {"nthreads": 1}
        data = blosc2.open(urlpath=join(image_folder, identifier + ".b2nd"), mode="r", dparams=dparams, **self.mmap_kwargs)
        seg = blosc2.open(urlpath=join(label_folder, identifier + "_seg.b2nd"), mode="r", dparams=dparams, **self.mmap_kwargs)
        return data, seg, None, load_pickle(join(label_folder, identifier + ".pkl"))
