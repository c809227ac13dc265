"""Translation levers: how each choice of ``nnuda-translate`` changes what an hrT2 model sees.

Issue 11 item 2. An oracle nnU-Net trained on labeled hrT2 scans segments the source
volumes after translation; if the translator draws the tumour or the cochlea unlike hrT2
(or erases them), the oracle does not find them where the source label says. Measured on
the phantom folder, the oracle and the default translation of one seed of
``benchmarks/uda_accuracy`` (``--from``, its ``seed_<k>`` folder; nothing there is
changed), with one ``nnuda-translate`` run per lever, cumulative from the paper's
settings to nnuda-translate's defaults:

1. the paper's CycleGAN: identity loss 0.5, no flips, no label edits;
2. identity loss off;
3. random left-right flips;
4. the source tumour at half its signal on the translator's input (``--source-label-scale 1=0.5``);
5. the cochlea drawn at fluid level after translation: nnuda-translate's defaults (the
   seed's own translation, no new run);
6. defaults with ``--preserve-structures``.

Rows also give the floor (untranslated ceT1), the ceiling for these cases (the phantom's
paired hrT2 of the same source cases) and the oracle on real hrT2 validation scans.
Besides the Dice, the mean intensity inside the tumour and the cochlea in z-scores of the
volume (nnU-Net's normalisation) shows how the structures are drawn, whatever the oracle
makes of them. Writes ``results.md`` and ``examples.png`` beside this file;
``exploration.md`` holds the earlier hand-run comparisons that chose the defaults (crops,
generators, slice sizes, iteration counts).

    python benchmarks/translation_levers/run.py --from /tmp/uda_accuracy/seed_0 -o /tmp/levers
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

from tqdm import tqdm

from nnunet_uda.bench_report import machine
from nnunet_uda.demo import ORACLE_ID, TRANSLATED_ID, DemoSettings, Pipeline
from nnunet_uda.errors import InputError
from nnunet_uda.evaluate import CSV_FIELDS, evaluate_folder, summarize, write_rows_csv

CET1_ID = 604
CEILING = "real hrT2 validation (oracle ceiling)"
PAIRED = "paired hrT2 of the source cases"
CET1 = "untranslated ceT1"
DEFAULTS = "5. + cochlea at fluid level (defaults)"
LEVERS = {
    "1. paper: identity 0.5, no flips, no edits": (611, ["--lambda-identity", "0.5", "--no-flip", "--no-label-edits"]),
    "2. identity off": (612, ["--no-flip", "--no-label-edits"]),
    "3. + flips": (613, ["--no-label-edits"]),
    "4. + tumour x0.5 on the input": (614, ["--no-label-edits", "--source-label-scale", "1=0.5"]),
    DEFAULTS: (TRANSLATED_ID, None),
    "6. defaults + preserve structures": (616, ["--preserve-structures"]),
}
"""Row -> (dataset id, extra nnuda-translate options; None: the seed's own translation)."""
MIN_TUMOUR_VOXELS = 30
"""Cases with fewer tumour voxels are left out of the tumour intensity (mostly partial volume)."""


def levers_pipeline(source: Path, work: Path, seed: int) -> Pipeline:
    """A Pipeline on a copy-free view of a uda_accuracy seed folder: its data, raw datasets,
    preprocessed data and models are used in place, new datasets go to ``work``."""
    settings = DemoSettings.benchmark_scale(input=source / "crossmoda", translation_crop_roi=False, seed=seed, oracle=True,
                            device="cpu")
    p = Pipeline(source, settings)
    p.workdir = work
    p.log = work / "levers.log"
    return p


def translate(p: Pipeline, name: str, dataset_id: int, extra: list[str], iterations: int) -> Path:
    """The lever's translated imagesTr (trained and written once; reused when it exists)."""
    if p.existing_dataset(dataset_id) is None:
        command = p.translate_command(dataset_id, f"translation_{dataset_id}", ("--name", f"levers_{dataset_id}", *extra))
        command[command.index("--iterations") + 1] = iterations
        p.run(*command)
    return p.dataset_folder(dataset_id) / "imagesTr"


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
    """The source labels as ``<case>_Label.nii.gz`` (the evaluator's naming)."""
    gt = p.workdir / "ground_truth"
    labels = sorted((p.data / "source_training").glob("*_Label.nii.gz"))
    if len(list(gt.glob("*_Label.nii.gz"))) != len(labels):
        shutil.rmtree(gt, ignore_errors=True)
        gt.mkdir(parents=True)
        for lab in labels:
            shutil.copy2(lab, gt / lab.name)
    return gt


def read_labels(gt: Path) -> dict:
    """``case -> label array`` of every ``<case>_Label.nii.gz`` in ``gt``."""
    from nnunet_uda.image_io import read_array

    return {f.name[: -len("_Label.nii.gz")]: read_array(f)[0] for f in sorted(gt.glob("*_Label.nii.gz"))}


def structure_contrast(labels: dict, images: Path, value: int, min_voxels: int = 1) -> dict[str, float]:
    """Mean intensity inside label ``value``, in standard deviations of the whole volume from its
    mean, over the cases with at least ``min_voxels`` such voxels."""
    import numpy as np

    from nnunet_uda.image_io import read_array

    values = []
    for case, label in labels.items():
        if (label == value).sum() < min_voxels:
            continue
        image = read_array(images / f"{case}_0000.nii.gz")[0].astype(np.float64)
        values.append(float(((image[label == value] - image.mean()) / image.std()).mean()))
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n_cases": len(values)}


def write_examples(labels: dict, images: dict[str, Path], preds: dict[str, Path], png: Path, n_cases: int = 2) -> None:
    """Rows: the ``n_cases`` largest tumours at their largest slice, then the slice with the most
    cochlea of the first case; columns: image sets; source label green, oracle red."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nnunet_uda.image_io import read_array
    from nnunet_uda.overlay import GT_COLOUR, PRED_COLOUR, draw_contour

    cases = sorted(labels, key=lambda c: -int((labels[c] == 1).sum()))[:n_cases]
    shown = [(c, 1, int(np.argmax((labels[c] == 1).sum((1, 2))))) for c in cases]
    shown.append((cases[0], 2, int(np.argmax((labels[cases[0]] == 2).sum((1, 2))))))
    fig = Figure(figsize=(2.2 * len(images), 2.2 * len(shown)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(shown), len(images), squeeze=False)
    for r, (case, value, z) in enumerate(shown):
        for c, (row, folder) in enumerate(images.items()):
            ax = axes[r, c]
            plane = read_array(folder / f"{case}_0000.nii.gz")[0][z].astype(np.float32)
            lo, hi = np.percentile(plane, (1, 99))
            ax.imshow(plane, cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-6), interpolation="nearest")
            for mask, colour in ((labels[case][z] == value, GT_COLOUR),
                                 (read_array(preds[row] / f"{case}.nii.gz")[0][z] == value, PRED_COLOUR)):
                if mask.any():
                    draw_contour(ax, mask, colour, 0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(row if len(row) < 24 else row[:22] + "...", fontsize=7)
            if c == 0:
                ax.set_ylabel(f"{case[-6:]} {'VS' if value == 1 else 'cochlea'}", fontsize=7)
    fig.suptitle("source label (green), oracle (red)", fontsize=9)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)


def score(p: Pipeline, images: dict[str, Path | None], examples: Path) -> dict[str, dict]:
    """Predict every row's images with the oracle and score them; the example figure to ``examples``."""
    gt = ground_truth(p)
    out = p.workdir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    summaries, preds = {}, {}
    for i, (row, folder) in enumerate(images.items()):
        tag = f"row{i}"
        preds[row] = p.predict(ORACLE_ID, p.s.oracle_trainer, tag, images=folder)
        rows = evaluate_folder(preds[row], p.validation_labels if folder is None else gt)
        write_rows_csv(rows, out / f"{tag}_per_case.csv", CSV_FIELDS)
        summaries[row] = summarize(rows)
    labels = read_labels(gt)
    source_sets = {row: folder for row, folder in images.items() if folder is not None}
    for row, folder in source_sets.items():
        summaries[row]["tumour_z"] = structure_contrast(labels, folder, 1, MIN_TUMOUR_VOXELS)
        summaries[row]["cochlea_z"] = structure_contrast(labels, folder, 2)
    (out / "summaries.json").write_text(json.dumps(summaries, indent=2))
    write_examples(labels, source_sets, preds, examples)
    return summaries


def table(summaries: dict[str, dict]) -> list[str]:
    """Markdown table: Dice per structure (mean ± std over cases) and structure intensities (z)."""

    def cell(stat: dict | None, digits: int) -> str:
        return "–" if stat is None else f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"

    lines = ["| image set | VS Dice | cochlea Dice | tumour intensity (z) | cochlea intensity (z) |",
             "|---|---|---|---|---|"]
    for row, s in summaries.items():
        st = s["structures"]
        lines.append(f"| {row} | {cell(st['VS']['dice'], 3)} | {cell(st['cochlea']['dice'], 3)} | "
                     f"{cell(s.get('tumour_z'), 2)} | {cell(s.get('cochlea_z'), 2)} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", type=Path, required=True,
                    help="a finished seed folder of benchmarks/uda_accuracy (its data, oracle and translation)")
    ap.add_argument("-o", "--workdir", type=Path, required=True, help="work folder for the levers' runs (resumes)")
    ap.add_argument("--iterations", type=int, default=4000, help="CycleGAN iterations of every lever")
    ap.add_argument("--skip", nargs="*", default=[], type=int, help="leave these lever numbers out")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = ap.parse_args()
    source = args.source.resolve()
    synth = json.loads((source / "crossmoda" / "synth.json").read_text()) if (source / "crossmoda" / "synth.json").is_file() else None
    if synth is None or not list((source / "nnunet" / "results").glob(f"Dataset{ORACLE_ID}_*")):
        raise InputError(f"{source} is not a finished uda_accuracy seed folder (phantoms and oracle)")
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    p = levers_pipeline(source, work, synth["seed"])
    p.env["nnUNet_raw"] = str(work / "raw")  # new datasets here, the seed's own ones are found below
    (work / "raw").mkdir(exist_ok=True)
    for link in (source / "nnunet" / "raw").iterdir():
        if not (work / "raw" / link.name).exists():
            (work / "raw" / link.name).symlink_to(link)
    timings_file = work / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    images: dict[str, Path | None] = {CEILING: None, PAIRED: paired_images(p)}
    if p.existing_dataset(CET1_ID) is None:
        p.run("nnuda-convert", "-i", p.data, "-d", CET1_ID, "--modality", "ceT1")
    images[CET1] = p.dataset_folder(CET1_ID) / "imagesTr"
    levers = {row: v for row, v in LEVERS.items() if int(row.split(".")[0]) not in args.skip}
    with tqdm(levers.items(), desc="translation levers", unit="lever") as bar:
        for row, (dataset_id, extra) in bar:
            bar.set_postfix_str(row)
            t = time.time()
            images[row] = (p.dataset_folder(dataset_id) / "imagesTr" if extra is None
                           else translate(p, row, dataset_id, extra, args.iterations))
            timings[row] = timings.get(row, 0.0) + time.time() - t
            timings_file.write_text(json.dumps(timings, indent=2))
    summaries = score(p, images, args.out.with_name("examples.png"))
    command = shlex.join(["python", "benchmarks/translation_levers/run.py", *sys.argv[1:]])
    n_cases = summaries[CET1]["n_cases"]
    lines = [
        "# Translation levers (ceT1 -> hrT2, nnuda-synth)",
        "",
        f"The oracle of `benchmarks/uda_accuracy` seed {synth['seed']} (`nnUNetTrainer_demo`, 2d, on labeled hrT2) "
        f"segments the {n_cases} source volumes of that seed's phantom folder: untranslated, translated with each "
        "lever added in turn, and the phantom's paired hrT2 of the same cases (a perfect translation). Scored "
        "against the source labels (mean ± std over cases). Intensities: mean inside the structure in standard "
        f"deviations from the volume's mean (tumour over the cases with at least {MIN_TUMOUR_VOXELS} voxels).",
        "",
        *table(summaries),
        "",
        f"Machine: {machine()}.",
        "",
        f"Settings: CycleGAN {args.iterations} iterations per lever at the seed's translation settings "
        "(`nnunet_uda.demo.Pipeline.translate_command`: whole slices, image side fitted to the ROI, width 16). "
        "Row 5 is the seed's own translation (the same settings). One translator run per row, one seed.",
        "",
        "| step | wall time (min) |",
        "|---|---|",
        *[f"| {step} | {sec / 60:.1f} |" for step, sec in timings.items()],
        "",
        f"Command: `{command}`",
        "",
        "![examples](examples.png)",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(table(summaries)))


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"run.py: {e}")
