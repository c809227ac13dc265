"""Structure preservation in translation: an oracle hrT2 nnU-Net segments translated ceT1 volumes.

Issue 3 item 7. If a translator erases or shifts the cochlea or a small tumour, a model
trained on real hrT2 scans (the oracle) will not find them in the translated image where
the source label says they are. Measured, all through the repository's own functions
and commands and stock nnU-Net:

1. ``nnunet_uda.synth.synthesize``: a phantom CrossMoDA folder (``--preset``, ``--seed``);
2. oracle: ``nnunet_uda.convert.convert(data, 601, 'hrT2')`` (the labeled target scans),
   ``nnUNetv2_plan_and_preprocess``, ``nnUNetv2_train ... -tr nnUNetTrainer_demo``;
3. ``nnuda-translate --src ceT1 --tgt hrT2`` twice with the same seed and settings:
   dataset 602 plain CycleGAN, 603 with ``--preserve-structures``; the untranslated
   ceT1 volumes (``convert(data, 604, 'ceT1')``) are the no-translation reference;
4. ``nnUNetv2_predict`` with the oracle on each dataset's ``imagesTr``, scored against
   the source labels with ``nnunet_uda.evaluate.evaluate_folder`` / ``summarize``.

Every nnU-Net folder lives under the work folder (``-o``, default a new temporary
folder); the variables are set per subprocess, so the user's nnU-Net data is never
touched. A second run with the same ``-o`` skips the finished steps.

    python benchmarks/structure_preservation/run.py -o /tmp/nnuda_structure   # CPU, tiny

Writes ``results.md`` beside this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from nnunet_uda.bench_report import machine
from nnunet_uda.convert import convert
from nnunet_uda.env import trainers_folder
from nnunet_uda.errors import InputError
from nnunet_uda.evaluate import CSV_FIELDS, evaluate_folder, summarize, write_rows_csv

ORACLE_ID, PLAIN_ID, PRESERVE_ID, CET1_ID = 601, 602, 603, 604
ROWS = {
    "real hrT2 validation (oracle ceiling)": None,
    "untranslated ceT1": CET1_ID,
    "CycleGAN": PLAIN_ID,
    "CycleGAN + structure preservation": PRESERVE_ID,
}
"""Table row -> the nnU-Net dataset whose imagesTr the oracle segments (None: the oracle's imagesTs,
the real hrT2 validation scans, scored against ``target_validation_labels``)."""


@dataclass
class Bench:
    """The work folder, the settings and the environment of every subprocess."""

    work: Path
    args: argparse.Namespace
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sub in ("raw", "preprocessed", "results"):
            (self.work / "nnunet" / sub).mkdir(parents=True, exist_ok=True)
        self.log = self.work / "run.log"

    @property
    def data(self) -> Path:
        return self.work / "data"

    @property
    def raw(self) -> Path:
        return self.work / "nnunet" / "raw"

    def env(self, threads: int | None = 1) -> dict[str, str]:
        """The environment of a subprocess: nnU-Net folders in the work folder, our trainers, few threads.

        ``threads=None`` (training) leaves torch its default thread count and runs data
        augmentation in the main process (``nnUNet_n_proc_DA=0``, which planning rejects).
        """
        env = dict(os.environ)
        for var, sub in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"), ("nnUNet_results", "results")):
            env[var] = str(self.work / "nnunet" / sub)
        env["nnUNet_extTrainer"] = str(trainers_folder())
        env["nnUNet_n_proc_DA"] = "1"
        env["nnUNet_compile"] = "false"
        env["PYTHONUNBUFFERED"] = "1"
        if threads is None:
            env.pop("OMP_NUM_THREADS", None)
            env["nnUNet_n_proc_DA"] = "0"
        else:
            env["OMP_NUM_THREADS"] = str(threads)
        return env

    def run(self, tool: str, *args: object, threads: int | None = 1) -> None:
        """Run an installed console script; its output is appended to ``run.log``.

        Raises:
            InputError: the command failed.
        """
        exe = Path(sys.executable).parent / tool
        cmd = [str(exe if exe.exists() else tool), *map(str, args)]
        with open(self.log, "a") as log:
            log.write(f"\n$ {shlex.join(cmd)}\n")
            log.flush()
            res = subprocess.run(cmd, env=self.env(threads), stdout=log, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise InputError(f"step failed: {tool} (exit {res.returncode}); see {self.log}")

    def dataset(self, dataset_id: int) -> Path | None:
        """The raw dataset folder of ``dataset_id``, or None when it was not written yet."""
        return next(iter(sorted(self.raw.glob(f"Dataset{dataset_id:03d}_*"))), None)

    def model_folder(self) -> Path:
        """The oracle's fold-0 training folder."""
        results = self.work / "nnunet" / "results"
        return results / f"Dataset{ORACLE_ID:03d}_CrossMoDA_hrT2" / f"{self.args.oracle_trainer}__nnUNetPlans__{self.args.configuration}" / "fold_0"


def synth_step(b: Bench) -> None:
    """Generate the phantom CrossMoDA folder."""
    if not (b.data / "synth.json").exists():
        from nnunet_uda.synth import synthesize

        synthesize(b.data, preset=b.args.preset, seed=b.args.seed, n_source=b.args.n_cases, n_target=b.args.n_cases,
                   n_validation=b.args.n_validation, overwrite=True, preview=False)


def convert_step(b: Bench) -> None:
    """Oracle dataset (labeled hrT2) and the untranslated ceT1 reference dataset."""
    for dataset_id, modality in ((ORACLE_ID, "hrT2"), (CET1_ID, "ceT1")):
        if b.dataset(dataset_id) is None:
            convert(b.data, dataset_id, modality, raw_root=b.raw)


def plan_step(b: Bench) -> None:
    """``nnUNetv2_plan_and_preprocess`` of the oracle dataset."""
    if not list((b.work / "nnunet" / "preprocessed").glob(f"Dataset{ORACLE_ID:03d}_*/nnUNetPlans.json")):
        b.run("nnUNetv2_plan_and_preprocess", "-d", ORACLE_ID, "-c", b.args.configuration, "-np", "1", "--verify_dataset_integrity")


def train_step(b: Bench) -> None:
    """Train the oracle (fold 0); continues an interrupted training with ``--c``."""
    model = b.model_folder()
    if (model / "checkpoint_final.pth").exists():
        return
    resume = ["--c"] if any(model.glob("checkpoint_*.pth")) else []
    b.run("nnUNetv2_train", ORACLE_ID, b.args.configuration, "0", "-tr", b.args.oracle_trainer, "-device", b.args.device, *resume,
          threads=None)


def translate_step(b: Bench, dataset_id: int, preserve: bool) -> None:
    """``nnuda-translate`` ceT1 -> hrT2 into ``dataset_id``; resumes its own training."""
    if b.dataset(dataset_id) is not None:
        return
    name = "preserve" if preserve else "plain"
    a = b.args
    b.run("nnuda-translate", "--src", "ceT1", "--tgt", "hrT2", "-i", b.data, "-d", dataset_id,
          "--name", f"CrossMoDA_ceT1toHrT2_{name}", "-o", b.work / f"translation_{name}",
          "--iterations", a.iterations, "--image-size", a.image_size, "--channels", a.channels,
          "--seed", a.seed, "--device", a.device, "--quiet", *(["--no-crop"] if a.no_crop else []),
          *(["--preserve-structures"] if preserve else []))


def predict_step(b: Bench, dataset_id: int | None) -> Path:
    """Segment the dataset's ``imagesTr`` (None: the oracle's ``imagesTs``) with the oracle's final checkpoint."""
    if dataset_id is None:
        images, pred = b.dataset(ORACLE_ID) / "imagesTs", b.work / "predictions" / "hrT2_validation"
    else:
        images, pred = b.dataset(dataset_id) / "imagesTr", b.work / "predictions" / f"Dataset{dataset_id:03d}"
    if len(list(pred.glob("*.nii.gz"))) < len(list(images.glob("*.nii.gz"))):
        b.run("nnUNetv2_predict", "-i", images, "-o", pred, "-d", ORACLE_ID, "-c", b.args.configuration, "-f", "0",
              "-tr", b.args.oracle_trainer, "-chk", "checkpoint_final.pth", "--disable_tta", "-device", b.args.device,
              "-npp", "1", "-nps", "1")
    return pred


def ground_truth(b: Bench) -> Path:
    """The source labels as ``<case>_Label.nii.gz`` (the evaluator's naming), from dataset 602's labelsTr."""
    gt = b.work / "ground_truth"
    labels = sorted((b.dataset(PLAIN_ID) / "labelsTr").glob("*.nii.gz"))
    if not gt.is_dir() or len(list(gt.iterdir())) != len(labels):
        shutil.rmtree(gt, ignore_errors=True)
        gt.mkdir(parents=True)
        for lab in labels:
            shutil.copy2(lab, gt / lab.name.replace(".nii.gz", "_Label.nii.gz"))
    return gt


def score_step(b: Bench) -> dict[str, dict]:
    """Predict every row's images, score them against the source labels; per-case CSVs in ``evaluation/``."""
    gt = ground_truth(b)
    out = b.work / "evaluation"
    out.mkdir(exist_ok=True)
    summaries = {}
    for row, dataset_id in ROWS.items():
        truth = b.data / "target_validation_labels" if dataset_id is None else gt
        rows = evaluate_folder(predict_step(b, dataset_id), truth)
        tag = "hrT2_validation" if dataset_id is None else f"Dataset{dataset_id:03d}"
        write_rows_csv(rows, out / f"{tag}_per_case.csv", CSV_FIELDS)
        summaries[row] = summarize(rows)
    (out / "summaries.json").write_text(json.dumps(summaries, indent=2))
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


def write_results(b: Bench, summaries: dict[str, dict], command: str, out: Path) -> None:
    """``results.md``: table, machine, settings, step wall times, command."""
    a = b.args
    n_cases = summaries["untranslated ceT1"]["n_cases"]
    n_ceiling = next(s["n_cases"] for row, s in summaries.items() if ROWS[row] is None)
    lines = [
        "# Structure preservation in translation (ceT1 -> hrT2, nnuda-synth)",
        "",
        f"An oracle nnU-Net trained on labeled hrT2 scans (`{a.oracle_trainer}`, {a.configuration}, fold 0) segments the "
        f"{n_cases} source volumes, untranslated and translated by CycleGAN without and with "
        "`--preserve-structures`; scored against the source labels (mean ± std over cases; ASSD in mm).",
        "",
        *table(summaries),
        "",
        f"Machine: {machine()}.",
        "",
        f"Settings: nnuda-synth preset `{a.preset}` seed {a.seed} "
        f"({n_cases} source cases scored); "
        f"translation CycleGAN {a.iterations} iterations, {a.image_size}x{a.image_size} "
        f"{'whole slices' if a.no_crop else 'ROI-cropped slices'}, base width {a.channels}, "
        f"seed {a.seed}, CPU; oracle `{a.oracle_trainer}` on CPU, `--disable_tta`, `checkpoint_final.pth`.",
        "",
        f"ASSD is capped at 350 mm (`nnunet_uda.metrics.MAX_SURFACE_DISTANCE_MM`) when a structure is predicted "
        "empty, so 350 ± 0 means the oracle found that structure in no case. The ceiling row scores the oracle "
        f"on the {n_ceiling} real hrT2 validation scans (`target_validation`, not trained on) against their own labels.",
        "",
        "Read with care: one seed, no repeats; a difference between the two CycleGAN rows means little unless "
        "the ceiling row is clearly above them and the oracle finds both structures on real hrT2.",
        "",
        "| step | wall time (min, summed over resumed runs) |",
        "|---|---|",
        *[f"| {step} | {sec / 60:.1f} |" for step, sec in b.timings.items()],
        f"| total | {sum(b.timings.values()) / 60:.1f} |",
        "",
        f"Command: `{command}`",
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
    ap.add_argument("--iterations", type=int, default=600, help="CycleGAN iterations (nnuda-demo's)")
    ap.add_argument("--image-size", type=int, default=48, help="translation slice side")
    ap.add_argument("--channels", type=int, default=16, help="translation base width (nnuda-demo's)")
    ap.add_argument("--crop", dest="no_crop", action="store_false",
                    help="crop slices to PAST's ROI (default: whole slices, as nnuda-demo on tiny/small phantoms)")
    ap.add_argument("-c", "--configuration", default="2d", help="nnU-Net configuration of the oracle")
    ap.add_argument("--oracle-trainer", default="nnUNetTrainer_demo", help="nnU-Net trainer of the oracle")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where nnU-Net and the translator run")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    return ap


def main() -> None:
    args = build_parser().parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="nnuda_structure_"))
    work.mkdir(parents=True, exist_ok=True)
    b = Bench(work.resolve(), args)
    summaries: dict[str, dict] = {}
    timings_file = b.work / "timings.json"
    if timings_file.exists():
        b.timings = json.loads(timings_file.read_text())
    steps = [
        ("synthesize", lambda: synth_step(b)),
        ("convert (oracle hrT2, ceT1 reference)", lambda: convert_step(b)),
        ("oracle plan + preprocess", lambda: plan_step(b)),
        ("oracle train", lambda: train_step(b)),
        ("translate (CycleGAN)", lambda: translate_step(b, PLAIN_ID, False)),
        ("translate (CycleGAN + preserve)", lambda: translate_step(b, PRESERVE_ID, True)),
        ("predict + score", lambda: summaries.update(score_step(b))),
    ]
    with tqdm(steps, desc="structure preservation", unit="step") as bar:
        for name, fn in bar:
            bar.set_postfix_str(name)
            t = time.time()
            fn()
            b.timings[name] = b.timings.get(name, 0.0) + time.time() - t
            timings_file.write_text(json.dumps(b.timings, indent=2))
    command = shlex.join(["python", "benchmarks/structure_preservation/run.py", *sys.argv[1:]])
    write_results(b, summaries, command, args.out)
    print("\n".join(table(summaries)))
    print(f"wrote {args.out} (work folder {b.work}, log {b.log})")


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"run.py: {e}")
