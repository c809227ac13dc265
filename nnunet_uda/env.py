"""``nnuda-env``: the shell lines that let stock nnU-Net commands find our trainers.

nnunetv2 >= 2.7 searches the folders listed in ``nnUNet_extTrainer`` for trainer
classes it does not ship; the installed ``nnunet_uda.trainers`` package is that folder.
``eval "$(nnuda-env)"`` sets it; the three nnU-Net data paths are reported as comments.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

NNUNET_PATH_VARIABLES = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")


def trainers_folder() -> Path:
    """The folder of the installed ``nnunet_uda.trainers`` package (editable or wheel install)."""
    import nnunet_uda.trainers

    return Path(nnunet_uda.trainers.__file__).resolve().parent


def env_lines(environ: dict[str, str] | None = None) -> list[str]:
    """The export line for ``nnUNet_extTrainer`` plus one comment per nnU-Net path variable.

    An ``nnUNet_extTrainer`` that already lists other folders keeps them, after ours.
    """
    environ = dict(os.environ if environ is None else environ)
    ours = str(trainers_folder())
    others = [p for p in environ.get("nnUNet_extTrainer", "").split(os.pathsep) if p and p != ours]
    lines = [f"export nnUNet_extTrainer={shlex.quote(os.pathsep.join([ours, *others]))}"]
    for name in NNUNET_PATH_VARIABLES:
        value = environ.get(name)
        lines.append(f"# {name}={value}" if value else f"# {name} is not set: export {name}=/path/to/{name}")
    return lines


def env_entry() -> None:
    """``nnuda-env``: print the lines; use as ``eval "$(nnuda-env)"``."""
    argparse.ArgumentParser(
        prog="nnuda-env",
        description='Print the export line that lets nnUNetv2_train/predict find nnunet-uda trainers: eval "$(nnuda-env)"',
    ).parse_args()
    print("\n".join(env_lines()))
