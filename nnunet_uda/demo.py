"""``nnuda-demo``: the whole pipeline on generated data, ending in a results table.

Steps (each a real command, run in a subprocess with nnU-Net's three folders set to
sub-folders of the work folder, so the user's own nnU-Net data is never touched):

1. ``nnuda-synth``: a CrossMoDA-style phantom folder (``small`` on a GPU, ``tiny`` on a CPU);
2. no adaptation: ``nnuda-convert --modality ceT1`` -> plan/preprocess -> train
   ``nnUNetTrainer_demo`` -> predict the hrT2 validation scans;
3. translation: ``nnuda-translate`` (short, narrow CycleGAN on 48x48 slices) ->
   plan/preprocess -> train ``nnUNetTrainerPAST_demo``; its stage-0 checkpoint is the
   "translation only" model (PAST's S_0 is plain supervised training on the translated
   images), its final checkpoint the PAST model -> predict with both;
4. ``nnuda-evaluate`` of every prediction folder against the validation labels, and a
   table of Dice / ASSD per structure.

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

from nnunet_uda.cli_utils import run_cli
from nnunet_uda.errors import InputError

BASELINE_ID, TRANSLATED_ID, ORACLE_ID = 990, 991, 992


@dataclass
class DemoSettings:
    """Sizes of the demo.

    ``preset=None`` picks ``small`` on a GPU and ``tiny`` on a CPU: nnU-Net plans a
    32x80x80 patch for ``small`` volumes, which costs several seconds per iteration on a
    2-core CPU (measured), too slow for a demo of about 15 minutes.

    ``configuration``: nnU-Net's ``2d`` by default. On a 2-core CPU a ``3d_fullres``
    iteration on tiny phantoms costs 0.36 s with the demo's narrow network and 400 of them
    did not learn the tumour; ``2d`` runs 800 iterations in 150 s and reaches a tumour Dice
    of about 0.8 on held-out ceT1 cases (measured). ``3d_fullres`` is the papers' setting.
    """

    preset: str | None = None
    configuration: str = "2d"
    seed: int = 0
    n_source: int = 10
    n_target: int = 10
    n_validation: int = 4
    translation_iterations: int = 600
    translation_image_size: int = 48
    translation_channels: int = 16
    preserve_structures: bool = True
    baseline_trainer: str = "nnUNetTrainer_demo"
    past_trainer: str = "nnUNetTrainerPAST_demo"
    oracle: bool = False
    device: str = "auto"


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
        self.preset = settings.preset or ("small" if self.device == "cuda" else "tiny")
        self.log = workdir / "demo.log"

    def run(self, tool: str, *args: str) -> None:
        """Run an installed console script; its output goes to ``demo.log``."""
        exe = Path(sys.executable).parent / tool
        cmd = [str(exe if exe.exists() else tool), *map(str, args)]
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(cmd)}\n")
            log.flush()
            res = subprocess.run(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise InputError(f"step failed: {' '.join(cmd[:3])} ... (exit {res.returncode}); see {self.log}")

    @property
    def data(self) -> Path:
        return self.workdir / "crossmoda"

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
        if not (self.data / "synth.json").exists():
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

    def model_folder(self, dataset_id: int, trainer: str, fold: str = "0") -> Path | None:
        """The trainer's output folder for ``fold``, or None before its first checkpoint."""
        results = Path(self.env["nnUNet_results"])
        pattern = f"Dataset{dataset_id:03d}_*/{trainer}__nnUNetPlans__{self.s.configuration}/fold_{fold}"
        return next(iter(results.glob(pattern)), None)

    def train(self, dataset_id: int, trainer: str, fold: str = "0") -> None:
        """Train ``fold``, continuing (``--c``) from the last checkpoint of an interrupted run."""
        model = self.model_folder(dataset_id, trainer, fold)
        if model is None or not (model / "checkpoint_final.pth").exists():
            resume = ["--c"] if model is not None and any(model.glob("checkpoint_*.pth")) else []
            self.run("nnUNetv2_train", dataset_id, self.s.configuration, fold, "-tr", trainer, "-device", self.device,
                     *resume)

    def start_from(self, dataset_id: int, trainer: str, source_trainer: str, checkpoint: str,
                   fold: str = "0") -> None:
        """Give ``trainer`` another run's checkpoint as its latest, so ``train`` continues from it
        (``--c``): variants of PAST that differ only in the rounds share one stage 0."""
        if self.model_folder(dataset_id, trainer, fold) is not None:
            return
        source = self.model_folder(dataset_id, source_trainer, fold)
        if source is None or not (source / checkpoint).is_file():
            raise InputError(f"{source_trainer} has no {checkpoint} for dataset {dataset_id} fold {fold}")
        target = source.parent.parent / f"{trainer}__nnUNetPlans__{self.s.configuration}" / f"fold_{fold}"
        target.mkdir(parents=True)
        shutil.copyfile(source / checkpoint, target / "checkpoint_latest.pth")

    def predict(self, dataset_id: int, trainer: str, name: str, checkpoint: str = "checkpoint_final.pth",
                fold: str = "0", images: Path | None = None) -> Path:
        """Segment ``images`` (default: the dataset's imagesTs, the hrT2 validation scans) with stock
        nnUNetv2_predict and the model trained on ``dataset_id``; skipped when every image has its prediction."""
        pred = self.workdir / "predictions" / name
        images = images or self.dataset_folder(dataset_id) / "imagesTs"
        if len(list(pred.glob("*.nii.gz"))) < len(list(images.glob("*.nii.gz"))):
            self.run("nnUNetv2_predict", "-i", images, "-o", pred,
                     "-d", dataset_id, "-c", self.s.configuration, "-f", fold, "-tr", trainer, "-chk", checkpoint,
                     "-device", self.device, "--disable_tta", "-npp", "1", "-nps", "1")
        return pred

    def evaluate(self, preds: dict[str, Path]) -> dict[str, dict]:
        """Score every prediction folder (and rank them) with nnuda-evaluate's function."""
        from nnunet_uda.evaluate import run_evaluation

        out = run_evaluation(list(preds.values()), self.data / "target_validation_labels", self.workdir / "evaluation",
                             rank=len(preds) > 1, overlays=2, images=self.data / "target_validation", overwrite=True)
        return {
            name: json.loads(((out / pred.name) if len(preds) > 1 else out).joinpath("summary.json").read_text())
            for name, pred in preds.items()
        }


def format_table(summaries: dict[str, dict]) -> str:
    """A plain-text table of mean Dice and ASSD per structure for each method."""
    rows = ["method                 VS Dice  cochlea Dice  VS ASSD  cochlea ASSD  mean Dice"]
    for name, s in summaries.items():
        st = s["structures"]
        rows.append(
            f"{name:<22} {st['VS']['dice']['mean']:7.3f}  {st['cochlea']['dice']['mean']:12.3f}  "
            f"{st['VS']['assd']['mean']:7.2f}  {st['cochlea']['assd']['mean']:12.2f}  {s['overall']['dice']['mean']:9.3f}"
        )
    return "\n".join(rows)


def epoch_times(p: Pipeline, runs: dict[str, tuple[int, str]], fold: str = "0") -> str:
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

    ``settings.oracle`` adds the upper bound (nnU-Net trained on labeled hrT2, which
    only phantom data has); ``benchmarks/uda_accuracy`` uses it with longer trainers.

    Raises:
        InputError: a step failed (the message names the log file).
    """
    settings = settings or DemoSettings()
    workdir = Path(workdir)
    if overwrite and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    p = Pipeline(workdir, settings)
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
        p.train(ORACLE_ID, base_tr)
        preds["oracle (hrT2 labels)"] = p.predict(ORACLE_ID, base_tr, "oracle")

    # --no-crop: tiny and small phantoms image only the region around the internal auditory
    # canals, which already is PAST's ROI; cropping again would keep a quarter of it.
    translate = ["nnuda-translate", "--src", "ceT1", "--tgt", "hrT2", "-i", p.data, "-d", TRANSLATED_ID,
                 "-o", workdir / "translation", "--iterations", settings.translation_iterations,
                 "--image-size", settings.translation_image_size, "--channels", settings.translation_channels,
                 "--save-every", 100, "--sample-every", 100, "--no-crop",
                 "--device", p.device] + (["--preserve-structures"] if settings.preserve_structures else [])
    steps = [
        ("generate phantom data", p.synth),
        ("baseline: convert + plan", lambda: p.prepare(BASELINE_ID, ["nnuda-convert", "-i", p.data, "-d", BASELINE_ID])),
        ("baseline: train + predict", baseline),
        ("translate ceT1 -> hrT2 + plan", lambda: p.prepare(TRANSLATED_ID, translate)),
        ("PAST: train + predict", past),
    ] + ([("oracle: convert + train + predict", oracle)] if settings.oracle else [])
    from tqdm import tqdm

    with tqdm(steps, desc="nnuda-demo", unit="step") as bar:
        for name, fn in bar:
            bar.set_postfix_str(name)
            fn()
    table = format_table(p.evaluate(preds))
    minutes = (time.time() - t0) / 60
    text = (f"{table}\n\n(nnuda-synth preset {p.preset}; device: {p.device}; {minutes:.1f} min; "
            f"work folder {workdir}; log {p.log})")
    (workdir / "results.txt").write_text(text + "\n")
    return text


def demo_entry() -> None:
    """``nnuda-demo [-o WORKDIR] [--overwrite]``"""
    parser = argparse.ArgumentParser(prog="nnuda-demo", description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("nnuda_demo"), help="work folder (default ./nnuda_demo)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("-c", "--configuration", default="2d", choices=["2d", "3d_fullres"],
                        help="nnU-Net configuration (default 2d: learns in the CPU budget)")
    parser.add_argument("--oracle", action="store_true", help="also train the oracle on labeled hrT2")
    parser.add_argument("--overwrite", action="store_true", help="delete the work folder and start again")
    args = parser.parse_args()
    settings = DemoSettings(device=args.device, oracle=args.oracle, configuration=args.configuration)
    run_cli("nnuda-demo", lambda: print(demo(args.output, settings, args.overwrite)))
