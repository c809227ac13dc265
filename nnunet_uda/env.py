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


def ext_trainer_path(first: list[str], current: str | None = None) -> str:
    """An ``nnUNet_extTrainer`` value: the folders ``first``, then those already in ``current``
    (default: the environment's) that are not among them, in their order."""
    current = os.environ.get("nnUNet_extTrainer", "") if current is None else current
    others = [p for p in current.split(os.pathsep) if p and p not in first]
    return os.pathsep.join([*first, *others])


def env_lines(environ: dict[str, str] | None = None) -> list[str]:
    """The export line for ``nnUNet_extTrainer`` plus one comment per nnU-Net path variable.

    An ``nnUNet_extTrainer`` that already lists other folders keeps them, after ours.
    """
    environ = dict(os.environ if environ is None else environ)
    value = ext_trainer_path([str(trainers_folder())], environ.get("nnUNet_extTrainer", ""))
    lines = [f"export nnUNet_extTrainer={shlex.quote(value)}"]
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
