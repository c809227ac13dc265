"""Score models that ``run.py`` trained again, with nnU-Net's test-time mirroring.

``run.py`` and ``nnuda-demo`` predict with ``--disable_tta`` (the CPU budget); a user's plain
``nnUNetv2_predict`` mirrors each ``2d`` slice four ways and averages. This script predicts
the hrT2 validation scans of each seed folder again with that default
(``DemoSettings.test_time_mirroring``: ``predictions_tta/``, ``evaluation_tta/``), for every
trained model whose trainer matches one of ``--trainers`` (PAST-style trainers after stage 0
and at the end), with the no-adaptation model and the oracle, and prints the table with the
share of the no-adaptation -> oracle gap each model closes. Nothing is trained; a second call
reuses the predictions it finds::

    python benchmarks/uda_accuracy/rescore_tta.py /tmp/bench/uda/seed_0 /tmp/bench/uda/seed_1 \\
        --trainers nnUNetTrainerPAST_demo_structLevel nnUNetTrainerPAST_demo_repeat

Rows are named ``<dataset> <trainer> <stage>``; datasets: 991 translated (one translator),
993 translated per site.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from nnunet_uda.demo import BASELINE_ID, ORACLE_ID, TRANSLATED_ID, DemoSettings, Pipeline, format_table
from nnunet_uda.env import ext_trainer_path

HERE = Path(__file__).resolve().parent
TRANSLATED = {TRANSLATED_ID: "translated", 993: "per-site"}  # 993: run.PER_SITE_ID


def trained_models(p: Pipeline, trainers: list[str]) -> dict[str, tuple[int, str, str]]:
    """``{row: (dataset, trainer, checkpoint)}`` of the finished runs of ``trainers`` in ``p``'s folder."""
    models = {}
    for ds, short in TRANSLATED.items():
        for trainer in trainers:
            folder = p.model_folder(ds, trainer, "all")
            if folder is None or not (folder / "checkpoint_final.pth").is_file():
                continue
            if (folder / "checkpoint_stage0.pth").is_file():
                models[f"{short} {trainer} stage 0"] = (ds, trainer, "checkpoint_stage0.pth")
            models[f"{short} {trainer} final"] = (ds, trainer, "checkpoint_final.pth")
    return models


def main() -> None:
    from run import NO_ADAPTATION, ORACLE, gap_closed

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("seed_folders", type=Path, nargs="+", help="run.py's <output>/seed_<k> folders")
    parser.add_argument("--trainers", nargs="+", required=True, help="trainer names to score (datasets 991 and 993)")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    os.environ["nnUNet_extTrainer"] = ext_trainer_path([str(HERE.parent / "trainers")])
    for folder in args.seed_folders:
        p = Pipeline(folder, DemoSettings.benchmark_scale(device=args.device, test_time_mirroring=True))
        models = {NO_ADAPTATION: (BASELINE_ID, p.s.baseline_trainer, "checkpoint_final.pth"),
                  **trained_models(p, args.trainers), ORACLE: (ORACLE_ID, p.s.oracle_trainer, "checkpoint_final.pth")}
        preds = {}
        for row, (ds, trainer, checkpoint) in models.items():
            name = re.sub(r"[^A-Za-z0-9]+", "_", row.replace("stage 0", "stage0")).strip("_")
            preds[row] = p.predict(ds, trainer, name, checkpoint, images=p.dataset_folder(ORACLE_ID) / "imagesTs")
        summaries = p.evaluate(preds)
        (folder / f"summaries{p.scoring_suffix}.json").write_text(json.dumps(summaries, indent=1))
        gaps = gap_closed(summaries)
        table = format_table(summaries).splitlines()
        print(f"{folder} (test-time mirroring)\n" + table[0] + "  gap closed\n"
              + "\n".join(f"{line}  {gaps[row]:10.2f}" for line, row in zip(table[1:], summaries)) + "\n", flush=True)


if __name__ == "__main__":
    main()
