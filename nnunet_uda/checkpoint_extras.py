"""State a trainer adds to nnU-Net's checkpoint file (e.g. a discriminator and its optimizer).

nnU-Net's ``save_checkpoint`` builds and writes its dictionary in one go; a trainer calls
it, then :func:`add_to_checkpoint` adds one more key to the file written, so nnU-Net's own
keys stay exactly nnU-Net's and stock ``nnUNetv2_predict`` ignores the addition.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import torch


def add_to_checkpoint(filename: str | os.PathLike, key: str, state: dict) -> None:
    """Add ``state`` under ``key`` to an existing checkpoint file, atomically (temporary file + rename).

    Raises:
        FileNotFoundError: no checkpoint at ``filename``.
    """
    path = Path(filename)
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    checkpoint[key] = state
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_from_checkpoint(filename: str | os.PathLike | dict, key: str, map_location=None) -> dict:
    """The state stored under ``key`` by :func:`add_to_checkpoint` (in a file, or a checkpoint
    already loaded, as nnU-Net's ``load_checkpoint`` accepts either).

    Raises:
        KeyError: the checkpoint has no ``key`` (written by another trainer), with the file named.
    """
    checkpoint = filename if isinstance(filename, dict) else torch.load(filename, map_location=map_location,
                                                                        weights_only=False)
    if key not in checkpoint:
        where = "the checkpoint" if isinstance(filename, dict) else filename
        raise KeyError(f"{where} has no '{key}': it was not written by this trainer "
                       f"(trainer_name {checkpoint.get('trainer_name')!r})")
    return checkpoint[key]
