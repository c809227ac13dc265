"""Presence/absence translation-segmentation on nnuda-synth hrT2 with few labels (the shape of
Vorontsov et al.'s tables: ``../shared/papers/translation-segmentation-presence-absence.txt``).

For each labeled share, one dataset (``nnuda-convert --modality hrT2 --n-labeled N --unlabeled
--absence``): N labeled hrT2 presence scans, the other hrT2 training scans as unlabeled presence
scans, and scans drawn without a schwannoma (``nnuda-synth --n-absence``) as the absence domain.
Arms, each with the ``_demo`` budget (2000 iterations, half-width network) on the ``2d``
configuration, fold ``all``, scored on the same held-out hrT2 validation scans:

- supervised only: ``nnUNetTrainer_demo`` on the N labeled scans;
- autoencoding baseline: ``nnUNetTrainerPresenceAbsence_AE_demo``;
- mean teacher: ``nnUNetTrainerMeanTeacher_demo`` (labeled + unlabeled presence scans);
- presence/absence translation: ``nnUNetTrainerPresenceAbsence_demo`` (the paper's weights for 1 %
  labels) and ``..._demo_seg10`` (lambda_seg 10, its 10 % setting; ``benchmarks/trainers``), both
  with AMSGrad at 1e-3 (the paper: 1e-4 for about 100 times as many iterations);
- supervised on all training scans (the upper bound).

The paper's shares are 1 % and 10 % of thousands of slices; with 30 scans the smallest share
is one scan. A second call with the same ``-o`` resumes.

CPU scale (the defaults)::

    python benchmarks/presence_absence_accuracy/run.py -o /tmp/presence_absence
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
BASELINE = "nnUNetTrainer_demo"
ARMS = {"supervised only": BASELINE, "autoencoding baseline": "nnUNetTrainerPresenceAbsence_AE_demo",
        "mean teacher": "nnUNetTrainerMeanTeacher_demo", "presence/absence": "nnUNetTrainerPresenceAbsence_demo",
        "presence/absence, lambda_seg 10": "nnUNetTrainerPresenceAbsence_demo_seg10"}
ALL_ID = 640


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="work folder (resumes if it exists)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-target", type=int, default=30, help="hrT2 presence training scans (labeled + unlabeled)")
    parser.add_argument("--n-absence", type=int, default=30, help="hrT2 scans without a schwannoma")
    parser.add_argument("--labeled", type=int, nargs="+", default=[1, 3], help="labeled scans per dataset")
    parser.add_argument("--n-validation", type=int, default=10)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--skip", nargs="*", default=[], choices=list(ARMS), metavar="ARM")
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    os.environ["nnUNet_extTrainer"] = ext_trainer_path([str(HERE.parent / "trainers")])
    settings = DemoSettings.benchmark_scale(preset=args.preset, configuration="2d", seed=args.seed, n_source=2,
                                            n_target=args.n_target, n_validation=args.n_validation,
                                            device=args.device)
    args.output.mkdir(parents=True, exist_ok=True)
    p = Pipeline(args.output, settings)
    if not (p.data / "synth.json").exists():
        p.run("nnuda-synth", "-o", p.data, "--preset", args.preset, "--seed", args.seed, "--n-source", 2,
              "--n-target", args.n_target, "--n-validation", args.n_validation, "--n-absence", args.n_absence)
    runs, failed = {}, []
    for n in args.labeled:
        ds_id = 640 + n
        p.prepare(ds_id, ["nnuda-convert", "-i", p.data, "-d", ds_id, "--modality", "hrT2", "--unlabeled",
                          "--absence", "--n-labeled", n, "--name", f"CrossMoDA_hrT2_{n}labeled_absence"])
        runs.update({f"{n}/{args.n_target} labeled: {name}": (ds_id, trainer) for name, trainer in ARMS.items()
                     if name not in args.skip})
    p.prepare(ALL_ID, ["nnuda-convert", "-i", p.data, "-d", ALL_ID, "--modality", "hrT2"])
    runs[f"supervised {args.n_target}/{args.n_target}"] = (ALL_ID, BASELINE)
    preds = {}
    for name, (ds_id, trainer) in runs.items():
        print(f"presence_absence_accuracy: {name} ({trainer})", flush=True)
        try:
            p.train(ds_id, trainer, fold="all")
            preds[name] = p.predict(ds_id, trainer, f"{ds_id}_{trainer}", fold="all")
        except InputError as e:
            failed.append(f"{name}: {e}")
    table = format_table(p.evaluate(preds)) + "".join(f"\nFAILED {f}" for f in failed)
    table += "\n\n" + epoch_times(p, runs, fold="all")
    text = write_report(
        args.results, "Presence/absence translation-segmentation: hrT2 with few labeled scans", str(settings),
        f"{args.n_validation} hrT2 validation scans, one seed; {args.n_absence} absence scans. Mean over cases; Dice "
        "(higher is better), ASSD in mm (lower is better; 350 mm for an empty prediction). Epoch times are "
        "nnU-Net's own (median over the run) on the machine above.",
        table, "benchmarks/presence_absence_accuracy/run.py")
    print(text)


if __name__ == "__main__":
    main()
