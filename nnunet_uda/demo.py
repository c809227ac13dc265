"""``nnuda-demo``: the whole UDA recipe on generated data (or on your own folder), ending in a table.

Steps (each a real command, run in a subprocess with nnU-Net's three folders set to
sub-folders of the work folder, so the user's own nnU-Net data is never touched):

1. ``nnuda-synth --preset demo`` (skipped with ``-i FOLDER``: your CrossMoDA-style folder);
2. no adaptation: ``nnuda-convert --modality ceT1`` -> plan/preprocess -> train
   ``nnUNetTrainer_quick`` -> predict the hrT2 validation scans;
3. translation: ``nnuda-translate`` (CycleGAN with its ceT1 -> hrT2 label edits) ->
   plan/preprocess -> train ``nnUNetTrainerPAST_quick``; its stage-0 checkpoint is the
   "translation only" model (PAST's S_0 is plain supervised training on the translated
   images), its final checkpoint the PAST model -> predict with both;
4. with ``--oracle`` (phantom data only): nnU-Net (``nnUNetTrainer_demo``, 2000 iterations)
   trained on the labeled hrT2 scans;
5. ``nnuda-evaluate`` of every prediction folder against the validation labels, when the
   folder has them, and a table of Dice / ASSD per structure.

A second run resumes: finished steps (their outputs exist) are skipped and training
continues from its last checkpoint. The run uses a GPU when one is available.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nnunet_uda.cli_utils import require_dir, run_cli
from nnunet_uda.crossmoda import TARGET_TRAINING, TARGET_TRAINING_LABELS, TARGET_VALIDATION, TARGET_VALIDATION_LABELS
from nnunet_uda.errors import InputError

BASELINE_ID, TRANSLATED_ID, ORACLE_ID = 990, 991, 992
TRANSLATION_SIZE_LIMIT = {"cpu": 128, "cuda": 256}
"""Largest translator input side the demo picks by itself (pixels)."""


@dataclass
class DemoSettings:
    """What the demo runs.

    ``input``: a CrossMoDA-style folder to run on instead of generated phantoms (labels of
    ``target_validation`` optional: without them the demo writes predictions, no table).

    ``preset`` and budget: the defaults aim at 15 minutes on a 2-core CPU: ``demo`` phantoms
    (PAST's region of interest at about 1 mm in plane, 8 labeled ceT1 / 8 unlabeled hrT2 /
    4 hrT2 validation scans), a 1600-iteration CycleGAN (6 residual blocks at these sizes),
    ``nnUNetTrainer_quick`` and ``nnUNetTrainerPAST_quick`` (1000 iterations, then two PAST
    rounds of 250), augmentation in the training process. Measured
    (``benchmarks/uda_accuracy/demo_run.txt``, nnU-Net then in bf16, now opt-in with
    ``NNUDA_CPU_BF16=1``): 11.1 min without the oracle (15.5
    in a slower run with 2000 translator iterations). At 1 mm the cochlea is 60-100 voxels; the
    1000-iteration models find it in some runs and not in others. :meth:`benchmark_scale` is the benchmarks'
    scale: ``small`` phantoms at 0.7-0.8 mm, where the cochlea spans 150-350 voxels and an
    hrT2-trained ``nnUNetTrainer_demo`` (2000 iterations) reached VS 0.80, cochlea 0.89 (the
    old ``tiny`` preset's 2.5 mm voxels left the cochlea a few voxels that no model found).

    ``per_site``: one translator per target site (``nnuda-translate --per-site``, PAST's
    nnUnetCon), every source volume translated into each site's style; for targets scanned with
    protocols that look different. It trains one translator per site, so translation takes
    that many times as long. On the benchmark's phantoms (two hrT2 sites, 5 unlabeled scans each)
    PAST on per-site translations reached mean Dice 0.577 vs 0.494 (seed 0) and 0.412 vs 0.404
    (seed 1) with one translator, but translation only lost the cochlea on seed 1, so it is off by
    default (``benchmarks/uda_accuracy/results.md``).

    ``oracle_trainer``: the upper bound's trainer, ``nnUNetTrainer_demo`` (2000 iterations, the
    benchmarks' oracle), not the baseline's 1000. The hrT2 phantoms draw the cochlea at 70-80
    voxels and, at the ``ldn`` site, close to the image mean (z 0.0-0.5 against 2.2-2.4 in the
    translated ceT1), so on hrT2 labels it is learned late: in one run (seed 0, 2-core AMD EPYC)
    1000 iterations left it at Dice 0.000 (VS 0.667), and 2000 iterations found it after about
    1050 iterations and reached cochlea 0.823, VS 0.676 on the same validation scans (train, predict
    and evaluate 6.1 min against about 3.5).

    ``test_time_mirroring``: predict with nnU-Net's test-time mirroring (``nnUNetv2_predict``'s
    default, 4 passes per ``2d`` slice) into ``predictions_tta/`` and score into
    ``evaluation_tta/``; off (``--disable_tta``, ``predictions/``) for the CPU budget. Measured
    on 20 adapted ``uda_accuracy`` models (``small``, seeds 0 / 1): mean Dice -0.046 to +0.047,
    median +0.02, 18 of 20 up; the oracle +0.008 / +0.010; no change without adaptation
    (``benchmarks/uda_accuracy/results.md``).

    ``configuration`` / ``fold``: nnU-Net's ``2d`` on all training cases. On a 2-core CPU a
    ``3d_fullres`` iteration costs several times a ``2d`` one; ``3d_fullres`` is the papers'
    setting (``-c 3d_fullres`` on a GPU).

    Translation: CycleGAN (ResNet generator, the paper's) on whole slices
    (``translation_crop_roi=None``: PAST's ROI crop for your own scans, none for the phantoms,
    which already are the ROI); ``translation_image_size=None`` fits the ROI at the
    target's spacing, at most 128 pixels on a CPU and 256 on a GPU.
    """

    input: Path | None = None
    preset: str = "demo"
    configuration: str = "2d"
    fold: str = "all"
    seed: int = 0
    n_source: int = 8
    n_target: int = 8
    n_validation: int = 4
    translation_iterations: int = 1600
    translation_image_size: int | None = None
    translation_channels: int = 16
    translation_crop_roi: bool | None = None
    per_site: bool = False
    baseline_trainer: str = "nnUNetTrainer_quick"
    past_trainer: str = "nnUNetTrainerPAST_quick"
    oracle: bool = False
    oracle_trainer: str = "nnUNetTrainer_demo"
    test_time_mirroring: bool = False
    device: str = "auto"

    @classmethod
    def benchmark_scale(cls, **changes) -> "DemoSettings":
        """The CPU benchmarks' scale (``small`` phantoms, 10 / 10 / 8 scans, 4000 translator
        iterations, the ``_demo`` trainers: 2000 iterations), with ``changes`` on top."""
        scale = dict(preset="small", n_source=10, n_target=10, n_validation=8, translation_iterations=4000,
                     baseline_trainer="nnUNetTrainer_demo", past_trainer="nnUNetTrainerPAST_demo")
        return cls(**{**scale, **changes})


def translation_image_size(target_images: list[Path], crop_roi: bool, limit: int) -> int:
    """Side (a multiple of 4) that holds the largest target ROI at the median target spacing,
    at most ``limit``; larger fields of view are then resampled to fit (nnuda-translate)."""
    import numpy as np
    import SimpleITK as sitk

    spacings, extents = [], []
    for path in target_images:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        size, spacing = reader.GetSize(), reader.GetSpacing()
        share = 0.5 if crop_roi else 1.0
        spacings.append(min(spacing[:2]))
        extents.append(max(n * share * s for n, s in zip(size[:2], spacing[:2])))
    if not spacings:
        raise InputError("no target images to size the translator from")
    side = int(np.ceil(max(extents) / float(np.median(spacings)) / 4.0) * 4)
    return max(32, min(limit, side))


def fewer_images(folder: Path, reference: Path) -> bool:
    """Whether ``folder`` holds fewer ``.nii.gz`` files than ``reference``: a step that writes one
    image per input is not finished yet."""
    return len(list(folder.glob("*.nii.gz"))) < len(list(reference.glob("*.nii.gz")))


class Pipeline:
    """Runs the demo's commands with isolated nnU-Net folders under ``workdir``."""

    def __init__(self, workdir: Path, settings: DemoSettings):
        self.workdir = workdir
        self.s = settings
        self.device = settings.device
        if self.device == "auto":
            import torch

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.env = dict(os.environ)
        for var, sub in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"), ("nnUNet_results", "results")):
            (workdir / "nnunet" / sub).mkdir(parents=True, exist_ok=True)
            self.env[var] = str(workdir / "nnunet" / sub)
        from nnunet_uda.env import ext_trainer_path, trainers_folder

        self.env["nnUNet_extTrainer"] = ext_trainer_path([str(trainers_folder())])
        self.env.setdefault("nnUNet_n_proc_DA", "1" if self.device == "cpu" else "8")
        self.env["PYTHONUNBUFFERED"] = "1"
        self.preset = settings.preset
        self.log = workdir / "demo.log"

    @property
    def scoring_suffix(self) -> str:
        """``"_tta"`` with test-time mirroring, else ``""``: appended to the names of the
        prediction and evaluation folders and of the result files, so a resumed run never scores
        one kind as the other."""
        return "_tta" if self.s.test_time_mirroring else ""

    @property
    def predictions(self) -> Path:
        """Where predictions go: ``predictions/``, or ``predictions_tta/`` with test-time mirroring."""
        return self.workdir / f"predictions{self.scoring_suffix}"

    @property
    def train_env(self) -> dict:
        """The environment of ``nnUNetv2_train``: on a CPU, augmentation in the training process
        (``nnUNet_n_proc_DA=0``) unless the user set the variable. On 2 cores a worker process
        competes with the network's threads: epochs of ``nnUNetTrainer_quick`` on the demo's ceT1
        took 3.5-4.0 s with no worker vs 4.1-4.5 s with one (bf16; fp32 with one worker 5.7-6.1 s).
        Planning keeps one: nnU-Net's planner passes the variable to ``torch.set_num_threads``,
        which refuses 0."""
        env = dict(self.env)
        if self.device == "cpu" and "nnUNet_n_proc_DA" not in os.environ:
            env["nnUNet_n_proc_DA"] = "0"
        return env

    def run(self, tool: str, *args: str, env: dict | None = None) -> None:
        """Run an installed console script (with ``env``, default the pipeline's); its output goes to ``demo.log``."""
        exe = Path(sys.executable).parent / tool
        cmd = [str(exe if exe.exists() else tool), *map(str, args)]
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(cmd)}\n")
            log.flush()
            res = subprocess.run(cmd, env=env or self.env, stdout=log, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise InputError(f"step failed: {' '.join(cmd[:3])} ... (exit {res.returncode}); see {self.log}")

    @property
    def data(self) -> Path:
        """The CrossMoDA-style folder the demo runs on."""
        return Path(self.s.input) if self.s.input is not None else self.workdir / "crossmoda"

    @property
    def validation_labels(self) -> Path | None:
        """``target_validation_labels/`` of the data folder, if it has one (phantoms do)."""
        folder = self.data / TARGET_VALIDATION_LABELS
        return folder if folder.is_dir() else None

    def existing_dataset(self, dataset_id: int) -> Path | None:
        """The raw dataset folder of ``dataset_id``, or None before it is written."""
        from nnunet_uda.raw_dataset import existing_datasets_with_id

        return next(iter(existing_datasets_with_id(Path(self.env["nnUNet_raw"]), dataset_id)), None)

    def dataset_folder(self, dataset_id: int) -> Path:
        found = self.existing_dataset(dataset_id)
        if found is None:
            raise InputError(f"dataset {dataset_id} was not written; see {self.log}")
        return found

    def synth(self) -> None:
        if self.s.input is not None:
            require_dir(self.data, "input folder")
        elif not (self.data / "synth.json").exists():
            self.run("nnuda-synth", "-o", self.data, "--preset", self.preset, "--seed", self.s.seed,
                     "--n-source", self.s.n_source, "--n-target", self.s.n_target,
                     "--n-validation", self.s.n_validation)

    def prepare(self, dataset_id: int, make: list[str]) -> None:
        if self.existing_dataset(dataset_id) is None:
            self.run(*make)
        pre = Path(self.env["nnUNet_preprocessed"])
        if not list(pre.glob(f"Dataset{dataset_id:03d}_*/nnUNetPlans.json")):
            self.run("nnUNetv2_plan_and_preprocess", "-d", dataset_id, "-c", self.s.configuration, "-np", "1",
                     "--verify_dataset_integrity")

    def model_folder(self, dataset_id: int, trainer: str, fold: str | None = None) -> Path | None:
        """The trainer's output folder for ``fold`` (default: the settings'), or None before its first checkpoint."""
        results = Path(self.env["nnUNet_results"])
        pattern = f"Dataset{dataset_id:03d}_*/{trainer}__nnUNetPlans__{self.s.configuration}/fold_{fold or self.s.fold}"
        return next(iter(results.glob(pattern)), None)

    def train(self, dataset_id: int, trainer: str, fold: str | None = None) -> None:
        """Train ``fold``, continuing (``--c``) from the last checkpoint of an interrupted run."""
        fold = fold or self.s.fold
        model = self.model_folder(dataset_id, trainer, fold)
        if model is None or not (model / "checkpoint_final.pth").exists():
            resume = ["--c"] if model is not None and any(model.glob("checkpoint_*.pth")) else []
            self.run("nnUNetv2_train", dataset_id, self.s.configuration, fold, "-tr", trainer, "-device", self.device,
                     *resume, env=self.train_env)

    def start_from(self, dataset_id: int, trainer: str, source_trainer: str, checkpoint: str,
                   fold: str | None = None) -> None:
        """Give ``trainer`` another run's checkpoint as its latest, so ``train`` continues from it
        (``--c``): variants of PAST that differ only in the rounds share one stage 0."""
        fold = fold or self.s.fold
        if self.model_folder(dataset_id, trainer, fold) is not None:
            return
        source = self.model_folder(dataset_id, source_trainer, fold)
        if source is None or not (source / checkpoint).is_file():
            raise InputError(f"{source_trainer} has no {checkpoint} for dataset {dataset_id} fold {fold}")
        target = source.parent.parent / f"{trainer}__nnUNetPlans__{self.s.configuration}" / f"fold_{fold}"
        target.mkdir(parents=True)
        shutil.copyfile(source / checkpoint, target / "checkpoint_latest.pth")

    def predict(self, dataset_id: int, trainer: str, name: str, checkpoint: str = "checkpoint_final.pth",
                fold: str | None = None, images: Path | None = None, probabilities: bool = False) -> Path:
        """Segment ``images`` (default: the dataset's imagesTs, the hrT2 validation scans) with stock
        nnUNetv2_predict and the model trained on ``dataset_id``; skipped when every image has its prediction.
        The folder records the model (``PREDICTION_RECORD``), so a resumed run that would predict
        with another model (a changed trainer or checkpoint) stops instead of reusing its images.
        ``probabilities`` also keeps the softmax (``--save_probabilities``), for ``nnUNetv2_ensemble``."""
        from nnunet_uda.evaluate import PREDICTION_RECORD  # evaluate loads scipy: not at start-up

        pred = self.predictions / name
        images = images or self.dataset_folder(dataset_id) / "imagesTs"
        fold = fold or self.s.fold
        model = {"dataset": dataset_id, "configuration": self.s.configuration, "fold": str(fold),
                 "trainer": trainer, "checkpoint": checkpoint, "test_time_mirroring": self.s.test_time_mirroring}
        record = pred / PREDICTION_RECORD
        if record.is_file() and json.loads(record.read_text()) != model:
            raise InputError(f"{pred} holds predictions of another model ({record.read_text().strip()}); "
                             f"this run predicts with {json.dumps(model)}: move that folder away to predict again")
        if fewer_images(pred, images):
            self.run("nnUNetv2_predict", "-i", images, "-o", pred,
                     "-d", dataset_id, "-c", self.s.configuration, "-f", fold, "-tr", trainer,
                     "-chk", checkpoint, "-device", self.device, "-npp", "1", "-nps", "1",
                     *([] if self.s.test_time_mirroring else ["--disable_tta"]),
                     *(["--save_probabilities"] if probabilities else []))
            partial = record.with_suffix(".partial")
            partial.write_text(json.dumps(model) + "\n")
            partial.replace(record)
        return pred

    def ensemble(self, name: str, members: list[Path]) -> Path:
        """Stock ``nnUNetv2_ensemble`` of prediction folders saved with ``probabilities``: the mean
        of their softmax, then argmax, into ``predictions/<name>``; skipped when complete."""
        out = self.predictions / name
        if fewer_images(out, members[0]):
            self.run("nnUNetv2_ensemble", "-i", *members, "-o", out, "-np", "1")
        return out

    def translate_command(self, dataset_id: int = TRANSLATED_ID, work: str = "translation", extra: tuple = ()) -> list:
        """The ``nnuda-translate`` call of the recipe (ceT1 -> hrT2, nnuda-translate's label edits)."""
        crop = self.s.translation_crop_roi if self.s.translation_crop_roi is not None else self.s.input is not None
        size = self.s.translation_image_size or translation_image_size(
            sorted((self.data / TARGET_TRAINING).glob("*_hrT2.nii*")), crop, TRANSLATION_SIZE_LIMIT[self.device])
        return ["nnuda-translate", "--src", "ceT1", "--tgt", "hrT2", "-i", self.data, "-d", dataset_id,
                "-o", self.workdir / work, "--iterations", self.s.translation_iterations, "--image-size", size,
                "--channels", self.s.translation_channels, "--seed", self.s.seed, "--save-every", 250,
                "--sample-every", 500, "--device", self.device, *([] if crop else ["--no-crop"]),
                *(["--per-site"] if self.s.per_site else []), *extra]

    def evaluate(self, preds: dict[str, Path]) -> dict[str, dict]:
        """Score every prediction folder (and rank them) with nnuda-evaluate's function."""
        from nnunet_uda.evaluate import run_evaluation

        out = run_evaluation(list(preds.values()), self.validation_labels, self.workdir / f"evaluation{self.scoring_suffix}",
                             rank=len(preds) > 1, overlays=2, images=self.data / TARGET_VALIDATION, overwrite=True)
        return {
            name: json.loads(((out / pred.name) if len(preds) > 1 else out).joinpath("summary.json").read_text())
            for name, pred in preds.items()
        }


def format_table(summaries: dict[str, dict]) -> str:
    """A plain-text table of mean Dice and ASSD per structure for each method."""
    w = max([22, *map(len, summaries)])
    rows = [f"{'method':<{w}} VS Dice  cochlea Dice  VS ASSD  cochlea ASSD  mean Dice"]
    for name, s in summaries.items():
        st = s["structures"]
        rows.append(
            f"{name:<{w}} {st['VS']['dice']['mean']:7.3f}  {st['cochlea']['dice']['mean']:12.3f}  "
            f"{st['VS']['assd']['mean']:7.2f}  {st['cochlea']['assd']['mean']:12.2f}  {s['overall']['dice']['mean']:9.3f}"
        )
    return "\n".join(rows)


def epoch_times(p: Pipeline, runs: dict[str, tuple[int, str]], fold: str | None = None) -> str:
    """Median training epoch time of each run, from nnU-Net's own log, relative to the first.

    Rounds of self-training are included (their epochs have the same length); the time to
    pseudo-label lies between epochs and is not in them. A run without a log is left out.
    """
    import re
    import statistics

    times = {}
    for name, (dataset_id, trainer) in runs.items():
        folder = p.model_folder(dataset_id, trainer, fold)
        logs = sorted(folder.glob("training_log_*.txt")) if folder else []
        found = [float(t) for log in logs for t in re.findall(r"Epoch time: ([0-9.]+) s", log.read_text())]
        if found:
            times[name] = statistics.median(found)
    if not times:
        return ""
    ref = next(iter(times.values()))
    rows = ["trainer                median epoch (s)  ratio"]
    rows += [f"{name:<22} {t:16.2f}  {t / ref:5.2f}" for name, t in times.items()]
    return "\n".join(rows)


def demo(workdir: Path, settings: DemoSettings | None = None, overwrite: bool = False) -> str:
    """Run the pipeline in ``workdir`` and return the results table (also ``results.txt``).

    ``settings.oracle`` adds the upper bound (nnU-Net trained on labeled hrT2, which only
    phantom data has); ``benchmarks/uda_accuracy`` uses it with longer trainers.

    Raises:
        InputError: a step failed (the message names the log file), or the input folder
            lacks what a step needs.
    """
    settings = settings or DemoSettings()
    workdir = Path(workdir)
    if settings.input is not None:
        from nnunet_uda.cli_utils import check_not_inside

        check_not_inside(workdir, [Path(settings.input)])
    if overwrite and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    p = Pipeline(workdir, settings)
    if settings.oracle and settings.input is not None and not (p.data / TARGET_TRAINING_LABELS).is_dir():
        raise InputError(f"--oracle needs labeled target scans: {p.data / TARGET_TRAINING_LABELS} not found")
    t0 = time.time()
    preds: dict[str, Path] = {}

    base_tr, past_tr = settings.baseline_trainer, settings.past_trainer

    def baseline() -> None:
        p.train(BASELINE_ID, base_tr)
        preds["no adaptation"] = p.predict(BASELINE_ID, base_tr, "no_adaptation")

    def past() -> None:
        p.train(TRANSLATED_ID, past_tr)
        preds["translation only"] = p.predict(TRANSLATED_ID, past_tr, "translation_only", "checkpoint_stage0.pth")
        preds["translation + PAST"] = p.predict(TRANSLATED_ID, past_tr, "past")

    def oracle() -> None:
        p.prepare(ORACLE_ID, ["nnuda-convert", "-i", p.data, "-d", ORACLE_ID, "--modality", "hrT2"])
        p.train(ORACLE_ID, settings.oracle_trainer)
        preds["oracle (hrT2 labels)"] = p.predict(ORACLE_ID, settings.oracle_trainer, "oracle")

    steps = [
        ("generate phantom data" if settings.input is None else "check the input folder", p.synth),
        ("baseline: convert + plan", lambda: p.prepare(BASELINE_ID, ["nnuda-convert", "-i", p.data, "-d", BASELINE_ID])),
        ("baseline: train + predict", baseline),
        ("translate ceT1 -> hrT2 + plan", lambda: p.prepare(TRANSLATED_ID, p.translate_command())),
        ("PAST: train + predict", past),
    ] + ([("oracle: convert + train + predict", oracle)] if settings.oracle else [])
    from tqdm import tqdm

    step_minutes = []
    with tqdm(steps, desc="nnuda-demo", unit="step") as bar:
        for name, fn in bar:
            bar.set_postfix_str(name)
            started = time.time()
            fn()
            step_minutes.append(f"{name} {(time.time() - started) / 60:.1f}")
    minutes = (time.time() - t0) / 60
    source = f"nnuda-synth preset {p.preset}" if settings.input is None else f"input {p.data}"
    mirroring = "; test-time mirroring" if settings.test_time_mirroring else ""
    footer = (f"({source}; device: {p.device}{mirroring}; {minutes:.1f} min; work folder {workdir}; log {p.log})\n"
              f"minutes per step (this call; a resumed step counts only what was left): {'; '.join(step_minutes)}")
    if p.validation_labels is None:
        listing = "\n".join(f"{name:<22} {folder}" for name, folder in preds.items())
        text = f"no {TARGET_VALIDATION_LABELS}/ in {p.data}: predictions written, not scored\n{listing}\n\n{footer}"
    else:
        text = f"{format_table(p.evaluate(preds))}\n\n{footer}"
    (workdir / f"results{p.scoring_suffix}.txt").write_text(text + "\n")
    return text


def demo_entry() -> None:
    """``nnuda-demo [-i FOLDER] [-o WORKDIR] [--oracle] [--per-site] [--tta] [--overwrite]``"""
    parser = argparse.ArgumentParser(prog="nnuda-demo", description=__doc__.split("\n")[0])
    parser.add_argument("-i", "--input", type=Path, default=None,
                        help="a CrossMoDA-style folder to run on (default: generate phantom data)")
    parser.add_argument("-o", "--output", type=Path, default=Path("nnuda_demo"), help="work folder (default ./nnuda_demo)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("-c", "--configuration", default="2d", choices=["2d", "3d_fullres"],
                        help="nnU-Net configuration (default 2d: learns in the CPU budget)")
    parser.add_argument("--oracle", action="store_true", help="also train the oracle on labeled hrT2 (phantoms only)")
    parser.add_argument("--per-site", action="store_true",
                        help="one translator per target site (site token of the case name, else matrix size): "
                        "for hrT2 from protocols that look different; translation takes one run per site")
    parser.add_argument("--tta", action="store_true",
                        help="predict with nnU-Net's test-time mirroring (nnUNetv2_predict's default; slower, "
                        "usually a little better); predictions_tta/, results_tta.txt")
    parser.add_argument("--overwrite", action="store_true", help="delete the work folder and start again")
    args = parser.parse_args()
    settings = DemoSettings(input=args.input, device=args.device, oracle=args.oracle,
                            configuration=args.configuration, per_site=args.per_site, test_time_mirroring=args.tta)
    run_cli("nnuda-demo", lambda: print(demo(args.output, settings, args.overwrite)))
