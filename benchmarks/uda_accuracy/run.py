"""UDA accuracy on nnuda-synth data: no adaptation, translation only, PAST and its options,
the semi-supervised trainers on translated data, and the oracle.

Runs the ``nnuda-demo`` pipeline (real commands: nnuda-synth, nnuda-convert,
nnuda-translate, nnUNetv2_plan_and_preprocess / _train / _predict, nnuda-evaluate) with the
oracle, then more trainers on the same translated dataset, and writes ``results.md`` beside
this script: Dice and ASSD per structure on the hrT2 validation scans, the machine, the
settings and the command. A second call with the same ``-o`` resumes.

Arms (all on the demo's translated dataset unless said otherwise):

- no adaptation: ``nnUNetTrainer_demo`` on ceT1;
- translation only: stage 0 (``checkpoint_stage0.pth``) of ``nnUNetTrainerPAST_demo``;
- PAST: ``nnUNetTrainerPAST_demo`` (K = 2, round learning rate 0.008);
- PAST with the paper's round learning rate 0.08, PAST + pseudo-label cleaning: from the
  same stage-0 checkpoint (trainers in ``benchmarks/trainers/``);
- PAST + structure-intensity augmentation: its own run (the augmentation acts in stage 0 too);
- mean teacher, MixMatch, DMNet (``_demo`` variants): labeled translated + unlabeled hrT2;
- oracle: ``nnUNetTrainer_demo`` on labeled hrT2 (only phantom data has these labels).

CPU scale (the defaults)::

    python benchmarks/uda_accuracy/run.py -o /tmp/uda_accuracy

GPU scale: ``--preset small -c 3d_fullres`` and longer trainers (edit the ``_demo`` budgets).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nnunet_uda.bench_report import write_report
from nnunet_uda.demo import BASELINE_ID, TRANSLATED_ID, DemoSettings, Pipeline, demo, epoch_times, format_table
from nnunet_uda.env import ext_trainer_path
from nnunet_uda.errors import InputError

HERE = Path(__file__).resolve().parent
FROM_STAGE0 = {"PAST, round lr 0.08": "nnUNetTrainerPAST_demo_lr08",
               "PAST + cleaning": "nnUNetTrainerPAST_demo_clean"}
OWN_RUN = {"PAST + structure aug.": "nnUNetTrainerPAST_demo_structAug",
           "mean teacher": "nnUNetTrainerMeanTeacher_demo",
           "MixMatch": "nnUNetTrainerMixMatch_demo",
           "DMNet": "nnUNetTrainerDMNet_demo"}
DEMO_ARMS = {"no adaptation": "no_adaptation", "translation only": "translation_only",
             "translation + PAST": "past", "oracle (hrT2 labels)": "oracle"}


def main() -> None:
    d = DemoSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="work folder (resumes if it exists)")
    parser.add_argument("--preset", default=d.preset)
    parser.add_argument("-c", "--configuration", default=d.configuration)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--n-source", type=int, default=d.n_source)
    parser.add_argument("--n-target", type=int, default=d.n_target)
    parser.add_argument("--n-validation", type=int, default=10)
    parser.add_argument("--translation-iterations", type=int, default=d.translation_iterations)
    parser.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    parser.add_argument("--skip", nargs="*", default=[], choices=[*FROM_STAGE0.values(), *OWN_RUN.values()],
                        metavar="TRAINER", help="leave these arms out (names as in FROM_STAGE0 / OWN_RUN)")
    args = parser.parse_args()
    os.environ["nnUNet_extTrainer"] = ext_trainer_path([str(HERE.parent / "trainers")])
    settings = DemoSettings(
        preset=args.preset, configuration=args.configuration, seed=args.seed, n_source=args.n_source,
        n_target=args.n_target, n_validation=args.n_validation, translation_iterations=args.translation_iterations,
        oracle=True, device=args.device,
    )
    demo(args.output, settings)
    p = Pipeline(args.output, settings)
    preds = {name: args.output / "predictions" / folder for name, folder in DEMO_ARMS.items()}
    failed = []
    for name, trainer in {**FROM_STAGE0, **OWN_RUN}.items():
        if trainer in args.skip:
            continue
        print(f"uda_accuracy: {name} ({trainer})", flush=True)
        try:
            if name in FROM_STAGE0:
                p.start_from(TRANSLATED_ID, trainer, settings.past_trainer, "checkpoint_stage0.pth")
            p.train(TRANSLATED_ID, trainer)
            preds[name] = p.predict(TRANSLATED_ID, trainer, trainer)
        except InputError as e:
            failed.append(f"{name}: {e}")
    table = format_table(p.evaluate(preds)) + "".join(f"\nFAILED {f}" for f in failed)
    table += "\n\n" + epoch_times(p, {**{"no adaptation": (BASELINE_ID, settings.baseline_trainer),
                                       "translation + PAST": (TRANSLATED_ID, settings.past_trainer)},
                                    **{n: (TRANSLATED_ID, t) for n, t in OWN_RUN.items() if t not in args.skip}})
    text = write_report(
        args.results, "UDA accuracy on nnuda-synth data (hrT2 validation scans)", str(settings),
        f"{args.n_validation} validation scans, one seed. Mean over cases; Dice (higher is better), ASSD in mm "
        "(lower is better; 350 mm for an empty prediction, as the challenge scores it). Epoch times are nnU-Net's "
        "own (median over the run) on the machine above, which other jobs may have shared.",
        table, "benchmarks/uda_accuracy/run.py")
    print(text)


if __name__ == "__main__":
    main()
