"""``nnuda-submit``: a folder of hrT2 scans in, a folder of CrossMoDA label maps out.

For every ``<case>_hrT2.nii.gz``: find its site, crop the ROI, predict with every model
group the site's routing needs (nnU-Net's own predictor: preprocessing, sliding window,
resampling back), average probabilities within a group, take each structure from its
group (:func:`label_wise`), paste into the full field of view, post-process, and write
``<case>_Label.nii.gz`` (0 background, 1 VS, 2 cochlea) with the scan's exact geometry.
The models are described by a SPEC (:mod:`nnunet_uda.model_spec`).

A scan that cannot be read or segmented is reported and skipped; the others are written,
and the command ends with exit code 2 and the list of failures.

Usage (models trained with the stock CLI; ``--models`` also takes a JSON spec)::

    nnuda-submit -i target_validation -o submission --models 501:nnUNetTrainerPAST:3d_fullres:0,1,2,3,4
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from nnunet_uda.cli_utils import check_not_inside, require_dir, run_cli
from nnunet_uda.crossmoda import LABEL_SUFFIX, image_cases
from nnunet_uda.env import ext_trainer_path, trainers_folder
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import read_image, write_array_like
from nnunet_uda.model_spec import STRUCTURES, ModelRef, SubmissionSpec, load_spec
from nnunet_uda.postprocess import PostProcessing
from nnunet_uda.roi import crop, paste

CHANNELS = ("background", *STRUCTURES)
"""Channel order of the probabilities :func:`label_wise` combines."""


def label_wise(probabilities: dict[str, np.ndarray], routing: dict[str, str]) -> np.ndarray:
    """Combine groups label-wise: structure s is where its group's argmax is s.

    Args:
        probabilities: ``group -> (len(CHANNELS), *spatial)`` softmax probabilities, channels
            in :data:`CHANNELS` order.
        routing: ``structure -> group`` (every structure of :data:`STRUCTURES`).

    Returns:
        uint8 label map ``(*spatial)`` with :data:`STRUCTURES` values; a voxel claimed by two
        structures (from two groups) goes to the one with the higher probability.
    """
    first = next(iter(probabilities.values()))
    label = np.zeros(first.shape[1:], np.uint8)
    best = np.zeros(first.shape[1:], np.float32)
    for structure, value in STRUCTURES.items():
        probs = probabilities[routing[structure]]
        channel = CHANNELS.index(structure)
        p = probs[channel]
        claim = (probs.argmax(0) == channel) & (p > best)
        label[claim] = value
        best[claim] = p[claim]
    return label


class ModelPool:
    """nnU-Net predictors, loaded once per model, returning probabilities in :data:`CHANNELS` order."""

    def __init__(self, device: str = "auto", tta: bool = True, step_size: float = 0.5):
        import torch

        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.tta, self.step_size = tta, step_size
        self._predictors: dict[ModelRef, object] = {}

    def predictor(self, model: ModelRef):
        if model not in self._predictors:
            from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

            for fold in model.folds:
                ckpt = model.folder / (f"fold_{fold}") / model.checkpoint
                if not ckpt.is_file():
                    raise InputError(f"model {model.name}: checkpoint not found: {ckpt}")
            # models trained with our trainers load without the user exporting nnUNet_extTrainer
            os.environ["nnUNet_extTrainer"] = ext_trainer_path([str(trainers_folder())])
            predictor = nnUNetPredictor(tile_step_size=self.step_size, use_mirroring=self.tta,
                                        perform_everything_on_device=self.device.type == "cuda",
                                        device=self.device, allow_tqdm=False)
            predictor.initialize_from_trained_model_folder(str(model.folder), model.folds, model.checkpoint)
            reader = predictor.plans_manager.image_reader_writer_class.__name__
            if reader != "SimpleITKIO":
                raise InputError(f"model {model.name} reads images with {reader}; nnuda-submit needs SimpleITKIO "
                                 "(nnU-Net's default for .nii.gz)")
            self._predictors[model] = predictor
        return self._predictors[model]

    def probabilities(self, model: ModelRef, image: sitk.Image, structures) -> np.ndarray:
        """``(len(CHANNELS), z, y, x)`` softmax of ``model`` on ``image`` (a 3D scan or crop)."""
        predictor = self.predictor(model)
        labels = predictor.dataset_json["labels"]
        missing = [s for s in structures if s not in labels]
        if missing:
            raise InputError(f"model {model.name} has no label {missing[0]!r} (its labels: {', '.join(labels)})")
        data = sitk.GetArrayFromImage(image).astype(np.float32)[None]
        props = {"spacing": [abs(s) for s in image.GetSpacing()[::-1]]}
        _, probs = predictor.predict_single_npy_array(data, props, None, None, True)
        out = np.zeros((len(CHANNELS), *data.shape[1:]), np.float32)
        for i, name in enumerate(CHANNELS):
            if name in labels:
                out[i] = probs[labels[name]]
        return out


def segment_scan(image: sitk.Image, case: str, spec: SubmissionSpec, pool: ModelPool) -> tuple[np.ndarray, dict]:
    """Label map ``(z, y, x)`` of one scan and a record of how it was made."""
    if image.GetDimension() != 3:
        raise InputError(f"expected a 3D scan, got {image.GetDimension()}D")
    size = image.GetSize()
    site, found_by = spec.site(case, size)
    routing = spec.route(site)
    box = spec.roi.box(size) if spec.roi else tuple(slice(0, n) for n in size[::-1])
    part = crop(image, box)
    probabilities = {}
    for group in dict.fromkeys(routing.values()):
        structures = [s for s, g in routing.items() if g is group]
        probabilities[group.name] = np.mean([pool.probabilities(m, part, structures) for m in group.models], axis=0)
    label = paste(label_wise(probabilities, {s: g.name for s, g in routing.items()}), box, image.GetSize()[::-1])
    label = spec.postprocessing(label)
    voxel_mm3 = float(np.prod(image.GetSpacing()))
    record = {"site": site, "site_from": found_by, "groups": {s: g.name for s, g in routing.items()},
              **{f"{s}_mm3": float((label == v).sum() * voxel_mm3) for s, v in STRUCTURES.items()}}
    return label, record


def label_path(output: Path, case: str) -> Path:
    """Where the challenge's evaluation expects the label map of ``case``."""
    return Path(output) / f"{case}_{LABEL_SUFFIX}.nii.gz"


def submit(input_dir: Path, output_dir: Path, spec: SubmissionSpec, pool: ModelPool, overwrite: bool = False,
           resume: bool = False, progress: bool = True) -> dict[str, dict]:
    """Segment every ``*_hrT2.nii.gz`` of ``input_dir`` into ``output_dir``.

    Returns:
        ``case -> record`` (site, groups, volumes, seconds), ``{"error": message}`` for a scan
        that failed (the others are still written), ``{"skipped": ...}`` with ``resume``.

    Raises:
        InputError: bad folders, spec or models, before any scan is segmented.
    """
    input_dir = require_dir(input_dir, "input folder")
    check_not_inside(output_dir, [input_dir])
    scans = image_cases(input_dir, "hrT2")
    output_dir = Path(output_dir)
    existing = [c for c in scans if label_path(output_dir, c).exists()]
    if existing and not (overwrite or resume):
        raise InputError(f"output exists: {label_path(output_dir, existing[0])} and {len(existing) - 1} more "
                         "(pass --overwrite to replace them, or --continue to segment only the others)")
    for model in spec.models:
        pool.predictor(model)  # a wrong model fails here, before any scan
    output_dir.mkdir(parents=True, exist_ok=True)
    records = {}
    bar = tqdm(scans.items(), desc="nnuda-submit", unit="scan", disable=not progress)
    for case, path in bar:
        bar.set_postfix_str(case)
        if resume and not overwrite and label_path(output_dir, case).exists():
            records[case] = {"skipped": "already written"}
            continue
        start = time.perf_counter()
        try:
            image = read_image(path)
            label, record = segment_scan(image, case, spec, pool)
            write_array_like(label.astype(np.uint8), image, label_path(output_dir, case), overwrite=True)
        except InputError as e:
            records[case] = {"error": str(e)}
            tqdm.write(f"nnuda-submit: {case}: error: {e}")
            continue
        record["seconds"] = time.perf_counter() - start
        records[case] = record
        fallback = " (unknown site: fallback groups)" if record["site_from"] == "none" else ""
        tqdm.write(f"{case}: site {record['site']}{fallback}, VS from {record['groups']['VS']}, cochlea from "
                   f"{record['groups']['cochlea']}; VS {record['VS_mm3']:.0f} mm^3, cochlea "
                   f"{record['cochlea_mm3']:.0f} mm^3; {record['seconds']:.1f} s")
    return records


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nnuda-submit",
        description="Segment a folder of *_hrT2.nii.gz scans with trained nnU-Net models into CrossMoDA label "
                    "maps (<case>_Label.nii.gz: 1 VS, 2 cochlea): ROI crop, site routing, label-wise ensembles.")
    p.add_argument("-i", "--input", type=Path, required=True, help="folder of <case>_hrT2.nii.gz scans")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for <case>_Label.nii.gz")
    p.add_argument("--models", nargs="+", required=True, metavar="SPEC",
                   help="a JSON spec file (groups, sites, ROI, post-processing; see nnunet_uda.model_spec), or "
                        "DATASET:TRAINER:CONFIGURATION[:FOLDS[:PLANS]] entries averaged for every structure")
    p.add_argument("--no-roi", action="store_true", help="segment the whole scan instead of PAST's ROI")
    p.add_argument("--largest-vs", action="store_true", help="keep only the largest VS component")
    p.add_argument("--cochlea-per-side", action="store_true", help="keep the largest cochlea component per side")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--disable-tta", action="store_true", help="no mirroring at test time (faster)")
    p.add_argument("--step-size", type=float, default=0.5, help="sliding-window step (fraction of the patch)")
    p.add_argument("--summary", type=Path, default=None, help="write the per-scan records (JSON) to this file")
    p.add_argument("--overwrite", action="store_true", help="replace existing label maps")
    p.add_argument("--continue", dest="resume", action="store_true", help="skip scans whose label map exists")
    return p


def submit_entry(argv=None) -> None:
    args = build_parser().parse_args(argv)

    def main():
        spec = load_spec(args.models)
        post = spec.postprocessing
        spec = replace(spec, roi=None if args.no_roi else spec.roi,
                       postprocessing=PostProcessing(post.largest_vs or args.largest_vs,
                                                     post.cochlea_per_side or args.cochlea_per_side))
        pool = ModelPool(args.device, tta=not args.disable_tta, step_size=args.step_size)
        records = submit(args.input, args.output, spec, pool, args.overwrite, args.resume)
        if args.summary:
            args.summary.parent.mkdir(parents=True, exist_ok=True)
            args.summary.write_text(json.dumps(records, indent=1))
        failed = {c: r["error"] for c, r in records.items() if "error" in r}
        print(f"nnuda-submit: {len(records) - len(failed)} label maps in {args.output}")
        if failed:
            raise InputError(f"{len(failed)} of {len(records)} scans failed (the others are written): "
                             + "; ".join(f"{c}: {e}" for c, e in failed.items()))

    run_cli("nnuda-submit", main)
