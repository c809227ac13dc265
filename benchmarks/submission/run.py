"""Single models vs ensembles through ``nnuda-submit``, with and without post-processing.

Reuses the models of ``benchmarks/uda_accuracy`` seed folders (translation only = PAST's
stage-0 checkpoint, PAST, PAST + cleaning; nnU-Net 2d, fold ``all``), trains PAST's rounds
once per site from the same stage 0 (``nnUNetTrainerPAST_demo_etz`` / ``_ldn``: unlabeled scans
of that site only) for the site-routed arm, and scores each submission on the seed's hrT2
validation scans (Dice, ASSD)::

    python benchmarks/submission/run.py --from /tmp/uda_accuracy/seed_0 /tmp/uda_accuracy/seed_1 -o /tmp/submission

Every arm is one real ``nnuda-submit`` run (the phantoms image only PAST's region of
interest, so ``--no-roi``); each post-processing option is then applied to its label maps
with the same ``PostProcessing`` that ``nnuda-submit`` runs last. Seconds per scan come
from ``nnuda-submit``'s own summary. ``results.md`` beside this script gets the table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_uda.bench_report import write_report
from nnunet_uda.demo import TRANSLATED_ID, DemoSettings, Pipeline
from nnunet_uda.env import ext_trainer_path
from nnunet_uda.evaluate import evaluate_folder, summarize
from nnunet_uda.postprocess import PostProcessing

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def model(trainer: str, checkpoint: str = "checkpoint_final.pth") -> dict:
    return {"dataset": TRANSLATED_ID, "trainer": trainer, "configuration": "2d", "folds": ["all"],
            "checkpoint": checkpoint}


STAGE0, PAST, CLEAN = "nnUNetTrainerPAST_demo", "nnUNetTrainerPAST_demo", "nnUNetTrainerPAST_demo_clean"
SITE_MODELS = {"etz": "nnUNetTrainerPAST_demo_etz", "ldn": "nnUNetTrainerPAST_demo_ldn"}


def arms(past: str) -> dict[str, list]:
    """Model groups of every arm; ``past`` is the trainer folder of the PAST model."""
    stage0 = model(STAGE0, "checkpoint_stage0.pth")
    return {
        "translation only": [{"name": "stage0", "models": [stage0]}],
        "PAST": [{"name": "past", "models": [model(past)]}],
        "PAST + cleaning": [{"name": "clean", "models": [model(CLEAN)]}],
        "mean of translation only, PAST, PAST + cleaning": [
            {"name": "mean", "models": [stage0, model(past), model(CLEAN)]}],
        "site-routed: PAST self-trained on the scan's site (etz, ldn)": [
            {"name": "etz", "sites": ["etz"], "models": [model(SITE_MODELS["etz"])]},
            {"name": "ldn", "sites": ["ldn"], "models": [model(SITE_MODELS["ldn"])]},
            {"name": "any site", "models": [model(past)]}],
        "label-wise: VS from mean of translation only + PAST, cochlea from PAST": [
            {"name": "vs", "structures": ["VS"], "models": [stage0, model(past)]},
            {"name": "cochlea", "structures": ["cochlea"], "models": [model(past)]}],
    }


POST = {"none": PostProcessing(), "largest VS": PostProcessing(largest_vs=True),
        "cochlea per side": PostProcessing(cochlea_per_side=True),
        "both": PostProcessing(largest_vs=True, cochlea_per_side=True)}


def run_arm(name: str, groups: list, seed_dir: Path, out: Path, env: dict, device: str) -> tuple[Path, float]:
    """One nnuda-submit run (resumed with --continue); ``(label folder, seconds per scan)``."""
    folder = out / name.replace(" ", "_").replace(":", "").replace(",", "")
    spec = out / f"{folder.name}.json"
    spec.write_text(json.dumps({"roi": "off", "groups": groups}))
    summary = folder.with_suffix(".summary.json")
    if not summary.is_file():
        subprocess.run([str(BIN / "nnuda-submit"), "-i", str(seed_dir / "crossmoda" / "target_validation"),
                        "-o", str(folder), "--models", str(spec), "--device", device, "--continue",
                        "--summary", str(summary)], env=env, check=True)
    records = json.loads(summary.read_text())
    seconds = [r["seconds"] for r in records.values() if "seconds" in r]
    return folder, float(np.median(seconds)) if seconds else float("nan")


def post_processed(folder: Path, post: PostProcessing, name: str) -> Path:
    """``folder``'s label maps after ``post`` (written beside it; the folder itself is left alone)."""
    if post == PostProcessing():
        return folder
    dst = folder.parent / f"{folder.name}__{name.replace(' ', '_')}"
    if dst.is_dir() and len(list(dst.iterdir())) == len(list(folder.iterdir())):
        return dst
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir()
    for f in sorted(folder.glob("*_Label.nii.gz")):
        img = sitk.ReadImage(str(f))
        out = sitk.GetImageFromArray(post(sitk.GetArrayFromImage(img)))
        out.CopyInformation(img)
        sitk.WriteImage(out, str(dst / f.name), useCompression=True)
    return dst


def seed_pipeline(seed_dir: Path, device: str) -> Pipeline:
    """The uda_accuracy pipeline of a seed folder (its nnU-Net paths), with the benchmark variants findable."""
    pipeline = Pipeline(seed_dir, DemoSettings.benchmark_scale(device=device))
    pipeline.env["nnUNet_extTrainer"] = ext_trainer_path([str(HERE.parent / "trainers")],
                                                         pipeline.env["nnUNet_extTrainer"])
    return pipeline


def train_site_models(pipeline: Pipeline) -> None:
    """PAST's rounds once per site (unlabeled scans of that site only), from the seed's stage 0."""
    for trainer in SITE_MODELS.values():
        pipeline.start_from(TRANSLATED_ID, trainer, STAGE0, "checkpoint_stage0.pth")
        pipeline.train(TRANSLATED_ID, trainer)


def score_seed(seed_dir: Path, out: Path, past: str, device: str) -> tuple[dict, str]:
    """Every arm x post-processing on one seed: ``(summaries by (arm, post), table)``."""
    pipeline = seed_pipeline(seed_dir, device)
    out.mkdir(parents=True, exist_ok=True)
    train_site_models(pipeline)
    gt = seed_dir / "crossmoda" / "target_validation_labels"
    lines = [f"{'submission':72} {'post-processing':17} {'VS Dice':>8} {'coch Dice':>9} {'VS ASSD':>8} "
             f"{'coch ASSD':>9} {'mean Dice':>9} {'s/scan':>7}"]
    rows = {}
    for name, groups in arms(past).items():
        folder, seconds = run_arm(name, groups, seed_dir, out, pipeline.env, device)
        for post_name, post in POST.items():
            s = summarize(evaluate_folder(post_processed(folder, post, post_name), gt))
            st = s["structures"]
            rows[(name, post_name)] = s
            lines.append(f"{name:72} {post_name:17} {st['VS']['dice']['mean']:8.3f} {st['cochlea']['dice']['mean']:9.3f} "
                         f"{st['VS']['assd']['mean']:8.2f} {st['cochlea']['assd']['mean']:9.2f} "
                         f"{s['overall']['dice']['mean']:9.3f} {seconds:7.2f}")
    (out / "summaries.json").write_text(json.dumps({f"{a} | {p}": s for (a, p), s in rows.items()}, indent=1))
    return rows, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="seed_dirs", type=Path, nargs="+", required=True,
                        help="uda_accuracy seed folders")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--past-trainer", default=PAST,
                        help="trainer folder of the PAST model (runs before PAST's per-domain thresholds "
                             "became the default: nnUNetTrainerPAST_demo_perDomain)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    tables, per_seed = [], []
    for seed_dir in args.seed_dirs:
        rows, table = score_seed(seed_dir, args.output / seed_dir.name, args.past_trainer, args.device)
        per_seed.append(rows)
        tables.append(f"{seed_dir.name}\n{table}")
        print(tables[-1], flush=True)
    lines = [f"{'submission':72} {'post-processing':17} {'mean Dice over seeds (min..max)':>32}"]
    for key in per_seed[0]:
        values = [rows[key]["overall"]["dice"]["mean"] for rows in per_seed]
        lines.append(f"{key[0]:72} {key[1]:17} {sum(values) / len(values):8.3f} ({min(values):.2f}..{max(values):.2f})")
    n_cases = [next(iter(rows.values()))["n_cases"] for rows in per_seed]
    note = (f"Models of the uda_accuracy seed folders (small preset, nnU-Net 2d, fold all; PAST = "
            f"{args.past_trainer}), each scored on its own hrT2 validation scans ({n_cases}). Mean over cases; "
            "ASSD in mm (350 for an empty prediction). s/scan: median seconds per scan of nnuda-submit "
            "(reading, all models of the arm with mirroring, writing) on the machine above. The label-wise arm was "
            "chosen after the uda_accuracy table of these seeds showed PAST losing VS on one seed (translation only "
            "0.33, PAST 0.14) and gaining the cochlea on both: it is not an independent test of that choice. "
            "Site-routed: each scan goes to the PAST model self-trained on the unlabeled scans of its site "
            "(etz or ldn, from the case name), all from the same stage 0.")
    write_report(args.results, "nnuda-submit: single models, ensembles, post-processing",
                 f"--from {' '.join(map(str, args.seed_dirs))}, device {args.device}", note,
                 "\n".join(lines) + "\n\n" + "\n\n".join(tables), "benchmarks/submission/run.py")


if __name__ == "__main__":
    main()
