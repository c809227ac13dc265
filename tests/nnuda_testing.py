"""Helpers for tests that run installed commands (``nnuda-*``, ``nnUNetv2_*``) in subprocesses.

A module of its own (not conftest.py): test folders have conftest files of their own, and
``from conftest import ...`` would pick whichever was imported first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def nnunet_env(root: Path) -> dict[str, str]:
    """Environment for nnU-Net subprocesses with its three folders under ``root``."""
    env = dict(os.environ)
    for var, sub in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"), ("nnUNet_results", "results")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / sub)
    env.setdefault("nnUNet_n_proc_DA", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_tool(name: str, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 900):
    """Run an installed console script (``nnuda-*``, ``nnUNetv2_*``) and return the result."""
    exe = BIN / name
    assert exe.exists(), f"console script {name} is not installed in {BIN}"
    res = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res
