"""``nnuda-translate``: train a ceT1 -> hrT2 translator and write the translated nnU-Net dataset.

Examples::

    nnuda-translate --src ceT1 --tgt hrT2 -i crossmoda -d 501                 # train + synthesize
    nnuda-translate --src ceT1 --tgt hrT2 -i crossmoda -d 501 --step train    # train (or resume) only
    nnuda-translate --src ceT1 --tgt hrT2 -i crossmoda -d 501 --step synthesize --overwrite

Where files go is described in :mod:`nnunet_uda.translation.pipeline`. Interrupted
training resumes by itself when the same command is run again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from nnunet_uda.cli_utils import run_cli
from nnunet_uda.crossmoda import LABELS, MODALITIES
from nnunet_uda.errors import InputError
from nnunet_uda.translation.config import MODEL_CONFIGS, ModelConfig
from nnunet_uda.translation.nicegan import nicegan_min_size
from nnunet_uda.translation.pipeline import (
    check_output_free,
    check_twin_options,
    default_name,
    default_workdir,
    find_inputs,
    synthesize_dataset,
    train_translators,
)
from nnunet_uda.translation.train import RunOptions

PROG = "nnuda-translate"


LABEL_EDITS = {("ceT1", "hrT2"): ({LABELS["VS"]: 0.5}, {LABELS["cochlea"]: 0.9})}
"""Default label-guided edits per (source, target) modality: the source tumour at half its signal
(its contrast enhancement has no counterpart on hrT2), the translated cochlea at fluid brightness
(the translator draws the thin fluid-filled spiral as bone). Measured in
``benchmarks/structure_preservation``."""


def default_label_edits(src: str, tgt: str) -> tuple[dict[int, float], dict[int, float]]:
    """``(source_label_scale, label_level)`` that ``nnuda-translate`` applies by default for this pair."""
    return LABEL_EDITS.get((src, tgt), ({}, {}))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help=f"source modality suffix ({', '.join(MODALITIES)}), labeled")
    p.add_argument("--tgt", required=True, help="target modality suffix, unlabeled")
    p.add_argument("-i", "--input", required=True, type=Path, help="CrossMoDA-style folder (source_training/, target_training/, ...)")
    p.add_argument("-d", "--dataset-id", required=True, type=int, help="nnU-Net dataset id to write")
    p.add_argument("--name", default=None, help="dataset name (default CrossMoDA_<src>to<Tgt>)")
    p.add_argument("-o", "--workdir", type=Path, default=None,
                   help="work folder for checkpoints, logs and samples (default $nnUNet_results/DatasetXXX_<name>/nnuda_translation__<model>...)")
    p.add_argument("--step", choices=("all", "train", "synthesize"), default="all", help="run only one step (default: both)")
    p.add_argument("--model", choices=tuple(MODEL_CONFIGS), default="cyclegan")
    p.add_argument("--iterations", type=int, default=None, help="training iterations (default: the model's paper default)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--image-size", type=int, default=None, help="side of the square slices (default 256)")
    p.add_argument("--channels", type=int, default=None, help="base width of generators and discriminators (default 64)")
    p.add_argument("--res-blocks", type=int, default=None,
                   help="residual blocks of the generator (default: NICE-GAN 6; CycleGAN 9, and 6 for images "
                        "of 128 pixels or less, as Zhu et al. did)")
    p.add_argument("--no-crop", action="store_true", help="translate whole slices instead of PAST's central ROI")
    p.add_argument("--light", action="store_true", help="NICE-GAN light (pooled AdaILN parameters)")
    p.add_argument("--per-site", action="store_true", help="one translator per target site (site token of the case name, else matrix size)")
    p.add_argument("--preserve-structures", action="store_true", help="segmentation head on the generator, trained with the source labels")
    p.add_argument("--lambda-identity", type=float, default=None,
                   help="CycleGAN identity loss, relative to the cycle weight (default 0: it rewards keeping the "
                        "source's intensities, which a contrast change must not; Zhu et al. used 0.5)")
    p.add_argument("--lambda-seg", type=float, default=None, help="weight of the structure segmenter's loss (default 1)")
    p.add_argument("--source-label-scale", nargs="+", default=None, metavar="LABEL=FACTOR",
                   help="multiply the source voxels of a label by a factor before translation, in training and "
                        "synthesis, e.g. 1=0.5 (take the contrast enhancement out of the tumour); LABEL=LOW:HIGH "
                        "draws a factor per case")
    p.add_argument("--label-level", nargs="+", default=None, metavar="LABEL=LEVEL",
                   help="after translation, draw a label's voxels at this level of the target's intensity range "
                        "(0: its low, 1: its high percentile), e.g. 2=0.9: the cochlea as bright as fluid")
    p.add_argument("--train-crop", type=int, default=None, help="train on random square crops of this side (default: whole slices)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="random left-right flips in training (default on)")
    p.add_argument("--structure-fraction", type=float, default=None,
                   help="share of source training slices drawn from slices with a labeled structure (default 0: uniform)")
    p.add_argument("--percentiles", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="per-volume intensity percentiles mapped to the translator's [-1, 1] (default 0.5 99.5)")
    p.add_argument("--no-label-edits", action="store_true",
                   help=f"no label-guided edits (the defaults for ceT1 -> hrT2 are "
                        f"--source-label-scale {' '.join(f'{k}={v:g}' for k, v in LABEL_EDITS[('ceT1', 'hrT2')][0].items())} "
                        f"--label-level {' '.join(f'{k}={v:g}' for k, v in LABEL_EDITS[('ceT1', 'hrT2')][1].items())})")
    p.add_argument("--twins", action="store_true",
                   help="also write the twin pairs of the dual-teacher trainers (nnUNetTrainerMTUDA): imagesTrPairs with "
                        "every scan in both styles, and the labeled source scans themselves in imagesTr")
    p.add_argument("--source-label-fraction", type=float, default=1.0,
                   help="with --twins: keep the labels of this share of the source scans (default 1: all)")
    p.add_argument("--lr", type=float, default=None, help="learning rate of generators and discriminators (default: the paper's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=1000, help="checkpoint every N iterations")
    p.add_argument("--sample-every", type=int, default=5000, help="sample grid every N iterations")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast on CUDA")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset (and a work folder of another config)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


SMALL_IMAGE_SIDE, SMALL_IMAGE_RES_BLOCKS = 128, 6
"""CycleGAN's generator for 128 x 128 images has 6 residual blocks, 9 from 256 x 256 up (Zhu et
al. 2017, appendix 7.2). At 88 pixels, 16 channels on a 2-core CPU an iteration takes 0.16 s
with 6 blocks against 0.21 s with 9 (150 iterations, this project's machine)."""


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    """The model config: the paper's defaults (for CycleGAN, the generator depth the paper used
    at the image size: 6 residual blocks up to 128 pixels), changed only where an option was given."""
    cfg = MODEL_CONFIGS[args.model]()
    if args.iterations is not None:
        if args.iterations < 1:
            raise InputError(f"--iterations must be at least 1, got {args.iterations}")
        cfg.iterations = args.iterations
    if args.batch_size is not None:
        cfg.batch_size = args.batch_size
    if args.image_size is not None:
        if args.image_size % 4 or args.image_size < 16:
            raise InputError(f"--image-size must be a multiple of 4 and at least 16, got {args.image_size}")
        cfg.slices.image_size = args.image_size
    if args.res_blocks is not None:
        if args.res_blocks < 1:
            raise InputError(f"--res-blocks must be at least 1, got {args.res_blocks}")
        cfg.n_res_blocks = args.res_blocks
    elif args.model == "cyclegan" and cfg.slices.image_size <= SMALL_IMAGE_SIDE:
        cfg.n_res_blocks = SMALL_IMAGE_RES_BLOCKS
    if args.channels is not None:
        cfg.base_channels = args.channels
        if hasattr(cfg, "disc_channels"):
            cfg.disc_channels = args.channels
    if args.no_crop:
        cfg.slices.crop_roi = False
    if args.light:
        if args.model != "nicegan":
            raise InputError("--light applies to --model nicegan only")
        cfg.light = True
    cfg.preserve_structures = args.preserve_structures
    if args.lambda_identity is not None:
        if args.model != "cyclegan":
            raise InputError("--lambda-identity applies to --model cyclegan only")
        if args.lambda_identity < 0:
            raise InputError(f"--lambda-identity must be >= 0, got {args.lambda_identity}")
        cfg.lambda_identity = args.lambda_identity
    if args.lambda_seg is not None and not args.preserve_structures:
        raise InputError("--lambda-seg applies with --preserve-structures only")
    if args.lambda_seg is not None:
        if args.lambda_seg < 0:
            raise InputError(f"--lambda-seg must be >= 0, got {args.lambda_seg}")
        cfg.lambda_seg = args.lambda_seg
    if args.source_label_scale is not None:
        cfg.slices.source_label_scale = parse_label_values(args.source_label_scale, "--source-label-scale", ranges=True)
    elif not args.no_label_edits:
        cfg.slices.source_label_scale = dict(default_label_edits(args.src, args.tgt)[0])
    if args.train_crop is not None:
        if args.train_crop % 4 or args.train_crop < 32 or args.train_crop > cfg.slices.image_size:
            raise InputError(f"--train-crop must be a multiple of 4 between 32 and --image-size "
                             f"({cfg.slices.image_size}), got {args.train_crop}")
        cfg.slices.train_crop = args.train_crop
    cfg.slices.train_flip = args.flip
    if args.structure_fraction is not None:
        if not 0 <= args.structure_fraction <= 1:
            raise InputError(f"--structure-fraction must be in [0, 1], got {args.structure_fraction}")
        cfg.slices.structure_fraction = args.structure_fraction
    if args.percentiles is not None:
        low, high = args.percentiles
        if not 0 <= low < high <= 100:
            raise InputError(f"--percentiles must satisfy 0 <= LOW < HIGH <= 100, got {low} {high}")
        cfg.slices.percentiles = (low, high)
    if args.lr is not None:
        if not args.lr > 0:
            raise InputError(f"--lr must be > 0, got {args.lr}")
        cfg.lr = args.lr
    cfg.seed = args.seed
    if args.model == "nicegan" and cfg.slices.image_size < nicegan_min_size(cfg.disc_layers):
        raise InputError(
            f"NICE-GAN with {cfg.disc_layers} discriminator layers needs --image-size of at least "
            f"{nicegan_min_size(cfg.disc_layers)}, got {cfg.slices.image_size}"
        )
    return cfg


def parse_label_values(items: list[str], option: str, what: str = "FACTOR", most: float = float("inf"),
                       ranges: bool = False) -> dict:
    """``['1=0.5', '2=2']`` -> ``{1: 0.5, 2: 2.0}`` (with ``ranges``, ``'1=0.4:0.9'`` -> ``{1: (0.4, 0.9)}``);
    a malformed item, a label below 1 or a value outside ``[0, most]`` is an :class:`InputError`
    naming ``option``."""
    out = {}
    for item in items:
        label, sep, number = item.partition("=")
        parts = number.split(":") if ranges else [number]
        try:
            value, xs = int(label), [float(x) for x in parts]
        except ValueError:
            value, xs = -1, []
        if not sep or value < 1 or not 1 <= len(xs) <= 2 or not all(0 <= x <= most for x in xs) or xs != sorted(xs):
            form = f"LABEL={what}" + (" or LABEL=LOW:HIGH" if ranges else "")
            raise InputError(f"{option} expects {form} with a label >= 1 and values in [0, {most:g}], got {item!r}")
        out[value] = xs[0] if len(xs) == 1 else tuple(xs)
    return out


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available (use --device cpu)")
    return name


def translate(args: argparse.Namespace) -> None:
    """Run the requested steps."""
    cfg = config_from_args(args)
    if args.label_level is not None:
        levels = parse_label_values(args.label_level, "--label-level", "LEVEL", 1.0)
    else:
        levels = {} if args.no_label_edits else dict(default_label_edits(args.src, args.tgt)[1])
    name = args.name or default_name(args.src, args.tgt)
    inputs = find_inputs(args.input, args.src, args.tgt)
    check_twin_options(args.twins, args.source_label_fraction, args.per_site)
    if args.step in ("all", "synthesize"):
        check_output_free(args.dataset_id, name, args.overwrite)
    workdir = args.workdir or default_workdir(args.dataset_id, name, cfg, args.per_site)
    device = resolve_device(args.device)
    if args.step in ("all", "train"):
        options = RunOptions(save_every=args.save_every, sample_every=args.sample_every, progress=not args.quiet, bf16=not args.fp32)
        runs = train_translators(inputs, cfg, workdir, args.per_site, device, options, overwrite=args.overwrite)
        print(f"{PROG}: trained {', '.join(str(r) for r in runs.values())}")
    if args.step in ("all", "synthesize"):
        out = synthesize_dataset(inputs, workdir, args.dataset_id, name, device, overwrite=args.overwrite,
                                 label_levels=levels, twins=args.twins,
                                 source_label_fraction=args.source_label_fraction)
        print(f"{PROG}: wrote {out}")


def translate_entry() -> None:
    """Console entry point."""
    args = build_parser().parse_args()
    run_cli(PROG, lambda: translate(args))
