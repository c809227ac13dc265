"""UDA accuracy on nnuda-synth data: no adaptation vs translation only vs PAST vs oracle.

Runs the ``nnuda-demo`` pipeline (real commands: nnuda-synth, nnuda-convert,
nnuda-translate, nnUNetv2_plan_and_preprocess / _train / _predict, nnuda-evaluate) with the
oracle added, and writes ``results.md`` beside this script: Dice and ASSD per structure
on the hrT2 validation scans, the machine, the settings and the command.

CPU scale (the defaults, minutes)::

    python benchmarks/uda_accuracy/run.py -o /tmp/uda_accuracy

GPU scale: ``--preset full --baseline-trainer nnUNetTrainer --past-trainer nnUNetTrainerPAST``
and more translation iterations.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
from pathlib import Path

import torch

from nnunet_uda.demo import DemoSettings, demo


def machine() -> str:
    """One line naming the device the run used."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}; torch {torch.__version__}"
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads); torch {torch.__version__}"


def main() -> None:
    d = DemoSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="work folder (resumes if it exists)")
    parser.add_argument("--preset", default=d.preset)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--n-source", type=int, default=d.n_source)
    parser.add_argument("--n-target", type=int, default=d.n_target)
    parser.add_argument("--n-validation", type=int, default=d.n_validation)
    parser.add_argument("--translation-iterations", type=int, default=d.translation_iterations)
    parser.add_argument("--translation-image-size", type=int, default=d.translation_image_size)
    parser.add_argument("--translation-channels", type=int, default=d.translation_channels)
    parser.add_argument("--baseline-trainer", default=d.baseline_trainer)
    parser.add_argument("--past-trainer", default=d.past_trainer)
    parser.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    settings = DemoSettings(
        preset=args.preset, seed=args.seed, n_source=args.n_source, n_target=args.n_target,
        n_validation=args.n_validation, translation_iterations=args.translation_iterations,
        translation_image_size=args.translation_image_size, translation_channels=args.translation_channels,
        baseline_trainer=args.baseline_trainer, past_trainer=args.past_trainer, oracle=True, device=args.device,
    )
    table = demo(args.output, settings)
    text = (
        "# UDA accuracy on nnuda-synth data (hrT2 validation scans)\n\n"
        f"Machine: {machine()}.\n\nSettings: {settings}\n\n"
        "Mean over validation cases; Dice (higher is better), ASSD in mm (lower is better; 350 mm for an "
        "empty prediction, as the challenge scores it).\n\n```\n" + table + "\n```\n\n"
        f"Command: `python benchmarks/uda_accuracy/run.py {shlex.join(sys.argv[1:])}`\n"
    )
    args.results.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
