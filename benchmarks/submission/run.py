"""Single models vs ensembles through ``nnuda-submit``, with and without post-processing.

Reuses the models of a ``benchmarks/uda_accuracy`` seed folder (translation only = PAST's
stage-0 checkpoint, PAST, PAST + cleaning, PAST with thresholds per domain; nnU-Net 2d,
fold ``all``) and scores each submission on the seed's hrT2 validation scans (Dice, ASSD)::

    python benchmarks/submission/run.py --from /tmp/uda_accuracy/seed_0 -o /tmp/submission

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
from nnunet_uda.demo import TRANSLATED_ID
from nnunet_uda.evaluate import evaluate_folder, summarize
from nnunet_uda.postprocess import PostProcessing

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def model(trainer: str, checkpoint: str = "checkpoint_final.pth") -> dict:
    return {"dataset": TRANSLATED_ID, "trainer": trainer, "configuration": "2d", "folds": ["all"],
            "checkpoint": checkpoint}


PAST, CLEAN, PER_DOMAIN = "nnUNetTrainerPAST_demo", "nnUNetTrainerPAST_demo_clean", "nnUNetTrainerPAST_demo_perDomain"
ARMS = {
    "translation only": [{"name": "stage0", "models": [model(PAST, "checkpoint_stage0.pth")]}],
    "PAST": [{"name": "past", "models": [model(PAST)]}],
    "PAST + cleaning": [{"name": "clean", "models": [model(CLEAN)]}],
    "PAST, thresholds per domain": [{"name": "domain", "models": [model(PER_DOMAIN)]}],
    "mean of the three PAST models": [{"name": "mean", "models": [model(PAST), model(CLEAN), model(PER_DOMAIN)]}],
    "label-wise: VS from PAST + cleaning, cochlea from PAST": [
        {"name": "vs", "structures": ["VS"], "models": [model(CLEAN)]},
        {"name": "cochlea", "structures": ["cochlea"], "models": [model(PAST)]}],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="seed_dir", type=Path, required=True, help="a uda_accuracy seed folder")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    import os

    env = dict(os.environ)
    root = args.seed_dir / "nnunet"
    env.update(nnUNet_raw=str(root / "raw"), nnUNet_preprocessed=str(root / "preprocessed"),
               nnUNet_results=str(root / "results"))
    args.output.mkdir(parents=True, exist_ok=True)
    gt = args.seed_dir / "crossmoda" / "target_validation_labels"
    lines = [f"{'submission':56} {'post-processing':17} {'VS Dice':>8} {'coch Dice':>9} {'VS ASSD':>8} "
             f"{'coch ASSD':>9} {'mean Dice':>9} {'s/scan':>7}"]
    rows = {}
    for name, groups in ARMS.items():
        folder, seconds = run_arm(name, groups, args.seed_dir, args.output, env, args.device)
        for post_name, post in POST.items():
            s = summarize(evaluate_folder(post_processed(folder, post, post_name), gt))
            st = s["structures"]
            rows[(name, post_name)] = s
            lines.append(f"{name:56} {post_name:17} {st['VS']['dice']['mean']:8.3f} {st['cochlea']['dice']['mean']:9.3f} "
                         f"{st['VS']['assd']['mean']:8.2f} {st['cochlea']['assd']['mean']:9.2f} "
                         f"{s['overall']['dice']['mean']:9.3f} {seconds:7.2f}")
    table = "\n".join(lines)
    print(table)
    (args.output / "summaries.json").write_text(json.dumps({f"{a} | {p}": s for (a, p), s in rows.items()}, indent=1))
    note = (f"Models of {args.seed_dir} (uda_accuracy, small preset, nnU-Net 2d, fold all), scored on its "
            f"{s['n_cases']} hrT2 validation scans. Mean over cases; ASSD in mm (350 for an empty prediction). "
            "s/scan: median seconds per scan of nnuda-submit (reading, all models of the arm with mirroring, "
            "writing) on the machine above, while nothing else ran unless said below.")
    write_report(args.results, "nnuda-submit: single models, ensembles, post-processing",
                 f"--from {args.seed_dir}, device {args.device}", note, table, "benchmarks/submission/run.py")


if __name__ == "__main__":
    main()
