"""Semi-supervised accuracy on one domain (hrT2) of nnuda-synth data with 10% of the labels.

The shape of the papers' tables 2 and 3: nnU-Net on the labeled 10% alone, each
semi-supervised trainer on the labeled 10% + the other 90% as unlabeled pool, and nnU-Net
on all labels (the upper bound). PAST's self-training is run in the same setting with its
options (round learning rate 0.08 instead of 0.008, pseudo-label cleaning, structure-intensity
augmentation; ``benchmarks/trainers/``). The ``_lr08`` and
``_clean`` runs start from the plain run's stage-0 checkpoint. Real commands throughout (nnuda-synth, nnuda-convert
``--modality hrT2 --unlabeled --n-labeled N``, nnUNetv2_plan_and_preprocess / _train /
_predict, nnuda-evaluate); every model trains fold ``all`` (three labeled cases are too few
for nnU-Net's five folds) with the same budget (the ``_demo`` trainers: 2000 iterations,
half-width network) on ``small`` phantoms (the UDA benchmark's scale) and segments the same held-out hrT2 validation scans. Writes
``results.md`` beside this script. A second call with the same ``-o`` resumes.

CPU scale (the defaults)::

    python benchmarks/semi_supervised_accuracy/run.py -o /tmp/ssl_accuracy
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nnunet_uda.bench_report import write_report
from nnunet_uda.demo import DemoSettings, Pipeline, epoch_times, format_table
from nnunet_uda.env import ext_trainer_path
from nnunet_uda.errors import InputError

HERE = Path(__file__).resolve().parent
FEW_ID, ALL_ID = 993, 994
SEMI_SUPERVISED = {"mean teacher": "nnUNetTrainerMeanTeacher_demo", "MixMatch": "nnUNetTrainerMixMatch_demo",
                   "DMNet": "nnUNetTrainerDMNet_demo", "PAST self-training": "nnUNetTrainerPAST_demo",
                   "PAST, round lr 0.08": "nnUNetTrainerPAST_demo_lr08", "PAST + cleaning": "nnUNetTrainerPAST_demo_clean",
                   "PAST + structure aug.": "nnUNetTrainerPAST_demo_structAug"}
FROM_PAST_STAGE0 = ("nnUNetTrainerPAST_demo_lr08", "nnUNetTrainerPAST_demo_clean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="work folder (resumes if it exists)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("-c", "--configuration", default="2d")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-target", type=int, default=30, help="hrT2 training scans (labeled + unlabeled)")
    parser.add_argument("--labeled-fraction", type=float, default=0.1)
    parser.add_argument("--n-validation", type=int, default=10)
    parser.add_argument("--baseline-trainer", default="nnUNetTrainer_demo")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    os.environ["nnUNet_extTrainer"] = ext_trainer_path([str(HERE.parent / "trainers")])
    n_labeled = max(1, round(args.labeled_fraction * args.n_target))
    settings = DemoSettings.benchmark_scale(preset=args.preset, configuration=args.configuration, seed=args.seed, n_source=2,
                            n_target=args.n_target, n_validation=args.n_validation, device=args.device)
    args.output.mkdir(parents=True, exist_ok=True)
    p = Pipeline(args.output, settings)
    p.synth()
    p.prepare(FEW_ID, ["nnuda-convert", "-i", p.data, "-d", FEW_ID, "--modality", "hrT2", "--unlabeled",
                       "--n-labeled", n_labeled, "--name", f"CrossMoDA_hrT2_{n_labeled}labeled"])
    p.prepare(ALL_ID, ["nnuda-convert", "-i", p.data, "-d", ALL_ID, "--modality", "hrT2"])
    runs = {f"supervised {n_labeled}/{args.n_target}": (FEW_ID, args.baseline_trainer),
            **{name: (FEW_ID, trainer) for name, trainer in SEMI_SUPERVISED.items()},
            f"supervised {args.n_target}/{args.n_target}": (ALL_ID, args.baseline_trainer)}
    preds, failed = {}, []
    for name, (dataset_id, trainer) in runs.items():
        print(f"semi_supervised_accuracy: {name} ({trainer})", flush=True)
        try:
            if trainer in FROM_PAST_STAGE0:
                p.start_from(dataset_id, trainer, "nnUNetTrainerPAST_demo", "checkpoint_stage0.pth", fold="all")
            p.train(dataset_id, trainer, fold="all")
            preds[name] = p.predict(dataset_id, trainer, f"{dataset_id}_{trainer}", fold="all")
        except InputError as e:
            failed.append(f"{name}: {e}")
    table = format_table(p.evaluate(preds)) + "".join(f"\nFAILED {f}" for f in failed)
    table += "\n\n" + epoch_times(p, runs, fold="all")
    text = write_report(
        args.results, f"Semi-supervised accuracy: hrT2 with {n_labeled} of {args.n_target} training scans labeled",
        str(settings),
        f"{args.n_validation} hrT2 validation scans, one seed. Mean over cases; Dice (higher is better), ASSD in mm "
        "(lower is better; 350 mm for an empty prediction). Epoch times are nnU-Net's own (median over the run) "
        "on the machine above, which other jobs may have shared.",
        table, "benchmarks/semi_supervised_accuracy/run.py")
    print(text)


if __name__ == "__main__":
    main()
