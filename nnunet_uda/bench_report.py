"""What every benchmark's ``results.md`` says besides its table: the machine and the command."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from importlib.metadata import version
from pathlib import Path


def machine() -> str:
    """The GPU, or the CPU model and core count, with the torch and nnunetv2 versions."""
    import torch

    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        device = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                device = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        device = f"{device}, {os.cpu_count()} cores, no GPU"
    return f"{device}; torch {torch.__version__}, nnunetv2 {version('nnunetv2')}"


def write_report(path: Path, title: str, settings: str, note: str, table: str, script: str) -> str:
    """Write ``results.md`` (title, machine, settings, note, table, the command that made it); return its text."""
    text = (f"# {title}\n\nMachine: {machine()}.\n\nSettings: {settings}\n\n{note}\n\n```\n{table}\n```\n\n"
            f"Command: `python {script} {shlex.join(sys.argv[1:])}`\n")
    Path(path).write_text(text)
    return text
