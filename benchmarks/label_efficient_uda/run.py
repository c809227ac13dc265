"""Label-efficient UDA on nnuda-synth data: MT-UDA and LE-UDA against no adaptation, translation
only and mean teacher, with a share of the source labels (the extended abstract's Table 1 shape:
``../shared/papers/label-efficient-uda-mt-uda-le-uda.txt``).

For each share (default 25% and 100% of the ceT1 scans labeled), ``nnuda-translate --twins
--source-label-fraction F`` writes one dataset from one trained translator: imagesTr holds the
labeled ceT1 scans (``<case>_src``) and their translations (``<case>``), imagesTrPairs every
scan of both domains in both styles, imagesTrUnlabeled the real hrT2 scans. Custom nnU-Net
splits (``splits_final.json``) pick the training cases of each arm from that one dataset, so
every arm sees the same labeled scans:

- no adaptation: fold 0, the labeled real ceT1 scans;
- translation only: fold 1, their translations;
- ceT1 + translations: fold ``all``, both (MT-UDA's supervised part alone);
- mean teacher: fold ``all`` + the hrT2 pool (``nnUNetTrainerMeanTeacher_demo``);
- MT-UDA, LE-UDA: fold ``all`` + the twin pairs (``nnUNetTrainerMTUDA_demo`` / ``nnUNetTrainerLEUDA_demo``);
- MT-UDA, LE-UDA with PAST's structure-level augmentation on the labeled batches
  (``_demo_structLevel``, ``benchmarks/trainers/``);
- oracle: ``nnUNetTrainer_demo`` on labeled hrT2 (only phantoms have these labels).

All train the ``_demo`` budget (2000 iterations, half-width network) and segment the same hrT2
validation scans. Run in a ``benchmarks/uda_accuracy`` seed folder (``-o .../seed_0``) it
reuses that seed's phantoms, translator and oracle. A second call with the same ``-o`` resumes.

CPU scale (the defaults)::

    python benchmarks/label_efficient_uda/run.py -o /tmp/uda_accuracy/seed_0 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from nnunet_uda.bench_report import write_report
from nnunet_uda.demo import ORACLE_ID, TRANSLATED_ID, DemoSettings, Pipeline, epoch_times, format_table
from nnunet_uda.env import ext_trainer_path
from nnunet_uda.errors import InputError

HERE = Path(__file__).resolve().parent
BASELINE = "nnUNetTrainer_demo"
ARMS = {"no adaptation (ceT1)": ("0", BASELINE), "translation only": ("1", BASELINE),
        "ceT1 + translations": ("all", BASELINE), "mean teacher": ("all", "nnUNetTrainerMeanTeacher_demo"),
        "MT-UDA": ("all", "nnUNetTrainerMTUDA_demo"), "LE-UDA": ("all", "nnUNetTrainerLEUDA_demo"),
        "MT-UDA, structure-level aug": ("all", "nnUNetTrainerMTUDA_demo_structLevel"),
        "LE-UDA, structure-level aug": ("all", "nnUNetTrainerLEUDA_demo_structLevel")}


def dataset_id(fraction: float) -> int:
    """600 + the labeled share in percent: 625 for 25%, 700 for all."""
    return 600 + round(100 * fraction)


def write_splits(p: Pipeline, ds_id: int) -> None:
    """Fold 0: the labeled real ceT1 scans; fold 1: their translations (nnU-Net's ``splits_final.json``;
    one case of the other kind as the fold's validation case)."""
    meta = json.loads((p.dataset_folder(ds_id) / "dataset.json").read_text())["nnunet_uda"]
    real = sorted(f"{c}_src" for c in meta["labeled_source_cases"])
    translated = sorted(meta["labeled_source_cases"])
    splits = [{"train": real, "val": translated[:1]}, {"train": translated, "val": real[:1]}]
    folder = next(Path(p.env["nnUNet_preprocessed"]).glob(f"Dataset{ds_id:03d}_*"))
    (folder / "splits_final.json").write_text(json.dumps(splits, indent=1))


def main() -> None:
    d = DemoSettings.benchmark_scale()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="work folder (resumes if it exists)")
    parser.add_argument("--seed", type=int, default=0, help="phantoms, their style, translator and nnU-Net randomness")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 1.0], help="shares of labeled ceT1 scans")
    parser.add_argument("--preset", default=d.preset)
    parser.add_argument("-c", "--configuration", default=d.configuration)
    parser.add_argument("--n-source", type=int, default=d.n_source)
    parser.add_argument("--n-target", type=int, default=d.n_target)
    parser.add_argument("--n-validation", type=int, default=d.n_validation)
    parser.add_argument("--translation-iterations", type=int, default=d.translation_iterations)
    parser.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--skip", nargs="*", default=[], choices=list(ARMS), metavar="ARM", help="leave these arms out")
    parser.add_argument("--no-oracle", action="store_true", help="leave the oracle (hrT2 labels) row out")
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    os.environ["nnUNet_extTrainer"] = ext_trainer_path([str(HERE.parent / "trainers")])
    settings = DemoSettings.benchmark_scale(
        preset=args.preset, configuration=args.configuration, seed=args.seed, n_source=args.n_source,
        n_target=args.n_target, n_validation=args.n_validation, translation_iterations=args.translation_iterations,
        oracle=True, device=args.device)
    args.output.mkdir(parents=True, exist_ok=True)
    p = Pipeline(args.output, settings)
    p.synth()
    p.prepare(TRANSLATED_ID, p.translate_command())  # trains the translator (or finds it trained)
    p.prepare(ORACLE_ID, ["nnuda-convert", "-i", p.data, "-d", ORACLE_ID, "--modality", "hrT2"])
    runs, preds, failed = {}, {}, []
    for fraction in args.fractions:
        ds_id = dataset_id(fraction)
        p.prepare(ds_id, p.translate_command(ds_id, extra=("--step", "synthesize", "--twins",
                                                           "--source-label-fraction", fraction)))
        write_splits(p, ds_id)
        for name, (fold, trainer) in ARMS.items():
            if name in args.skip:
                continue
            arm = f"{round(100 * fraction)}% labels: {name}"
            print(f"label_efficient_uda: {arm} ({trainer}, fold {fold})", flush=True)
            try:
                p.train(ds_id, trainer, fold=fold)
                preds[arm] = p.predict(ds_id, trainer, f"{ds_id}_{fold}_{trainer}", fold=fold)
                runs[arm] = (ds_id, trainer, fold)
            except InputError as e:
                failed.append(f"{arm}: {e}")
    if not args.no_oracle:
        p.train(ORACLE_ID, BASELINE)
        preds["oracle (hrT2 labels)"] = p.predict(ORACLE_ID, BASELINE, "oracle")
    table = format_table(p.evaluate(preds)) + "".join(f"\nFAILED {f}" for f in failed)
    times = {arm: epoch_times(p, {arm: (ds_id, trainer)}, fold=fold) for arm, (ds_id, trainer, fold) in runs.items()}
    table += "\n\nmedian epoch (s): " + "; ".join(f"{arm} {t.splitlines()[1].split()[-2]}"
                                                  for arm, t in times.items() if t)
    labeled = {f: json.loads((p.dataset_folder(dataset_id(f)) / "dataset.json").read_text())["nnunet_uda"][
        "labeled_source_cases"] for f in args.fractions}
    text = write_report(
        args.results, "Label-efficient UDA (ceT1 -> hrT2) with a share of the source labels", str(settings),
        f"{args.n_validation} hrT2 validation scans, seed {args.seed}; labeled ceT1 scans per share: "
        + "; ".join(f"{round(100 * f)}%: {len(c)} ({', '.join(c)})" for f, c in labeled.items())
        + ". Mean over cases; Dice (higher is better), ASSD in mm (lower is better; 350 mm for an empty "
        "prediction). Epoch times are nnU-Net's own (median over the run) on the machine above.",
        table, "benchmarks/label_efficient_uda/run.py")
    print(text)


if __name__ == "__main__":
    main()
