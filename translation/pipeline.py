"""``nnuda-translate`` end to end: CrossMoDA folder -> translators -> nnU-Net raw dataset.

Work folder (checkpoints, logs, sample grids): by default
``$nnUNet_results/Dataset<ID>_<name>/nnuda_translation__<model>[__per_site][__preserve]/``,
beside the nnU-Net trainings of the same dataset, where an nnU-Net user looks for
trained models; ``-o`` chooses another. It is never inside the input folder. It holds
one run folder per translator: ``all/``, or ``site_<site>/`` per target site with
``--per-site`` (see :mod:`.train` for a run folder's content). Training resumes by
itself from a run folder's checkpoint; a finished run is not trained again.

Sites (``--per-site``, PAST's nnUnetCon): the target scans are grouped by the site token
of their case name (``crossmoda2021_ldn_12`` -> ``ldn``), or, for names without one, by
in-plane matrix size (``448x448``). One translator is trained per site, and every
source volume is translated into every site's style: ``<case>_to_<site>`` in imagesTr,
each with a copy of the case's label.

Raw dataset ``$nnUNet_raw/Dataset<ID>_<name>`` (default name ``CrossMoDA_<src>to<Tgt>``):
``imagesTr`` translated source volumes, ``labelsTr`` the source labels (unchanged),
``imagesTrUnlabeled`` the real ``target_training`` scans, ``imagesTs`` the
``target_validation`` scans when present; ``dataset.json`` records the translation in
its ``nnunet_uda`` key. ``--twins`` adds the labeled source scans themselves to imagesTr
and writes ``imagesTrPairs`` (:func:`synthesize_dataset`).
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk
import torch

from nnunet_uda.cli_utils import check_not_inside, require_dir
from nnunet_uda.crossmoda import (
    SOURCE_TRAINING,
    TARGET_TRAINING,
    TARGET_VALIDATION,
    check_modality,
    image_cases,
    paired_cases,
)
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import read_image
from nnunet_uda.raw_dataset import dataset_folder_name, existing_datasets_with_id, nnunet_raw_root, raw_dataset
from nnunet_uda.translation.config import ModelConfig
from nnunet_uda.translation.slices import build_slice_set, intensity_range, resolve_spacing, site_of_volume
from nnunet_uda.translation.synthesize import image_like, set_label_levels, translate_volume
from nnunet_uda.translation.train import CONFIG, RunOptions, check_run_folder, load_translator, train

ALL = "all"


def default_name(src: str, tgt: str) -> str:
    """``('ceT1', 'hrT2')`` -> ``'CrossMoDA_ceT1toHrT2'``."""
    return f"CrossMoDA_{src}to{tgt[0].upper()}{tgt[1:]}"


def default_workdir(dataset_id: int, name: str, config: ModelConfig, per_site: bool) -> Path:
    """``$nnUNet_results/DatasetXXX_name/nnuda_translation__<model>[__per_site][__preserve]``."""
    results = os.environ.get("nnUNet_results")
    if not results:
        raise InputError("nnUNet_results is not set: export nnUNet_results=/path/to/nnUNet_results, or pass -o WORKDIR")
    sub = f"nnuda_translation__{config.model}" + ("__per_site" if per_site else "") + ("__preserve" if config.preserve_structures else "")
    return Path(results) / dataset_folder_name(dataset_id, name) / sub


@dataclass
class Inputs:
    """The files of a CrossMoDA folder that translation uses."""

    folder: Path
    src: str
    tgt: str
    source: dict[str, tuple[Path, Path]]
    target: dict[str, Path]
    validation: dict[str, Path] = field(default_factory=dict)
    target_sites: dict[str, str] = field(default_factory=dict)

    def sites(self) -> list[str]:
        return sorted(set(self.target_sites.values()))


def find_inputs(folder: Path, src: str, tgt: str) -> Inputs:
    """List the labeled source and unlabeled target volumes; bad input is an :class:`InputError`."""
    check_modality(src)
    check_modality(tgt)
    if src == tgt:
        raise InputError(f"--src and --tgt are both {src}: translation needs two modalities")
    folder = require_dir(Path(folder), "input folder")
    source = paired_cases(folder / SOURCE_TRAINING, src)
    target = image_cases(folder / TARGET_TRAINING, tgt)
    if not target:
        raise InputError(f"no *_{tgt}.nii.gz files in {folder / TARGET_TRAINING}")
    validation = image_cases(folder / TARGET_VALIDATION, tgt) if (folder / TARGET_VALIDATION).is_dir() else {}
    sites = {case: site_of_volume(case, read_image(p)) for case, p in target.items()}
    return Inputs(folder, src, tgt, source, target, validation, sites)


def translator_names(inputs: Inputs, per_site: bool) -> dict[str, dict[str, Path]]:
    """``run name -> target cases`` it learns from: ``all``, or ``site_<site>`` per site."""
    if not per_site:
        return {ALL: dict(inputs.target)}
    return {f"site_{s}": {c: p for c, p in inputs.target.items() if inputs.target_sites[c] == s} for s in inputs.sites()}


def resolved_config(config: ModelConfig, source: list[Path], target: list[Path]) -> ModelConfig:
    """A copy of ``config`` whose slice spacing is fixed from these volumes."""
    cfg = copy.deepcopy(config)
    if cfg.slices.spacing is None:
        images = [read_image(p) for p in source]
        cfg.slices.spacing = round(resolve_spacing(images, [read_image(p) for p in target], cfg.slices), 6)
    return cfg


def train_translators(
    inputs: Inputs, config: ModelConfig, workdir: Path, per_site: bool, device: str = "cpu",
    options: RunOptions | None = None, overwrite: bool = False,
) -> dict[str, Path]:
    """Train (or resume, or reuse) every translator; returns ``run name -> run folder``."""
    check_not_inside(workdir, [inputs.folder])
    runs = {}
    for name, target in translator_names(inputs, per_site).items():
        run_dir = Path(workdir) / name
        cfg = resolved_config(config, [p for p, _ in inputs.source.values()], list(target.values()))
        try:
            check_run_folder(run_dir, cfg)
        except InputError:
            if not overwrite:
                raise
            shutil.rmtree(run_dir)
        src_set = build_slice_set(dict(inputs.source), cfg.slices, f"source ({inputs.folder / SOURCE_TRAINING})",
                                  source=True, seed=cfg.seed)
        tgt_set = build_slice_set({c: (p, None) for c, p in target.items()}, cfg.slices, f"target ({inputs.folder / TARGET_TRAINING})")
        meta = {
            "src": inputs.src, "tgt": inputs.tgt, "site": None if name == ALL else name[len("site_"):],
            "target_sites": sorted({inputs.target_sites[c] for c in target}),
            "target_intensity": list(intensity_range(list(target.values()), cfg.slices)),
            "input_folder": str(inputs.folder.resolve()),
            "source_slices": len(src_set), "target_slices": len(tgt_set),
        }
        train(cfg, src_set, tgt_set, run_dir, device, options, meta)
        runs[name] = run_dir
    return runs


def find_runs(workdir: Path) -> dict[str, Path]:
    """Run folders (``all`` or ``site_*``) with a config in ``workdir``."""
    workdir = Path(workdir)
    runs = {p.name: p for p in sorted(workdir.iterdir()) if (p / CONFIG).is_file()} if workdir.is_dir() else {}
    if not runs:
        raise InputError(f"no translator runs in {workdir}: run the train step first (or pass the work folder with -o)")
    return runs


def synthesize_dataset(
    inputs: Inputs, workdir: Path, dataset_id: int, name: str, device: str = "cpu", overwrite: bool = False,
    raw_root: Path | None = None, batch_size: int = 32, label_levels: dict[int, float] | None = None,
    twins: bool = False, source_label_fraction: float = 1.0,
) -> Path:
    """Write the translated nnU-Net raw dataset from the trained runs in ``workdir``.

    ``label_levels``: ``{label: level}`` drawn into every translated volume after translation
    (:func:`~nnunet_uda.translation.synthesize.set_label_levels`); recorded in dataset.json.

    ``twins`` (the dual-teacher trainers, ``nnUNetTrainerMTUDA``): imagesTr also holds each
    labeled source scan itself (``<case>_src``) beside its translation, and imagesTrPairs
    holds every scan of both domains as a pair (source style, target style): a source scan
    with its translation, a target training scan translated back with itself.
    ``source_label_fraction`` keeps the labels of that share of the source scans (drawn with
    the translator's seed; at least one); the others enter the pairs only. Both need one
    translator for all sites.

    Returns:
        The dataset folder.
    """
    runs = find_runs(workdir)
    check_twin_options(twins, source_label_fraction, per_site=ALL not in runs)
    dev = torch.device(device)
    models = {}
    for run_name, run_dir in runs.items():
        model, cfg, meta = load_translator(run_dir, dev)
        if (meta.get("src"), meta.get("tgt")) != (inputs.src, inputs.tgt):
            raise InputError(f"{run_dir} translates {meta.get('src')} -> {meta.get('tgt')}, not {inputs.src} -> {inputs.tgt}")
        models[run_name] = (model, cfg, meta)
    labeled = labeled_source_cases(sorted(inputs.source), source_label_fraction, next(iter(models.values()))[1].seed)
    with raw_dataset(dataset_id, name, inputs.tgt, raw_root=raw_root, overwrite=overwrite) as writer:
        for case, (img_path, lab_path) in sorted(inputs.source.items()):
            label = read_image(lab_path)
            for run_name, (model, cfg, meta) in models.items():
                arr, ref = translate_volume(model, cfg, img_path, tuple(meta["target_intensity"]), dev, batch_size,
                                            label=lab_path, case=case)
                if label_levels:
                    arr = set_label_levels(arr, sitk.GetArrayFromImage(label), label_levels, *meta["target_intensity"])
                out_case = case if run_name == ALL else f"{case}_to_{meta['site']}"
                if case in labeled:
                    writer.add_labeled(out_case, image_like(arr, ref), label, source=str(img_path))
                if twins:
                    if case in labeled:
                        writer.add_labeled(f"{case}_src", ref, label, source=str(img_path))
                    writer.add_pair(case, ref, image_like(arr, ref))
        if twins:
            model, cfg, meta = models[ALL]
            source_range = intensity_range([p for p, _ in inputs.source.values()], cfg.slices)
            for case, p in sorted(inputs.target.items()):
                arr, ref = translate_volume(model, cfg, p, source_range, dev, batch_size, backward=True)
                writer.add_pair(case, image_like(arr, ref), ref)
        for case, p in sorted(inputs.target.items()):
            writer.add_unlabeled(case, read_image(p))
        for case, p in sorted(inputs.validation.items()):
            writer.add_test(case, read_image(p))
        first = next(iter(models.values()))
        writer.extra = {
            "made_by": "nnuda-translate",
            "source_folder": str(inputs.folder.resolve()),
            "source_modality": inputs.src,
            "target_modality": inputs.tgt,
            "translation_model": first[1].model,
            "translators": {k: {"site": m[2]["site"], "work_folder": str(runs[k].resolve())} for k, m in models.items()},
            "per_site": ALL not in models,
            "preserve_structures": first[1].preserve_structures,
            "label_levels": {str(k): v for k, v in (label_levels or {}).items()},
            "twins": twins,
            "labeled_source_cases": sorted(labeled),
        }
    return writer.destination


def check_twin_options(twins: bool, source_label_fraction: float, per_site: bool) -> None:
    """Refuse, before any work, option combinations ``--twins`` cannot serve.

    Raises:
        InputError: ``--twins`` with one translator per site; a fraction outside (0, 1]; a
            fraction below 1 without ``--twins``.
    """
    if twins and per_site:
        raise InputError("--twins needs one translator for all target scans: leave out --per-site")
    if not 0.0 < source_label_fraction <= 1.0:
        raise InputError(f"--source-label-fraction must be in (0, 1], got {source_label_fraction}")
    if source_label_fraction < 1.0 and not twins:
        raise InputError("--source-label-fraction needs --twins (unlabeled source scans enter the twin pairs only)")


def labeled_source_cases(cases: list[str], fraction: float, seed: int) -> set[str]:
    """The source cases that keep their labels: ``max(1, round(fraction * n))`` of them, drawn
    with ``seed`` (all of them for ``fraction`` 1)."""
    import numpy as np

    if fraction >= 1.0:
        return set(cases)
    keep = max(1, round(fraction * len(cases)))
    order = np.random.default_rng(seed).permutation(len(cases))
    return {sorted(cases)[i] for i in order[:keep]}


def check_output_free(dataset_id: int, name: str, overwrite: bool, raw_root: Path | None = None) -> None:
    """Refuse, before any training, an existing dataset with this id unless ``overwrite``."""
    root = nnunet_raw_root(raw_root)
    existing = existing_datasets_with_id(root, dataset_id)
    if existing and not overwrite:
        raise InputError(f"output exists: {existing[0]} (pass --overwrite to replace it)")
    if existing and existing[0].name != dataset_folder_name(dataset_id, name):
        raise InputError(f"dataset id {dataset_id} is already used by {existing[0]}; choose another id")

