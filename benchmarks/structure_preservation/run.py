"""Structure preservation in translation: an oracle hrT2 nnU-Net segments translated ceT1 volumes.

Issue 3 item 7. If a translator erases or shifts the cochlea or a small tumour, a model
trained on real hrT2 scans (the oracle) will not find them in the translated image where
the source label says they are. Measured, all through the repository's own commands and
stock nnU-Net, driven by ``nnunet_uda.demo.Pipeline``:

1. ``nnuda-synth``: a phantom CrossMoDA folder (``--preset``, ``--seed``);
2. oracle: ``nnuda-convert --modality hrT2`` (the labeled target scans),
   ``nnUNetv2_plan_and_preprocess``, ``nnUNetv2_train ... -tr nnUNetTrainer_demo``;
3. ``nnuda-translate --src ceT1 --tgt hrT2`` twice with the same seed and settings:
   plain CycleGAN, and CycleGAN with ``--preserve-structures``;
4. ``nnUNetv2_predict`` with the oracle on each image set, scored against the source
   labels with ``nnunet_uda.evaluate``. Besides the two translations, the oracle sees
   the untranslated ceT1 volumes (the floor), the phantom's paired hrT2 of the same
   source cases (what a perfect translation would give: the ceiling for these cases),
   and the real hrT2 validation scans (how good the oracle is at all).

Every nnU-Net folder lives under the work folder (``-o``, default a new temporary
folder), so the user's nnU-Net data is never touched. A second run with the same ``-o``
skips the finished steps; a run with other translation settings needs another ``-o``.

    python benchmarks/structure_preservation/run.py -o /tmp/nnuda_structure   # CPU, tiny

Writes ``results.md`` and ``examples.png`` (the largest tumours in every image set, with
the source label and the oracle's segmentation) beside this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from nnunet_uda.bench_report import machine
from nnunet_uda.demo import DemoSettings, Pipeline
from nnunet_uda.errors import InputError
from nnunet_uda.evaluate import CSV_FIELDS, evaluate_folder, summarize, write_rows_csv

ORACLE_ID, PLAIN_ID, PRESERVE_ID, CET1_ID = 601, 602, 603, 604
CEILING = "real hrT2 validation (oracle ceiling)"
PAIRED = "paired hrT2 of the source cases"
ROWS = (CEILING, PAIRED, "untranslated ceT1", "CycleGAN", "CycleGAN + structure preservation")
TRANSLATIONS = {"CycleGAN": (PLAIN_ID, "plain", False), "CycleGAN + structure preservation": (PRESERVE_ID, "preserve", True)}
"""Table row -> (dataset id, name, --preserve-structures)."""


def settings_of(args: argparse.Namespace) -> DemoSettings:
    """The Pipeline's settings: the oracle is the demo's baseline trainer on labeled hrT2."""
    return DemoSettings(preset=args.preset, configuration=args.configuration, seed=args.seed, n_source=args.n_cases,
                        n_target=args.n_cases, n_validation=args.n_validation, baseline_trainer=args.oracle_trainer,
                        device=args.device)


def translation_settings(args: argparse.Namespace, preserve: bool) -> dict:
    """What the translator's saved config must hold for a translated dataset to be reused."""
    want = {"iterations": args.iterations, "base_channels": args.channels, "seed": args.seed,
            "preserve_structures": preserve}
    if preserve and args.lambda_seg is not None:
        want["lambda_seg"] = args.lambda_seg
    return want


def check_reusable(dataset: Path, want: dict) -> None:
    """Refuse a translated dataset of this work folder made with other settings.

    Raises:
        InputError: its translator's config differs from ``want``.
    """
    meta = json.loads((dataset / "dataset.json").read_text())["nnunet_uda"]
    for run in meta["translators"].values():
        config = json.loads((Path(run["work_folder"]) / "config.json").read_text())["config"]
        differs = {k: (config.get(k), v) for k, v in want.items() if config.get(k) != v}
        if differs:
            raise InputError(f"{dataset} was translated with other settings ({differs}, saved vs asked); use another -o")


def translate_step(p: Pipeline, args: argparse.Namespace, dataset_id: int, name: str, preserve: bool) -> None:
    """``nnuda-translate`` ceT1 -> hrT2 into ``dataset_id``; resumes its own training."""
    found = p.existing_dataset(dataset_id)
    if found is not None:
        check_reusable(found, translation_settings(args, preserve))
        return
    extra = ["--preserve-structures"] if preserve else []
    if preserve and args.lambda_seg is not None:
        extra += ["--lambda-seg", args.lambda_seg]
    p.run("nnuda-translate", "--src", "ceT1", "--tgt", "hrT2", "-i", p.data, "-d", dataset_id,
          "--name", f"CrossMoDA_ceT1toHrT2_{name}", "-o", p.workdir / f"translation_{name}",
          "--iterations", args.iterations, "--image-size", args.image_size, "--channels", args.channels,
          "--seed", args.seed, "--device", p.device, "--quiet", "--sample-every", max(1, args.iterations // 4),
          *(["--no-crop"] if args.no_crop else []), *extra)


def convert_reference(p: Pipeline) -> None:
    """The untranslated ceT1 volumes and their labels as an nnU-Net dataset (no planning: only predicted)."""
    if p.existing_dataset(CET1_ID) is None:
        p.run("nnuda-convert", "-i", p.data, "-d", CET1_ID, "--modality", "ceT1")


def paired_images(p: Pipeline) -> Path:
    """The phantom's hrT2 of each source case (``paired/``), named as nnU-Net input images."""
    out = p.workdir / "paired_hrT2"
    sources = sorted((p.data / "source_training").glob("*_ceT1.nii.gz"))
    if len(list(out.glob("*_0000.nii.gz"))) < len(sources):
        out.mkdir(exist_ok=True)
        for src in sources:
            case = src.name[: -len("_ceT1.nii.gz")]
            shutil.copyfile(p.data / "paired" / f"{case}_hrT2.nii.gz", out / f"{case}_0000.nii.gz")
    return out


def ground_truth(p: Pipeline) -> Path:
    """The source labels as ``<case>_Label.nii.gz`` (the evaluator's naming), from the ceT1 dataset's labelsTr."""
    gt = p.workdir / "ground_truth"
    labels = sorted((p.dataset_folder(CET1_ID) / "labelsTr").glob("*.nii.gz"))
    if len(list(gt.glob("*_Label.nii.gz"))) != len(labels):
        shutil.rmtree(gt, ignore_errors=True)
        gt.mkdir(parents=True)
        for lab in labels:
            shutil.copy2(lab, gt / lab.name.replace(".nii.gz", "_Label.nii.gz"))
    return gt


MIN_TUMOUR_VOXELS = 30
"""Cases with fewer tumour voxels are left out of the contrast measure (their mean is mostly partial volume)."""


def read_labels(gt: Path) -> dict:
    """``case -> label array`` of every ``<case>_Label.nii.gz`` in ``gt``."""
    from nnunet_uda.image_io import read_array

    return {f.name[: -len("_Label.nii.gz")]: read_array(f)[0] for f in sorted(gt.glob("*_Label.nii.gz"))}


def tumour_contrast(labels: dict, images: Path) -> dict[str, float]:
    """Mean intensity inside the tumour label, in standard deviations of the whole volume from its mean
    (nnU-Net's z-score normalisation of MRI), over the cases with at least ``MIN_TUMOUR_VOXELS`` tumour
    voxels: how the tumour is rendered, whatever an oracle makes of it."""
    import numpy as np

    from nnunet_uda.image_io import read_array

    values = []
    for case, label in labels.items():
        if (label == 1).sum() < MIN_TUMOUR_VOXELS:
            continue
        image = read_array(images / f"{case}_0000.nii.gz")[0].astype(np.float64)
        values.append(float(((image[label == 1] - image.mean()) / image.std()).mean()))
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n_cases": len(values)}


def write_examples(labels: dict, images: dict[str, Path], preds: dict[str, Path], png: Path, n_cases: int = 3) -> None:
    """One row per case (the ``n_cases`` largest tumours), one column per image set: the axial slice
    with the most tumour, source label in green, the oracle's tumour in red."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nnunet_uda.image_io import read_array
    from nnunet_uda.overlay import GT_COLOUR, PRED_COLOUR, draw_contour

    cases = sorted(labels, key=lambda c: -int((labels[c] == 1).sum()))[:n_cases]
    fig = Figure(figsize=(2.4 * len(images), 2.5 * len(cases)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(cases), len(images), squeeze=False)
    for r, case in enumerate(cases):
        z = int(np.argmax((labels[case] == 1).sum((1, 2))))
        for c, (row, folder) in enumerate(images.items()):
            ax = axes[r, c]
            plane = read_array(folder / f"{case}_0000.nii.gz")[0][z].astype(np.float32)
            lo, hi = np.percentile(plane, (1, 99))
            ax.imshow(plane, cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-6), interpolation="nearest")
            for mask, colour in ((labels[case][z] == 1, GT_COLOUR), (read_array(preds[row] / f"{case}.nii.gz")[0][z] == 1, PRED_COLOUR)):
                if mask.any():
                    draw_contour(ax, mask, colour, 1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(row.replace(" + ", "\n+ ").replace(" of the", "\nof the"), fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{case} z={z}", fontsize=7)
    fig.suptitle("tumour: source label (green), oracle (red)", fontsize=9)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)


def score_step(p: Pipeline, trainer: str, examples: Path) -> dict[str, dict]:
    """Predict every row's images with the oracle and score them; per-case CSVs in ``evaluation/``;
    the example figure to ``examples``."""
    gt = ground_truth(p)
    images = {
        CEILING: None,
        PAIRED: paired_images(p),
        "untranslated ceT1": p.dataset_folder(CET1_ID) / "imagesTr",
        **{row: p.dataset_folder(dataset_id) / "imagesTr" for row, (dataset_id, _, _) in TRANSLATIONS.items()},
    }
    out = p.workdir / "evaluation"
    out.mkdir(exist_ok=True)
    summaries, preds = {}, {}
    for i, row in enumerate(ROWS):
        tag = f"{i}_" + row.split(" (")[0].replace(" ", "_").replace("+", "plus")
        preds[row] = p.predict(ORACLE_ID, trainer, tag, images=images[row])
        rows = evaluate_folder(preds[row], p.data / "target_validation_labels" if images[row] is None else gt)
        write_rows_csv(rows, out / f"{tag}_per_case.csv", CSV_FIELDS)
        summaries[row] = summarize(rows)
    labels = read_labels(gt)
    source_sets = {row: folder for row, folder in images.items() if folder is not None}
    for row, folder in source_sets.items():
        summaries[row]["tumour_z"] = tumour_contrast(labels, folder)
    (out / "summaries.json").write_text(json.dumps(summaries, indent=2))
    write_examples(labels, source_sets, preds, examples)
    return summaries


def table(summaries: dict[str, dict]) -> list[str]:
    """Markdown table: Dice and ASSD (mm) per structure, mean +- std over cases."""

    def cell(stat: dict, digits: int) -> str:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"

    lines = ["| image set | VS Dice | cochlea Dice | mean Dice | VS ASSD (mm) | cochlea ASSD (mm) |",
             "|---|---|---|---|---|---|"]
    for row, s in summaries.items():
        st = s["structures"]
        lines.append(f"| {row} | {cell(st['VS']['dice'], 3)} | {cell(st['cochlea']['dice'], 3)} | "
                     f"{cell(s['overall']['dice'], 3)} | {cell(st['VS']['assd'], 2)} | {cell(st['cochlea']['assd'], 2)} |")
    return lines


def write_results(args: argparse.Namespace, timings: dict[str, float], summaries: dict[str, dict], command: str,
                  out: Path) -> None:
    """``results.md``: table, machine, settings, step wall times, command."""
    a = args
    n_cases = summaries["untranslated ceT1"]["n_cases"]
    n_ceiling = summaries[CEILING]["n_cases"]
    preserve_opts = f"lambda_seg {a.lambda_seg}" if a.lambda_seg is not None else "nnuda-translate's defaults"
    lines = [
        "# Structure preservation in translation (ceT1 -> hrT2, nnuda-synth)",
        "",
        f"An oracle nnU-Net trained on labeled hrT2 scans (`{a.oracle_trainer}`, {a.configuration}, fold 0) segments the "
        f"{n_cases} source volumes: untranslated, translated by CycleGAN without and with "
        "`--preserve-structures`, and the phantom's paired hrT2 of the same cases (a perfect translation). "
        "Scored against the source labels (mean ± std over cases; ASSD in mm).",
        "",
        *table(summaries),
        "",
        f"Machine: {machine()}.",
        "",
        f"Settings: nnuda-synth preset `{a.preset}` seed {a.seed} ({n_cases} source cases scored); "
        f"translation CycleGAN {a.iterations} iterations, {a.image_size}x{a.image_size} "
        f"{'whole slices' if a.no_crop else 'ROI-cropped slices'}, base width {a.channels}, seed {a.seed}, "
        f"structure preservation with {preserve_opts}; oracle `{a.oracle_trainer}`, `--disable_tta`, "
        f"`checkpoint_final.pth`; device {a.device}.",
        "",
        "How the tumour is rendered, whatever the oracle makes of it: mean intensity inside the tumour "
        "label, in standard deviations from the volume's mean (nnU-Net's z-score normalisation), over the "
        f"cases with at least {MIN_TUMOUR_VOXELS} tumour voxels. A translation that renders the tumour as "
        "real hrT2 shows it should come close to the paired-hrT2 row.",
        "",
        "| image set | tumour intensity (z) | cases |",
        "|---|---|---|",
        *[f"| {row} | {s['tumour_z']['mean']:.2f} ± {s['tumour_z']['std']:.2f} | {s['tumour_z']['n_cases']} |"
          for row, s in summaries.items() if "tumour_z" in s],
        "",
        "ASSD is capped at 350 mm (`nnunet_uda.metrics.MAX_SURFACE_DISTANCE_MM`) when a structure is predicted "
        "empty, so 350 ± 0 means the oracle found that structure in no case. The first row scores the oracle "
        f"on the {n_ceiling} real hrT2 validation scans (`target_validation`, not trained on) against their own labels.",
        "",
        "Read with care: one seed, no repeats; a difference between the two CycleGAN rows means little unless "
        "both are well above the untranslated row and the paired-hrT2 row shows the oracle can find the structure.",
        "",
        "| step | wall time (min, summed over resumed runs) |",
        "|---|---|",
        *[f"| {step} | {sec / 60:.1f} |" for step, sec in timings.items()],
        f"| total | {sum(timings.values()) / 60:.1f} |",
        "",
        f"Command: `{command}`",
        "",
        "![examples](examples.png)",
        "",
    ]
    out.write_text("\n".join(lines))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--workdir", type=Path, default=None, help="work folder (default: a new temporary folder)")
    ap.add_argument("--preset", choices=("tiny", "small"), default="tiny", help="nnuda-synth preset")
    ap.add_argument("--seed", type=int, default=0, help="data and translation seed")
    ap.add_argument("--n-cases", type=int, default=10, help="source and target training cases")
    ap.add_argument("--n-validation", type=int, default=4, help="hrT2 validation cases (the ceiling row)")
    ap.add_argument("--iterations", type=int, default=2000, help="CycleGAN iterations")
    ap.add_argument("--image-size", type=int, default=48, help="translation slice side")
    ap.add_argument("--channels", type=int, default=16, help="translation base width (nnuda-demo's)")
    ap.add_argument("--crop", dest="no_crop", action="store_false",
                    help="crop slices to PAST's ROI (default: whole slices, as nnuda-demo on tiny/small phantoms)")
    ap.add_argument("--lambda-seg", type=float, default=None, help="nnuda-translate --lambda-seg of the preserving run")
    ap.add_argument("-c", "--configuration", default="2d", help="nnU-Net configuration of the oracle")
    ap.add_argument("--oracle-trainer", default="nnUNetTrainer_demo", help="nnU-Net trainer of the oracle")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where nnU-Net and the translator run")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    return ap


def main() -> None:
    args = build_parser().parse_args()
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="nnuda_structure_"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    p = Pipeline(work, settings_of(args))
    trainer = args.oracle_trainer
    summaries: dict[str, dict] = {}
    timings_file = work / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    convert = ["nnuda-convert", "-i", p.data]
    steps = [
        ("synthesize", p.synth),
        ("oracle: convert + plan + preprocess", lambda: p.prepare(ORACLE_ID, [*convert, "-d", ORACLE_ID, "--modality", "hrT2"])),
        ("oracle: train", lambda: p.train(ORACLE_ID, trainer)),
        ("convert ceT1 (untranslated reference)", lambda: convert_reference(p)),
        *[(f"translate ({row})", lambda t=t: translate_step(p, args, *t)) for row, t in TRANSLATIONS.items()],
        ("predict + score", lambda: summaries.update(score_step(p, trainer, args.out.with_name("examples.png")))),
    ]
    with tqdm(steps, desc="structure preservation", unit="step") as bar:
        for name, fn in bar:
            bar.set_postfix_str(name)
            t = time.time()
            fn()
            timings[name] = timings.get(name, 0.0) + time.time() - t
            timings_file.write_text(json.dumps(timings, indent=2))
    command = shlex.join(["python", "benchmarks/structure_preservation/run.py", *sys.argv[1:]])
    write_results(args, timings, summaries, command, args.out)
    print("\n".join(table(summaries)))
    print(f"wrote {args.out} and {args.out.with_name('examples.png')} (work folder {work}, log {p.log})")


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"run.py: {e}")
